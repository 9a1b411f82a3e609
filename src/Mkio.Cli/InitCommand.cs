using System.CommandLine;

namespace Mkio.Cli;

/// <summary><c>mkio init [dir] [--no-static]</c>: writes a starter <c>server.toml</c> (and <c>static/index.html</c>); never overwrites a file.</summary>
internal static class InitCommand
{
    internal const string Config = """
        # mkio server: a table, a service to write it, a live query over it and a reqrep service.
        name = "my-app"
        version = "0.1.0"
        port = 8080
        db_path = "app.db"

        [tables.notes]
        columns = { id = "TEXT PRIMARY KEY", text = "TEXT NOT NULL", done = "INTEGER DEFAULT 0" }

        [services.save_note]
        protocol = "transaction"
        description = "Add or replace a note"
        table = "notes"
        op_type = "upsert"
        fields = ["id", "text", "done"]
        key = ["id"]

        [services.notes]
        protocol = "query"
        description = "Every note, live"
        primary_table = "notes"

        [services.open_count]
        protocol = "reqrep"
        description = "How many notes are not done"
        sql = "SELECT count(*) AS n FROM notes WHERE done = 0"
        reply = "n"

        """;

    internal const string Static = """

        [static]
        "/" = "static"

        """;

    internal const string Index = """
        <!doctype html>
        <html>
        <head><meta charset="utf-8"><title>mkio</title></head>
        <body>
        <h1>Notes</h1>
        <ul id="notes"></ul>
        <script src="/mkio.js"></script>
        <script>
          const client = new MkioClient((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
          const list = document.getElementById("notes");
          const notes = new Map();
          const render = () => list.replaceChildren(...[...notes.values()].map(n => Object.assign(document.createElement("li"), { textContent: n.text })));
          client.subscribe("notes", {
            onSnapshot: rows => { notes.clear(); rows.forEach(r => notes.set(r.id, r)); render(); },
            onUpdate: (op, row) => { if (op === "delete") notes.delete(row.id); else notes.set(row.id, row); render(); },
          });
          client.connect().catch(() => { /* the client retries */ });
        </script>
        </body>
        </html>

        """;

    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "Where to write (default: the current directory).", DefaultValueFactory = _ => "." };
        var noStatic = new Option<bool>("--no-static") { Description = "Do not write static/index.html." };
        var command = new Command("init", "Write a starter server.toml (and static/index.html) without overwriting anything.") { dir, noStatic };
        command.SetAction(parse => Run(parse.GetValue(dir) ?? ".", parse.GetValue(noStatic)));
        return command;
    }

    public static int Run(string dir, bool noStatic)
    {
        var @out = CliConsole.Out;
        try
        {
            Directory.CreateDirectory(dir);
            Write(Path.Combine(dir, "server.toml"), noStatic ? Config : Config + Static);
            if (!noStatic)
            {
                Directory.CreateDirectory(Path.Combine(dir, "static"));
                Write(Path.Combine(dir, "static", "index.html"), Index);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            @out.WriteLine($"Error: {ex.Message}");
            return 1;
        }

        @out.WriteLine($"Start it with: mkio serve {Path.Combine(dir, "server.toml")}");
        return 0;
    }

    private static void Write(string path, string text)
    {
        if (File.Exists(path))
        {
            CliConsole.Out.WriteLine($"Skipped {path} (already exists)");
            return;
        }

        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
        CliConsole.Out.WriteLine($"Created {path}");
    }
}
