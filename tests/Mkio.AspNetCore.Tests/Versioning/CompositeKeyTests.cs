using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Versioning;

/// <summary><c>primary_key = [book, symbol]</c> end to end: a versioned table with a composite key, and migrating to one.</summary>
public sealed class CompositeKeyTests
{
    private static Action<MkioOptions> Positions(bool composite) => o =>
    {
        o.DbPath = "k.db";
        o.BatchMaxWaitMs = 1.0;
        o.AutoMigrate = MkioAutoMigrate.Destructive;
        o.Table("positions", t =>
        {
            t.Column("book", composite ? "TEXT NOT NULL" : "TEXT PRIMARY KEY").Column("symbol", "TEXT NOT NULL").Column("qty", "INTEGER NOT NULL");
            if (composite)
            {
                t.PrimaryKey("book", "symbol").Versioned();
            }
        });
        o.Transaction("tx", tx =>
        {
            tx.Op("add", ops => ops.Insert("positions", ["book", "symbol", "qty"]));
            if (composite)
            {
                tx.Op("set", ops => ops.Update("positions", ["book", "symbol"], ["qty"]))
                  .Op("undo", ops => ops.Undo("positions", ["book", "symbol"]))
                  .Op("redo", ops => ops.Redo("positions", ["book", "symbol"]));
            }
        });
    };

    [Test, CancelAfter(60_000)]
    public async Task VersionedCompositeKey_UndoRedoAndHistory_KeepEachKeyApart(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Positions(composite: true), ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        async Task<string> SendAsync(string op, string data)
        {
            var reply = await ws.RequestAsync($$"""{"service":"tx","op":"{{op}}","data":{{data}}}""", ct);
            return reply.GetProperty("type").GetString() == "result" ? "ok" : reply.GetProperty("message").GetString()!;
        }

        Assert.That(await SendAsync("add", """{"book":"B1","symbol":"A","qty":1}"""), Is.EqualTo("ok"));
        Assert.That(await SendAsync("add", """{"book":"B1","symbol":"Z","qty":100}"""), Is.EqualTo("ok"));
        Assert.That(await SendAsync("add", """{"book":"B1","symbol":"A","qty":9}"""), Is.Not.EqualTo("ok"), "the composite key is unique");
        Assert.That(await SendAsync("set", """{"book":"B1","symbol":"A","qty":2}"""), Is.EqualTo("ok"));
        Assert.That(await SendAsync("set", """{"book":"B1","symbol":"Z","qty":200}"""), Is.EqualTo("ok"));
        Assert.That(await SendAsync("undo", """{"book":"B1","symbol":"A"}"""), Is.EqualTo("ok"));

        var mkio = host.Services.GetRequiredService<IMkio>();
        var a = await mkio.HistoryAsync("positions", new object[] { "B1", "A" }, cancellationToken: ct);
        var all = await mkio.HistoryAsync("positions", newestFirst: true, cancellationToken: ct);
        var rows = await VersionedMigrationTests.ReadAsync(host, "SELECT symbol, qty, _mkio_version FROM positions ORDER BY symbol", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(a.Select(r => $"{r["symbol"]}:{r["_mkio_version"]}:{r["qty"]}"), Is.EqualTo(new[] { "A:1:1", "A:2:2" }));
            Assert.That(all.Select(r => $"{r["symbol"]}:{r["_mkio_version"]}"), Is.EqualTo(new[] { "Z:2", "Z:1", "A:2", "A:1" }), "ordered by book, symbol, version, descending");
            Assert.That(rows.Select(r => $"{r["symbol"]}:{r["qty"]}:{r["_mkio_version"]}"), Is.EqualTo(new[] { "A:1:1", "Z:200:2" }), "undo moved only (B1, A)");
            Assert.ThrowsAsync<ArgumentException>(() => mkio.HistoryAsync("positions", "B1", cancellationToken: ct), "a composite key needs all its values");
        }

        Assert.That(await SendAsync("undo", """{"book":"B1","symbol":"A"}"""), Is.EqualTo("ok"));
        Assert.That(await SendAsync("undo", """{"book":"B1","symbol":"A"}"""), Is.EqualTo("nothing to undo"));
        Assert.That(await SendAsync("redo", """{"book":"B1","symbol":"A"}"""), Is.EqualTo("ok"));
        Assert.That(await SendAsync("redo", """{"book":"B1","symbol":"A"}"""), Is.EqualTo("ok"));
        rows = await VersionedMigrationTests.ReadAsync(host, "SELECT symbol, qty, _mkio_version FROM positions ORDER BY symbol", ct);
        Assert.That(rows.Select(r => $"{r["symbol"]}:{r["qty"]}:{r["_mkio_version"]}"), Is.EqualTo(new[] { "A:2:2", "Z:200:2" }));
    }

    [Test, CancelAfter(90_000)]
    public async Task AddingPrimaryKeyList_ToAKeyedTable_RebuildsWithTheCompositeKey(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using (var host = await MkioTestHost.StartAsync(Positions(composite: false), ct, dir))
        {
            var r = await host.Services.GetRequiredService<IMkio>().ExecuteAsync("tx", new { book = "B1", symbol = "A", qty = 5 }, "add", cancellationToken: ct);
            Assert.That(r.Ok, Is.True, r.Error);
        }

        await using (var host = await MkioTestHost.StartAsync(Positions(composite: true), ct, dir))
        {
            var pk = await VersionedMigrationTests.PrimaryKeyAsync(host, "positions", ct);
            var rows = await VersionedMigrationTests.ReadAsync(host, "SELECT book, symbol, qty, _mkio_version FROM positions", ct);
            var history = await host.Services.GetRequiredService<IMkio>().HistoryAsync("positions", new[] { "B1", "A" }, cancellationToken: ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(pk, Is.EqualTo(new[] { "book", "symbol" }));
                Assert.That(rows.Select(r => $"{r["book"]}:{r["symbol"]}:{r["qty"]}:{r["_mkio_version"]}"), Is.EqualTo(new[] { "B1:A:5:1" }));
                Assert.That(history.Select(h => h["_mkio_op"]), Is.EqualTo(new[] { "baseline" }));
            }

            var ok = await host.Services.GetRequiredService<IMkio>().ExecuteAsync("tx", new { book = "B1", symbol = "B", qty = 1 }, "add", cancellationToken: ct);
            Assert.That(ok.Ok, Is.True, "(B1, B) is a new key now: " + ok.Error);
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task AddingPrimaryKeyList_ToAKeylessTable_Rebuilds_CollidingRowsDropped(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        void Keyless(MkioOptions o)
        {
            o.DbPath = "k.db";
            o.AutoMigrate = MkioAutoMigrate.Destructive;
            o.Table("t", t => t.Column("a", "TEXT NOT NULL").Column("b", "TEXT NOT NULL"))
             .Transaction("tx", tx => tx.Op("add", ops => ops.Insert("t", ["a", "b"])));
        }

        await using (var host = await MkioTestHost.StartAsync(Keyless, ct, dir))
        {
            var mkio = host.Services.GetRequiredService<IMkio>();
            foreach (var (a, b) in new[] { ("x", "1"), ("x", "1"), ("x", "2") })
            {
                Assert.That((await mkio.ExecuteAsync("tx", new { a, b }, "add", cancellationToken: ct)).Ok, Is.True);
            }
        }

        await using (var host = await MkioTestHost.StartAsync(o => { Keyless(o); o.Tables[0].PrimaryKey = ["a", "b"]; }, ct, dir))
        {
            var pk = await VersionedMigrationTests.PrimaryKeyAsync(host, "t", ct);
            var rows = await VersionedMigrationTests.ReadAsync(host, "SELECT a, b FROM t ORDER BY b", ct);
            Assert.That(pk, Is.EqualTo(new[] { "a", "b" }));
            Assert.That(rows.Select(r => $"{r["a"]}{r["b"]}"), Is.EqualTo(new[] { "x1", "x2" }), "rows colliding under the new key are dropped");
        }
    }
}
