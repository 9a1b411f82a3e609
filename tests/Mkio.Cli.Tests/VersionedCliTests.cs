using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// Versioned tables as real processes: a kill -9 with writes in flight (history and data agree after restart),
/// <c>mkio archive</c> / <c>mkio restore</c> round trip, <c>mkio dbupdate --keep-redo / --drop-history</c>.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed partial class VersionedCliTests
{
    private const string Config = """
        host = "127.0.0.1"
        db_path = "v.db"
        batch_max_wait_ms = 1.0

        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", qty = "INTEGER NOT NULL", note = "TEXT" }
        versioned = true
        unversioned = ["note"]

        [services.tx]
        type = "transaction"

        [services.tx.ops]
        set = [{ table = "orders", op_type = "upsert", key = ["id"], fields = ["qty"] }]
        undo = [{ table = "orders", op_type = "undo", key = ["id"] }]
        """;

    [GeneratedRegex(@"^======== Running on http://127\.0\.0\.1:(\d+) ========$")]
    private static partial Regex RunningLine();

    private static async Task<(MkioProcess Process, TestSocket Socket)> ServeAsync(TempDirectory dir, CancellationToken ct)
    {
        var p = MkioProcess.Start(dir.Path, "serve", "cfg.toml", "--port", "0");
        var m = await p.WaitForStdoutAsync(RunningLine(), ct);
        var ws = await TestSocket.ConnectAsync(new Uri($"ws://127.0.0.1:{m.Groups[1].Value}/ws"), ct);
        return (p, ws);
    }

    private static async Task<int> RunAsync(TempDirectory dir, CancellationToken ct, List<string>? output, params string[] args)
    {
        await using var p = MkioProcess.Start(dir.Path, args);
        var code = await p.WaitForExitAsync(ct);
        output?.AddRange(p.Output.Split('\n'));
        return code;
    }

    private static async Task OkAsync(TestSocket ws, string op, string @ref, string data, CancellationToken ct)
    {
        var reply = await ws.RequestAsync($$"""{"service":"tx","op":"{{op}}","ref":"{{@ref}}","data":{{data}}}""", ct);
        Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
    }

    private static List<string> Query(TempDirectory dir, string sql)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dir.File("v.db"), Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<string>();
        while (r.Read())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "NULL" : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    private const string HistoryDump = "SELECT id, _mkio_version, _mkio_op, _mkio_ref, _mkio_user, _mkio_service, qty FROM orders__history ORDER BY id, _mkio_version";

    [Test, CancelAfter(180_000)]
    public async Task KillNine_WithWritesInFlight_HistoryAndDataAgreeAfterRestart(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("cfg.toml"), Config);
        var (server, ws) = await ServeAsync(dir, ct);
        var acknowledged = new List<string>();
        await using (server)
        await using (ws)
        {
            // 400 pipelined upserts over 5 keys; the process dies after the first 50 answers, with the rest in flight.
            for (var i = 0; i < 400; i++)
            {
                await ws.SendAsync($$$"""{"service":"tx","op":"set","ref":"k{{{i:D4}}}","data":{"id":"{{{i % 5}}}","qty":{{{i}}}}}""", cancellationToken: ct);
            }

            for (var i = 0; i < 50; i++)
            {
                var reply = await ws.ReceiveAsync(ct);
                Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True, reply.GetRawText());
                acknowledged.Add(reply.GetProperty("ref").GetString()!);
            }

            await server.KillAsync(ct);
        }

        // Every acknowledged write is in the history; per key, versions are 1..cursor and the row equals its cursor's version.
        var refs = Query(dir, "SELECT _mkio_ref FROM orders__history").ToHashSet();
        Assert.That(acknowledged, Is.SubsetOf(refs));
        var disagreements = Query(dir,
            "SELECT b.id FROM orders AS b WHERE NOT EXISTS (SELECT 1 FROM orders__history AS h WHERE h.id = b.id AND h._mkio_version = b._mkio_version AND h.qty = b.qty AND h._mkio_ref = b._mkio_ref) " +
            "OR (SELECT COUNT(*) FROM orders__history AS h WHERE h.id = b.id) <> b._mkio_version " +
            "OR (SELECT MAX(_mkio_version) FROM orders__history AS h WHERE h.id = b.id) <> b._mkio_version");
        Assert.That(disagreements, Is.Empty);
        Assert.That(Query(dir, "SELECT COUNT(*) FROM orders"), Is.EqualTo(new[] { "5" }));

        // And the restarted server goes on from there.
        var (again, ws2) = await ServeAsync(dir, ct);
        await using (again)
        await using (ws2)
        {
            await OkAsync(ws2, "set", "z1", """{"id":"0","qty":-1}""", ct);
            await again.TerminateAsync(ct);
        }

        Assert.That(Query(dir, "SELECT qty, _mkio_version = (SELECT MAX(_mkio_version) FROM orders__history WHERE id = '0') FROM orders WHERE id = '0'"), Is.EqualTo(new[] { "-1|1" }));
    }

    /// <summary>Key a: versions r01, r02, r03, r04; key b: r05, r06 then undone to v1 (v2 is redo state).</summary>
    private static async Task BuildHistoryAsync(TempDirectory dir, CancellationToken ct)
    {
        File.WriteAllText(dir.File("cfg.toml"), Config);
        var (server, ws) = await ServeAsync(dir, ct);
        await using (server)
        await using (ws)
        {
            await OkAsync(ws, "set", "r01", """{"id":"a","qty":1}""", ct);
            await OkAsync(ws, "set", "r02", """{"id":"a","qty":2}""", ct);
            await OkAsync(ws, "set", "r03", """{"id":"a","qty":3}""", ct);
            await OkAsync(ws, "set", "r04", """{"id":"a","qty":4}""", ct);
            await OkAsync(ws, "set", "r05", """{"id":"b","qty":10}""", ct);
            await OkAsync(ws, "set", "r06", """{"id":"b","qty":20}""", ct);
            await OkAsync(ws, "undo", "r07", """{"id":"b"}""", ct);
            await server.TerminateAsync(ct);
        }
    }

    [Test, CancelAfter(180_000)]
    public async Task Archive_DeletesExactlyTheArchivedRows_RestoreRoundTrips(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await BuildHistoryAsync(dir, ct);
        var before = Query(dir, HistoryDump);
        Assert.That(before, Has.Count.EqualTo(6));

        var output = new List<string>();
        var code = await RunAsync(dir, ct, output, "archive", "cfg.toml", "--older-than", "r06", "--table", "orders", "--out", "arch", "--delete", "--yes");
        Assert.That(code, Is.Zero, string.Join('\n', output));

        // Before r06 and below each live cursor: a v1–v3 (a's cursor is 4); b's v1 is its cursor, so it stays.
        var files = Directory.GetFiles(dir.File("arch"));
        Assert.That(files.Select(Path.GetFileName), Is.EqualTo(new[] { "orders__history_r01_r03.csv" }));
        var lines = File.ReadAllLines(files[0]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(lines[0], Is.EqualTo("_mkio_version,_mkio_op,_mkio_ref,_mkio_user,_mkio_service,id,qty"));
            Assert.That(lines.Skip(1), Is.EqualTo(new[] { "1,insert,r01,\\N,tx,a,1", "2,update,r02,\\N,tx,a,2", "3,update,r03,\\N,tx,a,3" }));
            Assert.That(Query(dir, HistoryDump), Is.EqualTo(before.Skip(3)));
            Assert.That(output, Has.Some.Contains("deleted 3 archived rows"));
        }

        code = await RunAsync(dir, ct, output, "restore", "cfg.toml", "arch");
        Assert.That(code, Is.Zero, string.Join('\n', output));
        Assert.That(Query(dir, HistoryDump), Is.EqualTo(before), "restore puts back exactly what was archived");

        var again = new List<string>();
        Assert.That(await RunAsync(dir, ct, again, "restore", "cfg.toml", "arch"), Is.EqualTo(1));
        Assert.That(again, Has.Some.Contains("orders__history already holds version 1 of key a; nothing was restored."));
        Assert.That(Query(dir, HistoryDump), Is.EqualTo(before));

        var unversioned = new List<string>();
        Assert.That(await RunAsync(dir, ct, unversioned, "archive", "cfg.toml", "--older-than", "1d", "--table", "nope"), Is.EqualTo(1));
        Assert.That(unversioned, Has.Some.EqualTo("Error: table 'nope' is not versioned. Versioned tables: orders"));
    }

    [Test, CancelAfter(180_000)]
    public async Task DbUpdate_DiscardsRedoUnlessKeepRedo_DropHistoryDropsUnversionedHistory(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await BuildHistoryAsync(dir, ct);

        var output = new List<string>();
        Assert.That(await RunAsync(dir, ct, output, "dbupdate", "cfg.toml", "--keep-redo"), Is.Zero);
        Assert.That(Query(dir, "SELECT COUNT(*) FROM orders__history"), Is.EqualTo(new[] { "6" }));
        Assert.That(output, Has.None.Contains("Discarded"));

        output.Clear();
        Assert.That(await RunAsync(dir, ct, output, "dbupdate", "cfg.toml"), Is.Zero);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(output, Has.Some.StartsWith("  Discarded redo history from orders__history: 1 undone version(s)"));
            Assert.That(output, Has.Some.EqualTo("  These are no longer redo-able. Use --keep-redo to keep them."));
            Assert.That(Query(dir, "SELECT id, _mkio_version FROM orders__history WHERE id = 'b'"), Is.EqualTo(new[] { "b|1" }));
        }

        File.WriteAllText(dir.File("cfg.toml"), Config.Replace("versioned = true\nunversioned = [\"note\"]\n", string.Empty, StringComparison.Ordinal)
            .Replace("undo = [{ table = \"orders\", op_type = \"undo\", key = [\"id\"] }]", string.Empty, StringComparison.Ordinal));
        output.Clear();
        Assert.That(await RunAsync(dir, ct, output, "dbupdate", "cfg.toml"), Is.Zero, string.Join('\n', output));
        Assert.That(Query(dir, "SELECT COUNT(*) FROM orders__history"), Is.EqualTo(new[] { "5" }), "history is never dropped without --drop-history");
        Assert.That(await RunAsync(dir, ct, output, "dbupdate", "cfg.toml", "--drop-history"), Is.Zero, string.Join('\n', output));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(output, Has.Some.EqualTo("  Dropped history table orders__history"));
            Assert.That(Query(dir, "SELECT name FROM sqlite_master WHERE name = 'orders__history'"), Is.Empty);
        }
    }
}
