using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>CONFORMANCE.md H (items 90–100) and item 146 (F13): the subpub service.</summary>
public class SubPubServiceTests
{
    private static string Row(string id, string symbol, object qty, string status, string @ref) =>
        $$$"""{"id":"{{{id}}}","symbol":"{{{symbol}}}","qty":{{{qty}}},"price":0.0,"status":"{{{status}}}","_mkio_ref":"{{{@ref}}}"}""";

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_TwoCachedRows_SnapshotHasBothInCacheOrder(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);

        // Overwriting a cached key keeps its position.
        await OkAsync(ws, """{"service":"update_order","ref":"r3","data":{"id":"1","qty":7}}""", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        var snap = await sub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
        Assert.That(snap.GetRawText(), Is.EqualTo($$$"""{"type":"snapshot","service":"last_trade","ref":"r3","rows":[{{{Row("1", "AAPL", 7, "pending", "r3")}}},{{{Row("2", "IBM", 5, "pending", "r2")}}}]}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_FilterPending_OnlyThePendingRow(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        await OkAsync(ws, """{"service":"set_status","ref":"r3","data":{"id":"1","status":"filled"}}""", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        var snap = await sub.RequestAsync("""{"service":"last_trade","type":"subscribe","filter":"status == 'pending'"}""", ct);
        Assert.That(snap.GetRawText(), Is.EqualTo($$$"""{"type":"snapshot","service":"last_trade","ref":"r3","rows":[{{{Row("2", "IBM", 5, "pending", "r2")}}}]}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Update_NewKeyThenCachedKey_InsertThenUpdate(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"last_trade","ref":"r1","op":"insert","row":{{{Row("1", "AAPL", 100, "pending", "r1")}}}}"""));
        await OkAsync(ws, """{"service":"update_order","ref":"r2","data":{"id":"1","qty":50}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"last_trade","ref":"r2","op":"update","row":{{{Row("1", "AAPL", 50, "pending", "r2")}}}}"""));

        // An upsert is resolved against the cache too: a new key is an insert, a cached one an update.
        await OkAsync(ws, """{"service":"upsert_order","ref":"r3","data":{"id":"2","symbol":"IBM","qty":1}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"last_trade","ref":"r3","op":"insert","row":{{{Row("2", "IBM", 1, "pending", "r3")}}}}"""));
        await OkAsync(ws, """{"service":"upsert_order","ref":"r4","data":{"id":"2","symbol":"IBM","qty":2}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"last_trade","ref":"r4","op":"update","row":{{{Row("2", "IBM", 2, "pending", "r4")}}}}"""));
        await AssertSilentAsync(sub, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Update_KeySymbolSecondOrderSameSymbol_ReplacesCachedRowAsUpdate(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.SubPub("by_symbol", s => s.From("orders").Key("symbol"));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"by_symbol","type":"subscribe"}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetProperty("op").GetString(), Is.EqualTo("insert"));
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"AAPL","qty":3}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"by_symbol","ref":"r2","op":"update","row":{{{Row("2", "AAPL", 3, "pending", "r2")}}}}"""));

        await using var late = await host.ConnectAsync("ws", ct);
        Assert.That((await late.RequestAsync("""{"service":"by_symbol","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"snapshot","service":"by_symbol","ref":"r2","rows":[{{{Row("2", "AAPL", 3, "pending", "r2")}}}]}"""));
    }

    [Test, CancelAfter(60_000)]
    public async Task Where_StartupAndLiveChanges_OnlyMatchingRowsCachedAndPublished(CancellationToken ct)
    {
        static void Configure(MkioOptions o)
        {
            FixtureAPlusOnFile(o);
            o.SubPub("filled", s => s.From("orders").Key("id").Where("status == 'filled'").ChangeLogSize(100));
        }

        using var dir = new TempDirectory();
        await using (var first = await MkioTestHost.StartAsync(Configure, ct, directory: dir))
        {
            await using var ws = await first.ConnectAsync("ws", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
            await OkAsync(ws, """{"service":"set_status","ref":"r3","data":{"id":"2","status":"filled"}}""", ct);
        }

        await using var host = await MkioTestHost.StartAsync(Configure, ct, directory: dir);
        await using var writer = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"filled","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"snapshot","service":"filled","ref":"r3","rows":[{{{Row("2", "IBM", 5, "filled", "r3")}}}]}"""));

        // A non-matching insert publishes nothing; a matching one (new key) is an insert.
        await OkAsync(writer, """{"service":"add_order","ref":"r4","data":{"id":"4","symbol":"MSFT","qty":1}}""", ct);
        await OkAsync(writer, """{"service":"set_status","ref":"r5","data":{"id":"1","status":"filled"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"filled","ref":"r5","op":"insert","row":{{{Row("1", "AAPL", 100, "filled", "r5")}}}}"""));

        // A cached row that stops matching is published as a delete carrying the new row, and leaves the cache.
        await OkAsync(writer, """{"service":"set_status","ref":"r6","data":{"id":"2","status":"cancelled"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"filled","ref":"r6","op":"delete","row":{{{Row("2", "IBM", 5, "cancelled", "r6")}}}}"""));

        // Changing it again while it still does not match is dropped.
        await OkAsync(writer, """{"service":"update_order","ref":"r7","data":{"id":"2","qty":9}}""", ct);
        await AssertSilentAsync(sub, ct);

        await using var late = await host.ConnectAsync("ws", ct);
        Assert.That((await late.RequestAsync("""{"service":"filled","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"snapshot","service":"filled","ref":"r6","rows":[{{{Row("1", "AAPL", 100, "filled", "r5")}}}]}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Delete_CachedKey_PublishedAsDeleteWithFullRowAndRemoved(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        await sub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
        await OkAsync(ws, """{"service":"delete_order","ref":"r3","data":{"id":"1"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"last_trade","ref":"r3","op":"delete","row":{{{Row("1", "AAPL", 100, "pending", "r1")}}}}"""));

        // Deleting a missing key affects no row: no event.
        await OkAsync(ws, """{"service":"delete_order","ref":"r4","data":{"id":"1"}}""", ct);
        await AssertSilentAsync(sub, ct);

        await using var late = await host.ConnectAsync("ws", ct);
        Assert.That((await late.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"snapshot","service":"last_trade","ref":"r3","rows":[{{{Row("2", "IBM", 5, "pending", "r2")}}}]}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_WithRef_DeltaInsideLogEmptyWhenAheadSnapshotWhenOlder(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.SubPub("short_log", s => s.From("orders").Key("id").ChangeLogSize(3));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var refs = new List<string>();
        for (var i = 1; i <= 5; i++)
        {
            refs.Add(await OkAsync(ws, $$$"""{"service":"add_order","data":{"id":"{{{i}}}","symbol":"S{{{i}}}","qty":{{{i}}}}}""", ct));
        }

        await using var sub = await host.ConnectAsync("ws", ct);

        // refs[2] is the oldest entry of the 3-entry log: the delta holds the two later changes.
        var delta = await sub.RequestAsync($$$"""{"service":"short_log","type":"subscribe","ref":"{{{refs[2]}}}"}""", ct);
        Assert.That(delta.GetRawText(), Is.EqualTo($$$"""{"type":"delta","service":"short_log","ref":"{{{refs[4]}}}","changes":[{"op":"insert","row":{{{Row("4", "S4", 4, "pending", refs[3])}}}},{"op":"insert","row":{{{Row("5", "S5", 5, "pending", refs[4])}}}}]}"""));

        // A client ahead of the log gets an empty delta whose ref is the (older) newest entry.
        var ahead = await sub.RequestAsync("""{"service":"short_log","type":"subscribe","ref":"99991231 23:59:59.999999999999"}""", ct);
        Assert.That(ahead.GetRawText(), Is.EqualTo($$$"""{"type":"delta","service":"short_log","ref":"{{{refs[4]}}}","changes":[]}"""));

        // The newest ref itself: nothing missed.
        var current = await sub.RequestAsync($$$"""{"service":"short_log","type":"subscribe","ref":"{{{refs[4]}}}"}""", ct);
        Assert.That(current.GetRawText(), Is.EqualTo($$$"""{"type":"delta","service":"short_log","ref":"{{{refs[4]}}}","changes":[]}"""));

        // refs[1] fell out of the log: a full snapshot, never a partial delta.
        var older = await sub.RequestAsync($$$"""{"service":"short_log","type":"subscribe","ref":"{{{refs[1]}}}"}""", ct);
        Assert.That(older.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        Assert.That(older.GetProperty("ref").GetString(), Is.EqualTo(refs[4]));
        Assert.That(older.GetProperty("rows").GetArrayLength(), Is.EqualTo(5));
    }

    [Test, CancelAfter(30_000)]
    public async Task Publish_Formatter_ShapesSnapshotAndUpdateRows(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureB(o);
            o.SubPub("trades", s => s.From("orders").Key("id")
                .Publish("symbol", "symbol")
                .Publish("price", "IF(side == 'Buy', price, -price)")
                .Publish("time", "_mkio_ref"));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"orders","op":"place","ref":"r1","data":{"side":"Buy","symbol":"AAPL","qty":10,"price":150.5,"event":"new"}}""", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"trades","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"snapshot","service":"trades","ref":"r1","rows":[{"symbol":"AAPL","price":150.5,"time":"r1"}]}"""));
        await OkAsync(ws, """{"service":"orders","op":"place","ref":"r2","data":{"side":"Sell","symbol":"IBM","qty":3,"price":99.25,"event":"new"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"type":"update","service":"trades","ref":"r2","op":"insert","row":{"symbol":"IBM","price":-99.25,"time":"r2"}}"""));
        var delta = await sub.RequestAsync("""{"service":"trades","type":"subscribe","ref":"r1"}""", ct);
        Assert.That(delta.GetRawText(),
            Is.EqualTo("""{"type":"delta","service":"trades","ref":"r2","changes":[{"op":"insert","row":{"symbol":"IBM","price":-99.25,"time":"r2"}}]}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Where_ErrorOnOneEvent_LaterEventsStillProcessed(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.SubPub("big", s => s.From("orders").Key("id").Where("qty > 1"));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"big","type":"subscribe"}""", ct);

        // qty NULL: `qty > 1` raises; the event counts as not matching and the loop goes on (F1).
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":null}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"big","ref":"r2","op":"insert","row":{{{Row("2", "IBM", 5, "pending", "r2")}}}}"""));
        await OkAsync(ws, """{"service":"update_order","ref":"r3","data":{"id":"1","qty":3}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"big","ref":"r3","op":"insert","row":{{{Row("1", "AAPL", 3, "pending", "r3")}}}}"""));
        await AssertSilentAsync(sub, ct);
    }

    [Test, CancelAfter(60_000)]
    public async Task Where_StoredRowFailsWhereAtStartup_ServerStartsAndSkipsIt(CancellationToken ct)
    {
        static void Configure(MkioOptions o)
        {
            FixtureAPlusOnFile(o);
            o.SubPub("big", s => s.From("orders").Key("id").Where("qty > 1"));
        }

        using var dir = new TempDirectory();
        await using (var first = await MkioTestHost.StartAsync(Configure, ct, directory: dir))
        {
            await using var ws = await first.ConnectAsync("ws", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":null}}""", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        }

        await using var host = await MkioTestHost.StartAsync(Configure, ct, directory: dir);
        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"big","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"snapshot","service":"big","ref":"r2","rows":[{{{Row("2", "IBM", 5, "pending", "r2")}}}]}"""));
    }

    [Test, CancelAfter(60_000)]
    public async Task OrderBookLastTrade_PendingOrderForCachedSymbol_NothingPublishedCancelDeletes(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("static"));
        await using var host = await MkioTestHost.StartAsync(_ => { }, ct, directory: dir, tomlPath: Fixtures.OrderBookToml);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"snapshot","service":"last_trade","ref":"","rows":[]}"""));

        // A new (pending) order is not a trade.
        await OkAsync(ws, """{"service":"orders","op":"new","ref":"t1","data":{"side":"Sell","symbol":"AAPL","qty":10,"price":150.5}}""", ct);
        await OkAsync(ws, """{"service":"orders","op":"fill","ref":"t2","data":{"id":1}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"type":"update","service":"last_trade","ref":"t2","op":"insert","row":{"symbol":"AAPL","price":-150.5,"time":"t2"}}"""));

        // F13: a new pending order for the cached symbol is a different row: nothing is published, the trade stays.
        await OkAsync(ws, """{"service":"orders","op":"new","ref":"t3","data":{"side":"Buy","symbol":"AAPL","qty":5,"price":151.0}}""", ct);
        await OkAsync(ws, """{"service":"orders","op":"reject","ref":"t4","data":{"id":2}}""", ct);
        await AssertSilentAsync(sub, ct, "orders");
        await using (var late = await host.ConnectAsync("ws", ct))
        {
            Assert.That((await late.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct)).GetRawText(),
                Is.EqualTo("""{"type":"snapshot","service":"last_trade","ref":"t2","rows":[{"symbol":"AAPL","price":-150.5,"time":"t2"}]}"""));
        }

        // Cancelling the filled order itself evicts it: op delete (formatted new row).
        await OkAsync(ws, """{"service":"orders","op":"cancel","ref":"t5","data":{"id":1}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"type":"update","service":"last_trade","ref":"t5","op":"delete","row":{"symbol":"AAPL","price":-150.5,"time":"t5"}}"""));
        await AssertSilentAsync(sub, ct, "orders");
        await using var last = await host.ConnectAsync("ws", ct);
        Assert.That((await last.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"snapshot","service":"last_trade","ref":"t5","rows":[]}"""));
    }
}
