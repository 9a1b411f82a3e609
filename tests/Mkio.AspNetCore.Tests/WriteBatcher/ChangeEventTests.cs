using Mkio.AspNetCore.Tests.Transactions;
using Mkio.Changes;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.WriteBatcher;

/// <summary>
/// CONFORMANCE items 71–73 and 76 (SERVICES.md §5.6–5.7, fix F3), observed on the change bus of a
/// running server: what each committed transaction publishes, and when.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public class ChangeEventTests
{
    private static string Describe(ChangeEvent e) => $"{e.Table.Name} {e.Op} {e.Ref} {TxTest.Json(e.Row)}";

    /// <summary>Fixture A plus an insert that sets the price (a REAL with a fraction reads back the same from RETURNING and SELECT).</summary>
    private static void WithPriced(MkioOptions o)
    {
        Fixtures.FixtureA(o);
        o.Transaction("add_priced", tx => tx.Insert("orders", ["id", "symbol", "qty", "price"]));
    }

    [Test, CancelAfter(30_000)]
    public async Task Insert_Committed_EventAfterCommitWithTableOpRowAndRef(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        var visibleAtPublish = new List<long>();
        using var events = new EventRecorder(TxTest.Engine(host).Bus, onBatch: batch =>
        {
            // Read through an independent connection: only committed data is visible there.
            foreach (var e in batch)
            {
                visibleAtPublish.Add((long)TxTest.Scalar(host, $"SELECT COUNT(*) FROM orders WHERE _mkio_ref = '{e.Ref}'")!);
            }
        });
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"add_order","ref":"e71","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);

        var e = events.Events;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"e71","ok":true}"""));
            Assert.That(e.Select(Describe), Is.EqualTo(new[]
            {
                """orders insert e71 {"id":"1","symbol":"AAPL","qty":100,"price":0,"status":"pending","_mkio_ref":"e71"}""",
            }).Or.EqualTo(new[]
            {
                """orders insert e71 {"id":"1","symbol":"AAPL","qty":100,"price":0.0,"status":"pending","_mkio_ref":"e71"}""",
            }));
            Assert.That(visibleAtPublish, Is.EqualTo(new[] { 1L }), "the event was published after COMMIT");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task FailedTransaction_NoEvent(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        using var events = new EventRecorder(TxTest.Engine(host).Bus);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","ref":"a","data":{"id":"1","symbol":"A","qty":1}}""",
            """{"service":"add_order","ref":"b","data":{"id":"1","symbol":"B","qty":2}}""",
            """{"service":"add_order","ref":"c","data":{"id":"2","symbol":null,"qty":2}}""",
            """{"service":"add_order","ref":"d","data":{"id":"3"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Json.GetProperty("type").GetString()), Is.EqualTo(new[] { "result", "error", "error", "error" }));
            Assert.That(events.Events.Select(x => x.Ref), Is.EqualTo(new[] { "a" }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task MultiOp_Transaction_OneEventPerOpSameRefToEachTablesListeners(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        var bus = TxTest.Engine(host).Bus;
        using var all = new EventRecorder(bus);
        using var ordersOnly = new EventRecorder(bus, ["orders"]);
        using var auditOnly = new EventRecorder(bus, ["audit_log"]);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"orders","op":"place","ref":"m72","data":{"side":"Buy","symbol":"AAPL","qty":100,"price":150.5,"event":"new"}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"orders","ref":"m72","ok":true}"""));
            Assert.That(all.Batches, Has.Count.EqualTo(1));
            Assert.That(all.Events.Select(Describe), Is.EqualTo(new[]
            {
                """orders insert m72 {"id":1,"side":"Buy","symbol":"AAPL","qty":100,"price":150.5,"status":"pending","_mkio_ref":"m72"}""",
                """audit_log insert m72 {"id":1,"event":"new","order_id":1,"status":"pending","_mkio_ref":"m72"}""",
            }));
            Assert.That(ordersOnly.Events.Select(Describe), Is.EqualTo(all.Events.Take(1).Select(Describe)));
            Assert.That(auditOnly.Events.Select(Describe), Is.EqualTo(all.Events.Skip(1).Select(Describe)));
        }
    }

    /// <summary>Item 73: the insert's event row includes the column defaults and the AUTOINCREMENT id.</summary>
    [Test, CancelAfter(30_000)]
    public async Task Insert_EventRow_IncludesDefaultsAndAutoincrementId(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var events = new EventRecorder(TxTest.Engine(host).Bus, ["orders"]);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"orders","op":"place","ref":"p1","data":{"side":"Buy","symbol":"AAPL","qty":1,"price":1.5}}""",
            """{"service":"orders","op":"place","ref":"p2","data":{"side":"Sell","symbol":"MSFT"}}""",
        ], ct);

        var rows = events.Events.Select(e => e.Row).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Json.GetProperty("ok").GetBoolean()), Is.All.True);
            Assert.That(rows, Has.Count.EqualTo(2));
            Assert.That(rows.Select(r => r.Schema.Names), Is.All.EqualTo(new[] { "id", "side", "symbol", "qty", "price", "status", "_mkio_ref" }));
            Assert.That(rows[0].TryGetValue("id", out var id1) ? id1 : null, Is.TypeOf<long>().And.GreaterThan(0L));
            Assert.That(rows[1].TryGetValue("id", out var id2) ? id2 : null, Is.EqualTo((long)id1! + 1));
            Assert.That(rows[1].TryGetValue("status", out var status) ? status : null, Is.EqualTo("pending"));
            Assert.That(rows[1].TryGetValue("qty", out var qty) ? qty : "absent", Is.Null);
            Assert.That(rows[1].TryGetValue("price", out var price) ? Convert.ToDouble(price, System.Globalization.CultureInfo.InvariantCulture) : -1, Is.Zero);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Delete_ExistingRow_PublishesFullDeletedRow(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(WithPriced, ct);
        using var events = new EventRecorder(TxTest.Engine(host).Bus);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_priced","ref":"i","data":{"id":"1","symbol":"AAPL","qty":100,"price":1.5}}""",
            """{"service":"update_order","ref":"u","data":{"id":"1","qty":50}}""",
            """{"service":"delete_order","ref":"d","data":{"id":"1","extra":"ignored"}}""",
        ], ct);

        var e = events.Events;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Json.GetProperty("ok").GetBoolean()), Is.All.True);
            Assert.That(e, Has.Count.EqualTo(3));
            Assert.That(e.Skip(1).Select(Describe), Is.EqualTo(new[]
            {
                """orders update u {"id":"1","symbol":"AAPL","qty":50,"price":1.5,"status":"pending","_mkio_ref":"u"}""",
                """orders delete d {"id":"1","symbol":"AAPL","qty":50,"price":1.5,"status":"pending","_mkio_ref":"u"}""",
            }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task DeleteOrUpdate_NoRowAffected_PublishesNothing(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.Transaction("upsert_order", tx => tx.Upsert("orders", ["id"], ["symbol", "qty"]));
        }, ct);
        using var events = new EventRecorder(TxTest.Engine(host).Bus);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"delete_order","ref":"d0","data":{"id":"nonexist"}}""",
            """{"service":"update_order","ref":"u0","data":{"id":"nonexist","qty":5}}""",
            """{"service":"add_order","ref":"i1","data":{"id":"1","symbol":"A","qty":1}}""",
            """{"service":"delete_order","ref":"d1","data":{"id":"nonexist"}}""",
            """{"service":"upsert_order","ref":"p1","data":{"id":"2","symbol":"B","qty":2}}""",
            """{"service":"upsert_order","ref":"p2","data":{"id":"2","symbol":"C","qty":3}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Json.GetProperty("ok").GetBoolean()), Is.All.True);
            Assert.That(events.Events.Select(x => $"{x.Op} {x.Ref}"), Is.EqualTo(new[] { "insert i1", "upsert p1", "upsert p2" }));
            Assert.That(TxTest.Json(events.Events[2].Row), Is.EqualTo("""{"id":"2","symbol":"C","qty":3,"price":0,"status":"pending","_mkio_ref":"p2"}""")
                .Or.EqualTo("""{"id":"2","symbol":"C","qty":3,"price":0.0,"status":"pending","_mkio_ref":"p2"}"""));
        }
    }

    /// <summary>F3: an update or delete matching several rows publishes one event per affected row.</summary>
    [Test, CancelAfter(30_000)]
    public async Task UpdateAndDelete_SeveralRowsAffected_OneEventPerRow(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            WithPriced(o);
            o.Transaction("set_qty_by_symbol", tx => tx.Update("orders", ["symbol"], ["qty"]))
                .Transaction("delete_by_symbol", tx => tx.Delete("orders", ["symbol"]));
        }, ct);
        using var events = new EventRecorder(TxTest.Engine(host).Bus);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_priced","ref":"i1","data":{"id":"1","symbol":"A","qty":1,"price":0.5}}""",
            """{"service":"add_priced","ref":"i2","data":{"id":"2","symbol":"B","qty":2,"price":0.5}}""",
            """{"service":"add_priced","ref":"i3","data":{"id":"3","symbol":"A","qty":3,"price":0.5}}""",
            """{"service":"set_qty_by_symbol","ref":"u","data":{"symbol":"A","qty":9}}""",
            """{"service":"delete_by_symbol","ref":"d","data":{"symbol":"A"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Json.GetProperty("ok").GetBoolean()), Is.All.True);
            Assert.That(events.Events.Skip(3).Select(x => $"{x.Op} {x.Ref} {TxTest.Json(x.Row)}").Order(StringComparer.Ordinal), Is.EqualTo(new[]
            {
                """delete d {"id":"1","symbol":"A","qty":9,"price":0.5,"status":"pending","_mkio_ref":"u"}""",
                """delete d {"id":"3","symbol":"A","qty":9,"price":0.5,"status":"pending","_mkio_ref":"u"}""",
                """update u {"id":"1","symbol":"A","qty":9,"price":0.5,"status":"pending","_mkio_ref":"u"}""",
                """update u {"id":"3","symbol":"A","qty":9,"price":0.5,"status":"pending","_mkio_ref":"u"}""",
            }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Events_SeveralTransactions_PublishedInCommitOrderWithIncreasingSequence(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.BatchMaxWaitMs = 10;
        }, ct);
        using var events = new EventRecorder(TxTest.Engine(host).Bus);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws, [.. Enumerable.Range(0, 20).Select(i => $$$"""{"service":"add_order","data":{"id":"{{{i}}}","symbol":"S","qty":{{{i}}}}}""")], ct);

        var e = events.Events;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(e.Select(x => x.Ref), Is.EqualTo(replies.Select(r => TxTest.Ref(r.Json))));
            Assert.That(e.Select(x => x.Sequence), Is.Ordered.Ascending.And.Unique);
            Assert.That(e.Select(x => x.Ref), Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
        }
    }
}
