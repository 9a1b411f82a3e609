using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Versioning;

/// <summary>Versioned tables end to end through real Kestrel: every op type, history contents, undo/redo, subscribers.</summary>
public sealed class VersionedTableTests
{
    /// <summary>A versioned <c>orders</c> table (<c>note</c> unversioned), one op of each type, a query over it and a stream over its history.</summary>
    internal static void Config(MkioOptions o)
    {
        o.DbPath = "v.db";
        o.BatchMaxWaitMs = 1.0;
        o.Table("orders", t => t
                .Column("id", "INTEGER PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER NOT NULL DEFAULT 0")
                .Column("note", "TEXT")
                .Versioned("note"))
            .Transaction("orders_tx", tx => tx
                .Op("add", ops => ops.Insert("orders", ["id", "symbol", "qty", "note"]))
                .Op("add_twice", ops => ops.Insert("orders", ["id", "symbol", "qty"]).Insert("orders", ["id", "symbol", "qty"]))
                .Op("set", ops => ops.Update("orders", ["id"], ["qty"]))
                .Op("note", ops => ops.Update("orders", ["id"], ["note"]))
                .Op("put", ops => ops.Upsert("orders", ["id"], ["symbol", "qty"]))
                .Op("del", ops => ops.Delete("orders", ["id"]))
                .Op("undo", ops => ops.Undo("orders", ["id"]))
                .Op("redo", ops => ops.Redo("orders", ["id"])))
            .Query("all", s => s.From("orders"))
            .Stream("changes", s => s.From("orders__history"));
    }

    private static async Task<MkioResult> RunAsync(IMkio mkio, string op, object data, CancellationToken ct) =>
        await mkio.ExecuteAsync("orders_tx", data, op, cancellationToken: ct);

    private static async Task<string> OkAsync(IMkio mkio, string op, object data, CancellationToken ct)
    {
        var r = await RunAsync(mkio, op, data, ct);
        Assert.That(r.Ok, Is.True, $"{op}: {r.Error}");
        return r.Ref;
    }

    /// <summary>Each version of key <paramref name="id"/> as "version:op:qty".</summary>
    private static async Task<string[]> VersionsAsync(IMkio mkio, long id, CancellationToken ct) =>
        [.. (await mkio.HistoryAsync("orders", id, cancellationToken: ct)).Select(r => $"{r["_mkio_version"]}:{r["_mkio_op"]}:{r["qty"]}")];

    private static async Task<IReadOnlyDictionary<string, object?>?> RowAsync(MkioTestHost host, long id, CancellationToken ct)
    {
        var rows = await host.QueryStoreAsync("SELECT * FROM orders WHERE id = $p1", [id], ct);
        return rows.Count == 0 ? null : rows[0].ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal);
    }

    /// <summary>Journal rows per table name after some writes: history changes are journaled only when a service follows them.</summary>
    private static async Task<Dictionary<string, long>> JournalByTableAsync(MkioTestHost host, CancellationToken ct)
    {
        var rows = await host.QueryStoreAsync("SELECT tbl, count(*) AS n FROM _mkio_journal GROUP BY tbl", cancellationToken: ct);
        return rows.ToDictionary(r => (string)r[0].Value!, r => (long)r[1].Value!);
    }

    [TestCase(true)]
    [TestCase(false)]
    [CancelAfter(60_000)]
    public async Task History_IsJournaledOnlyWhenAServiceFollowsIt_AndRecordedEitherWay(bool watched, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            o.DbPath = "v.db";
            o.Table("orders", t => t.Column("id", "INTEGER PRIMARY KEY").Column("qty", "INTEGER").Versioned())
                .Transaction("orders_tx", tx => tx
                    .Op("add", ops => ops.Insert("orders", ["id", "qty"]))
                    .Op("set", ops => ops.Update("orders", ["id"], ["qty"])))
                .Query("all", q => q.From("orders"));
            if (watched)
            {
                o.Stream("changes", q => q.From("orders__history"));
            }
        }, ct);
        var mkio = host.Services.GetRequiredService<IMkio>();
        await OkAsync(mkio, "add", new { id = 1, qty = 1 }, ct);
        await OkAsync(mkio, "set", new { id = 1, qty = 2 }, ct);
        await OkAsync(mkio, "add", new { id = 2, qty = 5 }, ct);

        var journal = await JournalByTableAsync(host, ct);
        var versions = await mkio.HistoryAsync("orders", cancellationToken: ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(versions.Select(r => $"{r["id"]}:{r["_mkio_version"]}:{r["qty"]}"), Is.EquivalentTo(new[] { "1:1:1", "1:2:2", "2:1:5" }), "history is recorded whether or not anyone watches it");
            Assert.That(journal.GetValueOrDefault("orders"), Is.EqualTo(3L));
            Assert.That(journal.GetValueOrDefault("orders__history"), Is.EqualTo(watched ? 3L : 0L), "history changes reach the journal only for a service that follows them");
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task EveryOpType_RecordsVersions_UndoRedo_RedoTruncation_UndoPastFirstVersion(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Config, ct);
        var mkio = host.Services.GetRequiredService<IMkio>();

        var r1 = await OkAsync(mkio, "add", new { id = 1, symbol = "A", qty = 10, note = "first" }, ct);
        await OkAsync(mkio, "set", new { id = 1, qty = 20 }, ct);
        await OkAsync(mkio, "set", new { id = 1, qty = 20 }, ct);          // no difference: no version
        await OkAsync(mkio, "note", new { id = 1, note = "changed" }, ct); // unversioned column: no version
        var r4 = await OkAsync(mkio, "put", new { id = 1, symbol = "A", qty = 30 }, ct); // upsert that updates
        Assert.That(await VersionsAsync(mkio, 1, ct), Is.EqualTo(new[] { "1:insert:10", "2:update:20", "3:update:30" }));

        var history = await mkio.HistoryAsync("orders__history", 1, cancellationToken: ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(history[0]["_mkio_ref"], Is.EqualTo(r1));
            Assert.That(history[2]["_mkio_ref"], Is.EqualTo(r4));
            Assert.That(history[0]["_mkio_service"], Is.EqualTo("orders_tx"));
            Assert.That(history[0]["_mkio_user"], Is.Null, "no user on an in-process request");
            Assert.That(history[0].ContainsKey("note"), Is.False, "unversioned columns are not in the history");
            Assert.That((await RowAsync(host, 1, ct))!["_mkio_version"], Is.EqualTo(3L));
        }

        // undo → v2, undo → v1 (the unversioned note keeps its value), undo past v1 deletes the row, then nothing to undo.
        var u1 = await OkAsync(mkio, "undo", new { id = 1 }, ct);
        var row = (await RowAsync(host, 1, ct))!;
        Assert.That((row["qty"], row["_mkio_version"], row["_mkio_ref"]), Is.EqualTo((20L, 2L, u1)));
        await OkAsync(mkio, "undo", new { id = 1 }, ct);
        row = (await RowAsync(host, 1, ct))!;
        Assert.That((row["qty"], row["_mkio_version"], row["note"]), Is.EqualTo((10L, 1L, "changed")));
        await OkAsync(mkio, "undo", new { id = 1 }, ct);
        Assert.That(await RowAsync(host, 1, ct), Is.Null);
        Assert.That(await VersionsAsync(mkio, 1, ct), Has.Length.EqualTo(3), "undo past the first version keeps the history");
        Assert.That((await RunAsync(mkio, "undo", new { id = 1 }, ct)).Error, Is.EqualTo("nothing to undo"));

        // redo rebuilds the row at v1, then v2, v3; then nothing to redo.
        await OkAsync(mkio, "redo", new { id = 1 }, ct);
        row = (await RowAsync(host, 1, ct))!;
        Assert.That((row["qty"], row["_mkio_version"], row["note"]), Is.EqualTo((10L, 1L, (object?)null)));
        await OkAsync(mkio, "redo", new { id = 1 }, ct);
        await OkAsync(mkio, "redo", new { id = 1 }, ct);
        Assert.That((await RowAsync(host, 1, ct))!["qty"], Is.EqualTo(30L));
        Assert.That((await RunAsync(mkio, "redo", new { id = 1 }, ct)).Error, Is.EqualTo("nothing to redo"));

        // A new edit below the top drops the redo branch.
        await OkAsync(mkio, "undo", new { id = 1 }, ct);
        await OkAsync(mkio, "set", new { id = 1, qty = 25 }, ct);
        Assert.That(await VersionsAsync(mkio, 1, ct), Is.EqualTo(new[] { "1:insert:10", "2:update:20", "3:update:25" }));
        Assert.That((await RunAsync(mkio, "redo", new { id = 1 }, ct)).Error, Is.EqualTo("nothing to redo"));

        // An upsert that inserts is an insert; a delete removes the key's history; insert after undo-to-delete starts over.
        await OkAsync(mkio, "put", new { id = 2, symbol = "B", qty = 1 }, ct);
        Assert.That(await VersionsAsync(mkio, 2, ct), Is.EqualTo(new[] { "1:insert:1" }));
        await OkAsync(mkio, "del", new { id = 2 }, ct);
        Assert.That(await VersionsAsync(mkio, 2, ct), Is.Empty);
        Assert.That((await RunAsync(mkio, "redo", new { id = 2 }, ct)).Error, Is.EqualTo("nothing to redo"));
        await OkAsync(mkio, "add", new { id = 3, symbol = "C", qty = 5, note = "x" }, ct);
        await OkAsync(mkio, "set", new { id = 3, qty = 6 }, ct);
        await OkAsync(mkio, "undo", new { id = 3 }, ct);
        await OkAsync(mkio, "undo", new { id = 3 }, ct);
        await OkAsync(mkio, "put", new { id = 3, symbol = "C", qty = 7 }, ct);
        Assert.That(await VersionsAsync(mkio, 3, ct), Is.EqualTo(new[] { "1:insert:7" }));

        // Filters: since/until on refs, newest first, limit; an unversioned table is refused.
        Assert.That((await mkio.HistoryAsync("orders", since: r4, cancellationToken: ct)).Select(r => r["_mkio_ref"]), Has.None.EqualTo(r1));
        Assert.That((await mkio.HistoryAsync("orders", until: r4, cancellationToken: ct)).Select(r => r["_mkio_ref"]), Has.All.LessThan(r4));
        var newest = await mkio.HistoryAsync("orders", 1L, newestFirst: true, limit: 2, cancellationToken: ct);
        Assert.That(newest.Select(r => r["_mkio_version"]), Is.EqualTo(new object[] { 3L, 2L }));
        Assert.That(async () => await mkio.HistoryAsync("nope", cancellationToken: ct),
            Throws.ArgumentException.With.Message.StartsWith("Table 'nope' is not versioned. Versioned tables: orders"));
    }

    [Test, CancelAfter(60_000)]
    public async Task FailedRequest_LeavesNoHistory_DiscoveryDescribesUndo(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Config, ct);
        var mkio = host.Services.GetRequiredService<IMkio>();
        using var http = host.CreateHttpClient();
        var descriptor = await http.GetStringAsync(new Uri("api/services/orders_tx", UriKind.Relative), ct);
        Assert.That(descriptor, Does.Contain("\"op_type\": \"undo\"").Or.Contain("\"op_type\":\"undo\""));

        var failed = await RunAsync(mkio, "add_twice", new { id = 7, symbol = "A", qty = 1 }, ct);
        Assert.That(failed.Ok, Is.False);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await VersionsAsync(mkio, 7, ct), Is.Empty);
            Assert.That(await RowAsync(host, 7, ct), Is.Null);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Subscribers_SeeUndoRedoAsPlainChanges_AndHistoryStreamWorks(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Config, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await using var hist = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"type":"subscribe","service":"all"}""", ct)).GetProperty("rows").GetArrayLength(), Is.Zero);
        Assert.That((await hist.RequestAsync("""{"type":"subscribe","service":"changes"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("snapshot"));

        async Task SendAsync(string op, string data)
        {
            var reply = await ws.RequestAsync($$"""{"service":"orders_tx","op":"{{op}}","data":{{data}}}""", ct);
            Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
        }

        async Task<(string Op, JsonElement Row)> NextAsync(TestSocket socket)
        {
            var m = await socket.ReceiveAsync(ct);
            return (m.GetProperty("op").GetString()!, m.GetProperty("row"));
        }

        await SendAsync("add", """{"id":1,"symbol":"A","qty":1,"note":null}""");
        await SendAsync("set", """{"id":1,"qty":2}""");
        await SendAsync("undo", """{"id":1}""");
        await SendAsync("undo", """{"id":1}""");
        await SendAsync("redo", """{"id":1}""");
        var seen = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var (op, row) = await NextAsync(sub);
            seen.Add($"{op}:{row.GetProperty("qty").GetInt64()}:{row.GetProperty("_mkio_version").GetInt64()}");
        }

        Assert.That(seen, Is.EqualTo(new[] { "insert:1:1", "update:2:2", "update:1:1", "delete:1:1", "insert:1:1" }));

        // The history stream saw the two recorded versions (undo/redo add none).
        var first = await NextAsync(hist);
        var second = await NextAsync(hist);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.Row.GetProperty("_mkio_op").GetString(), Is.EqualTo("insert"));
            Assert.That(second.Row.GetProperty("_mkio_version").GetInt64(), Is.EqualTo(2));
            Assert.That(await hist.NoMessageWithinAsync(TimeSpan.FromMilliseconds(300), ct), Is.True);
        }

        await SendAsync("redo", """{"id":1}""");
        var error = await ws.RequestAsync("""{"service":"orders_tx","op":"redo","ref":"r9","data":{"id":1}}""", ct);
        Assert.That(error.GetRawText(), Is.EqualTo("""{"type":"error","message":"nothing to redo","ref":"r9"}"""));
    }

    [Test, CancelAfter(60_000)]
    public async Task HistoryRecordsTheConnectionsUser(CancellationToken ct)
    {
        await using var host = await Security.TokenAuthHandler.StartHostAsync(Config, ct);
        await using var carol = await Security.TokenAuthHandler.ConnectAsync(host, "carol:trader", ct);
        var reply = await carol.RequestAsync("""{"service":"orders_tx","op":"add","ref":"c1","data":{"id":1,"symbol":"A","qty":1,"note":""}}""", ct);
        Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
        var history = await host.Services.GetRequiredService<IMkio>().HistoryAsync("orders", 1L, cancellationToken: ct);
        Assert.That((history[0]["_mkio_user"], history[0]["_mkio_ref"], history[0]["_mkio_service"]), Is.EqualTo(("carol", "c1", "orders_tx")));
    }

    [Test, CancelAfter(60_000)]
    public async Task ConcurrentBatches_KeepVersionsContiguous(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Config, ct);
        var mkio = host.Services.GetRequiredService<IMkio>();
        for (var id = 1; id <= 4; id++)
        {
            await OkAsync(mkio, "add", new { id, symbol = "S", qty = 0, note = "" }, ct);
        }

        // 8 writers × 16 updates on 4 keys, part of them queued behind a held writer so that they share batches.
        Task<string[]> writes;
        using (await host.HoldWriterAsync(ct))
        {
            writes = Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                var refs = new List<string>();
                for (var i = 1; i <= 16; i++)
                {
                    refs.Add(await OkAsync(mkio, "set", new { id = (w % 4) + 1, qty = (w * 100) + i }, ct));
                }

                return string.Join(",", refs);
            }, ct)));
            await host.WaitForQueuedWritesAsync(8, ct);
        }

        await writes;
        for (var id = 1L; id <= 4; id++)
        {
            var versions = (await mkio.HistoryAsync("orders", id, cancellationToken: ct)).Select(r => (long)r["_mkio_version"]!).ToArray();
            var row = (await RowAsync(host, id, ct))!;
            using (Assert.EnterMultipleScope())
            {
                Assert.That(versions, Is.EqualTo(Enumerable.Range(1, 33).Select(v => (long)v)), $"key {id}: insert + 2 writers × 16 updates");
                Assert.That(row["_mkio_version"], Is.EqualTo(33L));
            }
        }
    }
}
