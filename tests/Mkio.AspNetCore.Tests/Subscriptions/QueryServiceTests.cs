using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>CONFORMANCE.md J (items 108–112): the query service (cross-restart item 113 is in Resume).</summary>
public class QueryServiceTests
{
    private static string Row(string id, string symbol, object qty, string status, string @ref) =>
        $$$"""{"id":"{{{id}}}","symbol":"{{{symbol}}}","qty":{{{qty}}},"price":0.0,"status":"{{{status}}}","_mkio_ref":"{{{@ref}}}"}""";

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_Fresh_SnapshotOfTableRowsFromDatabase(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        await OkAsync(ws, """{"service":"delete_order","ref":"r3","data":{"id":"1"}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r4","data":{"id":"3","symbol":"MSFT","qty":null}}""", ct);

        await using var sub = await host.ConnectAsync("ws", ct);
        var snap = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        Assert.That(snap.GetRawText(), Is.EqualTo($$$"""{"type":"snapshot","service":"all_orders","ref":"r4","rows":[{{{Row("2", "IBM", 5, "pending", "r2")}}},{{{Row("3", "MSFT", "null", "pending", "r4")}}}]}"""));
        var db = ReadDb(host.Directory.File(DbFile), "SELECT id FROM orders ORDER BY rowid");
        Assert.That(db.Select(r => r["id"]), Is.EqualTo(new object[] { "2", "3" }));
    }

    [Test, CancelAfter(30_000)]
    public async Task Update_EachWriterOp_CarriedVerbatim(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);

        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"all_orders","ref":"r1","op":"insert","row":{{{Row("1", "AAPL", 100, "pending", "r1")}}}}"""));
        await OkAsync(ws, """{"service":"update_order","ref":"r2","data":{"id":"1","qty":3}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"all_orders","ref":"r2","op":"update","row":{{{Row("1", "AAPL", 3, "pending", "r2")}}}}"""));
        await OkAsync(ws, """{"service":"upsert_order","ref":"r3","data":{"id":"1","symbol":"AAPL","qty":4}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"all_orders","ref":"r3","op":"upsert","row":{{{Row("1", "AAPL", 4, "pending", "r3")}}}}"""));
        await OkAsync(ws, """{"service":"upsert_order","ref":"r4","data":{"id":"2","symbol":"IBM","qty":1}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"all_orders","ref":"r4","op":"upsert","row":{{{Row("2", "IBM", 1, "pending", "r4")}}}}"""));
        await OkAsync(ws, """{"service":"delete_order","ref":"r5","data":{"id":"1"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"all_orders","ref":"r5","op":"delete","row":{{{Row("1", "AAPL", 4, "pending", "r3")}}}}"""));

        // Updates and deletes that affect no row publish nothing.
        await OkAsync(ws, """{"service":"update_order","ref":"r6","data":{"id":"nope","qty":3}}""", ct);
        await OkAsync(ws, """{"service":"delete_order","ref":"r7","data":{"id":"nope"}}""", ct);
        await AssertSilentAsync(sub, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_WithRef_DeltaInsideLogSnapshotWhenOlder(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.Query("short_log", s => s.From("orders").ChangeLogSize(3));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var refs = new List<string>
        {
            await OkAsync(ws, """{"service":"add_order","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct),
            await OkAsync(ws, """{"service":"add_order","data":{"id":"2","symbol":"IBM","qty":2}}""", ct),
            await OkAsync(ws, """{"service":"update_order","data":{"id":"1","qty":10}}""", ct),
            await OkAsync(ws, """{"service":"delete_order","data":{"id":"2"}}""", ct),
            await OkAsync(ws, """{"service":"add_order","data":{"id":"3","symbol":"MSFT","qty":3}}""", ct),
        };

        await using var sub = await host.ConnectAsync("ws", ct);
        var delta = await sub.RequestAsync($$$"""{"service":"short_log","type":"subscribe","ref":"{{{refs[2]}}}"}""", ct);
        Assert.That(delta.GetRawText(), Is.EqualTo($$$"""{"type":"delta","service":"short_log","ref":"{{{refs[4]}}}","changes":[{"op":"delete","row":{{{Row("2", "IBM", 2, "pending", refs[1])}}}},{"op":"insert","row":{{{Row("3", "MSFT", 3, "pending", refs[4])}}}}]}"""));

        // Older than the log: the full current table, never a partial delta.
        var snap = await sub.RequestAsync($$$"""{"service":"short_log","type":"subscribe","ref":"{{{refs[0]}}}"}""", ct);
        Assert.That(snap.GetRawText(), Is.EqualTo($$$"""{"type":"snapshot","service":"short_log","ref":"{{{refs[4]}}}","rows":[{{{Row("1", "AAPL", 10, "pending", refs[2])}}},{{{Row("3", "MSFT", 3, "pending", refs[4])}}}]}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_Filtered_SnapshotAndUpdatesOnlyMatching(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":2}}""", ct);
        await OkAsync(ws, """{"service":"set_status","ref":"r3","data":{"id":"2","status":"filled"}}""", ct);

        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status == 'filled'"}""", ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"snapshot","service":"all_orders","ref":"r3","rows":[{{{Row("2", "IBM", 2, "filled", "r3")}}}]}"""));

        await OkAsync(ws, """{"service":"add_order","ref":"r4","data":{"id":"4","symbol":"MSFT","qty":4}}""", ct);
        await OkAsync(ws, """{"service":"set_status","ref":"r5","data":{"id":"4","status":"filled"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"all_orders","ref":"r5","op":"update","row":{{{Row("4", "MSFT", 4, "filled", "r5")}}}}"""));

        // A row that stops matching produces nothing for a filtered query subscriber (0.1.0 behaviour).
        await OkAsync(ws, """{"service":"set_status","ref":"r6","data":{"id":"4","status":"cancelled"}}""", ct);
        await AssertSilentAsync(sub, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Unsubscribe_Query_SubscriberRemovedNoFurtherUpdates(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r1"));

        await sub.SendAsync("""{"service":"all_orders","type":"unsubscribe"}""", cancellationToken: ct);
        await SyncAsync(sub, ct);
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(0));
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":2}}""", ct);
        await AssertSilentAsync(sub, ct);
    }
}
