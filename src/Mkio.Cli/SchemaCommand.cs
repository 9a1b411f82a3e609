using System.CommandLine;
using System.Text;
using System.Text.Json;

namespace Mkio.Cli;

/// <summary><c>mkio schema &lt;url&gt; &lt;table&gt;</c>: a table's live columns from the <c>_mkio</c> service.</summary>
internal static class SchemaCommand
{
    public const string Usage = "Usage: mkio schema <url> <table>";

    public static Command Create() => LaterRequest.Command(
        "schema",
        "Show a table's columns, primary key, NOT NULL and defaults.",
        "mkio schema <url> <table> [--verbose]",
        [
            ("<url>", "The server: a port (8080), host:port or http://host:port."),
            ("<table>", "A configured table."),
        ],
        RunAsync);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var @out = CliConsole.Out;
        if (args.Length != 2)
        {
            await @out.WriteLineAsync(Usage).ConfigureAwait(false);
            await @out.WriteLineAsync("  mkio schema http://localhost:8080 orders").ConfigureAwait(false);
            return 1;
        }

        var data = Mkio.Protocol.WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("table");
            Mkio.Protocol.WireJson.WriteString(w, args[1]);
            w.WriteEndObject();
        });
        using var answer = await LaterRequest.SendAsync(args[0], "_mkio", data, ct).ConfigureAwait(false);
        if (answer is null || await LaterRequest.PrintErrorAsync(answer.RootElement).ConfigureAwait(false))
        {
            return 1;
        }

        await @out.WriteAsync(Format(answer.RootElement.GetProperty("row"))).ConfigureAwait(false);
        return 0;
    }

    /// <summary><c>Table: t</c>, then one line per column: name, type and its PRIMARY KEY / NOT NULL / DEFAULT notes, in aligned columns.</summary>
    internal static string Format(JsonElement row)
    {
        var columns = row.GetProperty("columns").EnumerateArray().Select(c =>
        {
            var notes = new List<string>();
            if (c.GetProperty("pk").GetBoolean())
            {
                notes.Add("PRIMARY KEY");
            }

            if (c.GetProperty("notnull").GetBoolean())
            {
                notes.Add("NOT NULL");
            }

            if (c.GetProperty("dflt_value") is { ValueKind: JsonValueKind.String } d)
            {
                notes.Add("DEFAULT " + d.GetString());
            }

            return (Name: c.GetProperty("name").GetString() ?? string.Empty, Type: c.GetProperty("type").GetString() ?? string.Empty, Notes: string.Join(", ", notes));
        }).ToList();
        var nameWidth = columns.Select(c => c.Name.Length).DefaultIfEmpty(0).Max() + 2;
        var typeWidth = columns.Select(c => c.Type.Length).DefaultIfEmpty(0).Max() + 2;
        var sb = new StringBuilder().Append("Table: ").Append(row.GetProperty("table").GetString()).Append('\n');
        foreach (var (name, type, notes) in columns)
        {
            sb.Append("  ").Append(name.PadRight(nameWidth)).Append(notes.Length > 0 ? type.PadRight(typeWidth) + notes : type).Append('\n');
        }

        return sb.ToString();
    }
}
