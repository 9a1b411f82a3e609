using System.Text;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>A server started from a TOML file written the later way (<c>protocol = …</c>, <c>topic = …</c>) in a temp folder.</summary>
internal static class LaterHost
{
    /// <summary>Items (seeded from CSV), a transaction, a query, a subpub and reqrep services of every reply form.</summary>
    public const string Config = """
        name = "shop"
        version = "1.4.2"
        db_path = "later.db"

        [tables.items]
        columns = { id = "TEXT PRIMARY KEY", name = "TEXT NOT NULL", price = "REAL", qty = "INTEGER DEFAULT 0" }
        seed = "items.csv"

        [services.add_item]
        protocol = "transaction"
        table = "items"
        op_type = "insert"
        fields = ["id", "name", "price", "qty"]

        [services.items]
        protocol = "query"
        primary_table = "items"

        [services.prices]
        protocol = "subpub"
        primary_table = "items"
        topic = "id"

        [services.price]
        protocol = "reqrep"
        description = "Price of one item"
        sql = "SELECT price FROM items WHERE id = :id"
        params = { id = "upper(item)" }
        reply = "price * 2"

        [services.list]
        protocol = "reqrep"
        sql = "SELECT id, qty FROM items WHERE qty >= :min ORDER BY id"

        [services.priced]
        protocol = "reqrep"
        sql = "SELECT id, price FROM items ORDER BY id"
        reply = { item = "id", gross = "price * 1.5" }

        [services.tax]
        protocol = "reqrep"
        reply = "amount * 0.2"

        [services.echo]
        protocol = "reqrep"
        reply = { who = "name", twice = "n * 2" }

        [services.spin]
        protocol = "reqrep"
        sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) AS m FROM c"

        [services.wipe]
        protocol = "reqrep"
        sql = "DELETE FROM items"
        """;

    public const string Csv = "id,name,price,qty\nA1,apple,1.5,10\nB2,\"bread, brown\",2.25,3\nC3,cheese,7,0\n";

    /// <summary>Writes the config (and the seed) into a new temp folder and starts a server from it.</summary>
    public static async Task<(MkioTestHost Host, TempDirectory Dir)> StartAsync(CancellationToken ct, string? config = null, Action<MkioOptions>? configure = null, TempDirectory? dir = null, Action<Microsoft.AspNetCore.Builder.WebApplicationBuilder>? builder = null)
    {
        var owns = dir is null;
        dir ??= new TempDirectory();
        var toml = dir.File("server.toml");
        await File.WriteAllTextAsync(toml, config ?? Config, Encoding.UTF8, ct);
        if (!File.Exists(dir.File("items.csv")))
        {
            await File.WriteAllTextAsync(dir.File("items.csv"), Csv, Encoding.UTF8, ct);
        }

        try
        {
            var host = await MkioTestHost.StartAsync(o => configure?.Invoke(o), ct, dir, builder: builder, tomlPath: toml);
            return (host, dir);
        }
        catch when (owns)
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>Sends one frame and returns the next frame's exact text.</summary>
    public static async Task<string> AskAsync(this TestSocket ws, string json, CancellationToken ct)
    {
        await ws.SendAsync(json, cancellationToken: ct);
        return (await ws.ReceiveRawAsync(ct)).Text;
    }

    /// <summary>Sends a transaction and asserts its <c>result</c>.</summary>
    public static async Task WriteAsync(this TestSocket ws, string json, CancellationToken ct)
    {
        var reply = await ws.RequestAsync(json, ct);
        Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
    }

    /// <summary>Asserts that nothing more arrives on <paramref name="ws"/> for a short while.</summary>
    public static async Task SilentAsync(this TestSocket ws, CancellationToken ct) =>
        Assert.That(await ws.NoMessageWithinAsync(TimeSpan.FromMilliseconds(300), ct), Is.True, "no further message expected");
}
