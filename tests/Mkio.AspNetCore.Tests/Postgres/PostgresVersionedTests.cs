using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// Versioned tables on PostgreSQL through real Kestrel: history, undo/redo and their cause seen by a subscriber on
/// another node of the same database, history reads (service on the history table and <c>IMkio.HistoryAsync</c>),
/// composite keys, and a resume by ref across nodes after an undo.
/// </summary>
public sealed class PostgresVersionedTests
{
    private static Action<MkioOptions> Orders(string cs) => o =>
    {
        o.Postgres = cs;
        o.BatchMaxWaitMs = 1.0;
        o.Table("orders", t => t.Column("id", "INTEGER PRIMARY KEY").Column("qty", "INTEGER NOT NULL").Column("note", "TEXT").Versioned("note"))
            .Transaction("orders_tx", tx => tx
                .Op("add", ops => ops.Insert("orders", ["id", "qty"]))
                .Op("set", ops => ops.Update("orders", ["id"], ["qty"]))
                .Op("put", ops => ops.Upsert("orders", ["id"], ["qty"]))
                .Op("del", ops => ops.Delete("orders", ["id"]))
                .Op("undo", ops => ops.Undo("orders", ["id"]))
                .Op("redo", ops => ops.Redo("orders", ["id"])))
            .Query("all", s => s.From("orders"))
            .SubPub("book", s => s.From("orders").Key("id"))
            .Query("hist", s => s.From("orders__history"));
    };

    private static async Task<string> SendAsync(TestSocket ws, string op, string data, CancellationToken ct)
    {
        var reply = await ws.RequestAsync($$"""{"service":"orders_tx","op":"{{op}}","data":{{data}}}""", ct);
        return reply.GetProperty("type").GetString() == "result" ? "ok" : reply.GetProperty("message").GetString()!;
    }

    /// <summary>The next <paramref name="count"/> updates as "op:cause:qty" ("-" for no cause).</summary>
    private static async Task<string[]> UpdatesAsync(TestSocket socket, int count, CancellationToken ct)
    {
        var seen = new string[count];
        for (var i = 0; i < count; i++)
        {
            var m = await socket.ReceiveAsync(ct);
            Assert.That(m.GetProperty("type").GetString(), Is.EqualTo("update"), m.GetRawText());
            var cause = m.TryGetProperty("cause", out var c) ? c.GetString() : "-";
            seen[i] = m.GetProperty("op").GetString() + ":" + cause + ":" + m.GetProperty("row").GetProperty("qty").GetInt64();
        }

        return seen;
    }

    [Test, CancelAfter(120_000)]
    public async Task Undo_and_redo_on_node_A_reach_a_subscriber_on_node_B_with_their_cause_and_history_reads_agree(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        await using var nodeA = await MkioTestHost.StartAsync(Orders(cs), ct);
        await using var nodeB = await MkioTestHost.StartAsync(Orders(cs), ct);
        await using var onA = await nodeA.ConnectAsync("ws", ct);
        await using var laterB = await nodeB.ConnectAsync("ws", ct);
        await using var oldB = await nodeB.ConnectAsync("ws", ct);
        var snapshot = await laterB.RequestAsync("""{"type":"subscribe","service":"all","protocol":"query","subid":"s"}""", ct);
        Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"), snapshot.GetRawText());
        Assert.That((await oldB.RequestAsync("""{"type":"subscribe","service":"book"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("snapshot"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await SendAsync(onA, "add", """{"id":1,"qty":1}""", ct), Is.EqualTo("ok"));
            Assert.That(await SendAsync(onA, "set", """{"id":1,"qty":2}""", ct), Is.EqualTo("ok"));
            Assert.That(await SendAsync(onA, "undo", """{"id":1}""", ct), Is.EqualTo("ok"));
            Assert.That(await SendAsync(onA, "undo", """{"id":1}""", ct), Is.EqualTo("ok"));
            Assert.That(await SendAsync(onA, "undo", """{"id":1}""", ct), Is.EqualTo("nothing to undo"));
            Assert.That(await SendAsync(onA, "redo", """{"id":1}""", ct), Is.EqualTo("ok"));
            Assert.That(await SendAsync(onA, "redo", """{"id":1}""", ct), Is.EqualTo("ok"));
            Assert.That(await SendAsync(onA, "redo", """{"id":1}""", ct), Is.EqualTo("nothing to redo"));
            Assert.That(await SendAsync(onA, "undo", """{"id":"one"}""", ct), Does.Contain("orders.id is INTEGER in PostgreSQL and cannot store 'one'"));
        }

        string[] expected = ["insert:-:1", "update:-:2", "update:undo:1", "delete:undo:1", "insert:redo:1", "update:redo:2"];
        Assert.That(await UpdatesAsync(laterB, 6, ct), Is.EqualTo(expected), "a later subscriber on node B");
        Assert.That(await UpdatesAsync(oldB, 6, ct), Has.None.Contains(":undo:").And.None.Contains(":redo:"), "a 0.1.0 subscriber on node B");

        // History on node B: versions 1 and 2 of id 1, through a query service and in process.
        var hist = await laterB.RequestAsync("""{"type":"subscribe","service":"hist"}""", ct);
        var rows = hist.GetProperty("rows").EnumerateArray().Select(r => $"{r.GetProperty("_mkio_version").GetInt64()}:{r.GetProperty("_mkio_op").GetString()}:{r.GetProperty("qty").GetInt64()}").Order();
        Assert.That(rows, Is.EqualTo(new[] { "1:insert:1", "2:update:2" }), hist.GetRawText());
        var mkio = nodeB.Services.GetRequiredService<IMkio>();
        var versions = await mkio.HistoryAsync("orders", 1L, newestFirst: true, cancellationToken: ct);
        Assert.That(versions.Select(r => $"{r["_mkio_version"]}:{r["qty"]}:{r["_mkio_service"]}"), Is.EqualTo(new[] { "2:2:orders_tx", "1:1:orders_tx" }));
        Assert.That(() => mkio.HistoryAsync("nope", cancellationToken: ct), Throws.ArgumentException.With.Message.Contains("Versioned tables: orders"));
    }

    [Test, CancelAfter(120_000)]
    public async Task Upsert_delete_and_an_unchanged_update_follow_the_history_rules_and_a_resume_on_another_node_is_exact(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        await using var nodeA = await MkioTestHost.StartAsync(Orders(cs), ct);
        await using var nodeB = await MkioTestHost.StartAsync(Orders(cs), ct);
        await using var onA = await nodeA.ConnectAsync("ws", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await SendAsync(onA, "put", """{"id":7,"qty":1}""", ct), Is.EqualTo("ok"), "upsert that inserts: version 1");
            Assert.That(await SendAsync(onA, "put", """{"id":7,"qty":2}""", ct), Is.EqualTo("ok"), "upsert that updates: version 2");
            Assert.That(await SendAsync(onA, "put", """{"id":7,"qty":2}""", ct), Is.EqualTo("ok"), "no recorded change: no new version");
            Assert.That(await SendAsync(onA, "add", """{"id":8,"qty":5}""", ct), Is.EqualTo("ok"));
            Assert.That(await SendAsync(onA, "del", """{"id":8}""", ct), Is.EqualTo("ok"), "a delete drops the key's history");
        }

        var mkio = nodeA.Services.GetRequiredService<IMkio>();
        Assert.That((await mkio.HistoryAsync("orders__history", cancellationToken: ct)).Select(r => $"{r["id"]}:{r["_mkio_version"]}:{r["_mkio_op"]}:{r["qty"]}"),
            Is.EqualTo(new[] { "7:1:insert:1", "7:2:update:2" }));

        // A client subscribed on A with a ref resumes on B after an undo and gets exactly what it missed.
        await using var sub = await nodeA.ConnectAsync("ws", ct);
        var snap = await sub.RequestAsync("""{"type":"subscribe","service":"book"}""", ct);
        var lastRef = snap.GetProperty("ref").GetString();
        Assert.That(await SendAsync(onA, "undo", """{"id":7}""", ct), Is.EqualTo("ok"));
        var engineB = nodeB.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>();
        var engineA = nodeA.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>();
        await Eventually.WaitUntilAsync(() => engineB.TryGetEngine()!.Position >= engineA.TryGetEngine()!.Position, "node B tailed the undo", ct);
        await using var onB = await nodeB.ConnectAsync("ws", ct);
        var delta = await onB.RequestAsync($$"""{"type":"subscribe","service":"book","ref":"{{lastRef}}"}""", ct);
        Assert.That(delta.GetProperty("type").GetString(), Is.EqualTo("delta"), delta.GetRawText());
        var changes = delta.GetProperty("changes").EnumerateArray().ToList();
        Assert.That(changes.Select(c => c.GetProperty("op").GetString() + ":" + c.GetProperty("row").GetProperty("qty").GetInt64()), Is.EqualTo(new[] { "update:1" }), delta.GetRawText());
        Assert.That(changes[0].GetProperty("row").GetProperty("_mkio_version").GetInt64(), Is.EqualTo(1));
    }

    [Test, CancelAfter(120_000)]
    public async Task A_composite_key_keeps_each_key_apart_on_postgres(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            o.Postgres = cs;
            o.BatchMaxWaitMs = 1.0;
            o.Table("positions", t => t.Column("book", "TEXT NOT NULL").Column("symbol", "TEXT NOT NULL").Column("qty", "INTEGER NOT NULL").PrimaryKey("book", "symbol").Versioned())
                .Transaction("tx", tx => tx
                    .Op("add", ops => ops.Insert("positions", ["book", "symbol", "qty"]))
                    .Op("set", ops => ops.Update("positions", ["book", "symbol"], ["qty"]))
                    .Op("undo", ops => ops.Undo("positions", ["book", "symbol"])))
                .Query("all", s => s.From("positions"));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        async Task<string> Send(string op, string data)
        {
            var reply = await ws.RequestAsync($$"""{"service":"tx","op":"{{op}}","data":{{data}}}""", ct);
            return reply.GetProperty("type").GetString() == "result" ? "ok" : reply.GetProperty("message").GetString()!;
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await Send("add", """{"book":"B1","symbol":"A","qty":1}"""), Is.EqualTo("ok"));
            Assert.That(await Send("add", """{"book":"B1","symbol":"Z","qty":100}"""), Is.EqualTo("ok"));
            Assert.That(await Send("add", """{"book":"B1","symbol":"A","qty":9}"""), Does.Contain("duplicate key"), "the composite key is unique");
            Assert.That(await Send("set", """{"book":"B1","symbol":"A","qty":2}"""), Is.EqualTo("ok"));
            Assert.That(await Send("set", """{"book":"B1","symbol":"Z","qty":200}"""), Is.EqualTo("ok"));
            Assert.That(await Send("undo", """{"book":"B1","symbol":"A"}"""), Is.EqualTo("ok"));
        }

        var mkio = host.Services.GetRequiredService<IMkio>();
        var a = await mkio.HistoryAsync("positions", new object[] { "B1", "A" }, cancellationToken: ct);
        var all = await mkio.HistoryAsync("positions", newestFirst: true, cancellationToken: ct);
        var snap = await ws.RequestAsync("""{"type":"subscribe","service":"all"}""", ct);
        var rows = snap.GetProperty("rows").EnumerateArray().Select(r => $"{r.GetProperty("symbol").GetString()}:{r.GetProperty("qty").GetInt64()}:{r.GetProperty("_mkio_version").GetInt64()}").Order();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(a.Select(r => $"{r["symbol"]}:{r["_mkio_version"]}:{r["qty"]}"), Is.EqualTo(new[] { "A:1:1", "A:2:2" }));
            Assert.That(all.Select(r => $"{r["symbol"]}:{r["_mkio_version"]}"), Is.EqualTo(new[] { "Z:2", "Z:1", "A:2", "A:1" }));
            Assert.That(rows, Is.EqualTo(new[] { "A:1:1", "Z:200:2" }), "undo moved only (B1, A)");
            Assert.That(() => mkio.HistoryAsync("positions", "B1", cancellationToken: ct), Throws.ArgumentException.With.Message.Contains("composite primary key"));
        }

        Assert.That(snap.GetProperty("type").GetString(), Is.EqualTo("snapshot"), snap.GetRawText());
    }
}
