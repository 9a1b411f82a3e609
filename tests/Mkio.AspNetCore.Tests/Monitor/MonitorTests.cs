using Mkio.AspNetCore.Tests.Subscriptions;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Monitor;

/// <summary>CONFORMANCE.md K (items 114–120) and item 148 (F15 errors of listener services, seen by monitors).</summary>
public class MonitorTests
{
    private const string Order1Row = """{"id":"1","symbol":"AAPL","qty":100,"price":0.0,"status":"pending","_mkio_ref":"tx1"}""";

    [Test, CancelAfter(30_000)]
    public async Task Monitor_KnownService_AckWithRefOnlyWhenGiven(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var mon = await host.ConnectAsync("ws", ct);
        Assert.That((await mon.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"monitor_ack","service":"add_order"}"""));
        Assert.That((await mon.RequestAsync("""{"type":"monitor","service":"add_order","ref":"m1","msgid":"x"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"monitor_ack","service":"add_order","ref":"m1"}"""));
        Assert.That((await mon.RequestAsync("""{"type":"monitor","service":"all_orders","ref":""}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"monitor_ack","service":"all_orders"}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Monitor_UnknownOrMissingService_Error(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var mon = await host.ConnectAsync("ws", ct);
        Assert.That((await mon.RequestAsync("""{"type":"monitor","service":"nosuch"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"Unknown service: nosuch"}"""));
        Assert.That((await mon.RequestAsync("""{"type":"monitor","service":"nosuch","ref":"m2","msgid":7}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"Unknown service: nosuch","ref":"m2","msgid":7}"""));
        Assert.That((await mon.RequestAsync("""{"type":"monitor"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"Missing 'service' field"}"""));
        Assert.That((await mon.RequestAsync("""{"type":"monitor","service":"","ref":"m3"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"Missing 'service' field","ref":"m3"}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Monitor_TransactionOnOtherSocket_InThenOutEnvelopes(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var mon = await host.ConnectAsync("ws", ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await mon.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct);

        // The inbound message is forwarded as received (unknown keys included), re-encoded compactly.
        await OkAsync(ws, """{ "service": "add_order", "ref": "tx1", "extra": [1, 2.5], "data": {"id": "1", "symbol": "AAPL", "qty": 100} }""", ct);
        var @in = await mon.ReceiveAsync(ct);
        var @out = await mon.ReceiveAsync(ct);
        Assert.That(@in.GetRawText(), Is.EqualTo("""{"direction":"in","service":"add_order","message":{"service":"add_order","ref":"tx1","extra":[1,2.5],"data":{"id":"1","symbol":"AAPL","qty":100}}}"""));
        Assert.That(@out.GetRawText(), Is.EqualTo("""{"direction":"out","service":"add_order","message":{"type":"result","service":"add_order","ref":"tx1","ok":true}}"""));
        Assert.That(Keys(@in), Is.EqualTo(new[] { "direction", "service", "message" }));
        Assert.That(Keys(@out), Is.EqualTo(new[] { "direction", "service", "message" }));

        // A failing transaction: its error is forwarded too.
        await TxAsync(ws, """{"service":"add_order","ref":"tx2","msgid":"m","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"in","service":"add_order","message":{"service":"add_order","ref":"tx2","msgid":"m","data":{"id":"1","symbol":"AAPL","qty":1}}}"""));
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo($$$"""{"direction":"out","service":"add_order","message":{"type":"error","message":"{{{StoreErrors.UniqueJson("orders", "id")}}}","ref":"tx2","msgid":"m"}}"""));

        // A check and its answer.
        await ws.RequestAsync("""{"service":"add_order","type":"check","ref":"tx1"}""", ct);
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"in","service":"add_order","message":{"service":"add_order","type":"check","ref":"tx1"}}"""));
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"out","service":"add_order","message":{"type":"result","service":"add_order","ref":"tx1","ok":true}}"""));
        await AssertSilentAsync(mon, ct, "delete_order");
    }

    [Test, CancelAfter(30_000)]
    public async Task Monitor_ListenerService_SeesSubscribeSnapshotAndOneUpdatePerChange(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var mon = await host.ConnectAsync("ws", ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var a = await host.ConnectAsync("ws", ct);
        await using var b = await host.ConnectAsync("ws", ct);
        await mon.RequestAsync("""{"type":"monitor","service":"all_orders"}""", ct);

        await a.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"in","service":"all_orders","message":{"service":"all_orders","type":"subscribe"}}"""));
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"out","service":"all_orders","message":{"type":"snapshot","service":"all_orders","ref":"","rows":[]}}"""));
        await b.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status == 'pending'"}""", ct);
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"in","service":"all_orders","message":{"service":"all_orders","type":"subscribe","filter":"status == 'pending'"}}"""));
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"out","service":"all_orders","message":{"type":"snapshot","service":"all_orders","ref":"","rows":[]}}"""));

        // Two subscribers receive the insert; the monitor sees it once.
        await OkAsync(ws, """{"service":"add_order","ref":"tx1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        await a.ReceiveAsync(ct);
        await b.ReceiveAsync(ct);
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo($$$"""{"direction":"out","service":"all_orders","message":{"type":"update","service":"all_orders","ref":"tx1","op":"insert","row":{{{Order1Row}}}}}"""));

        // A delta reply is forwarded too; an unsubscribe shows as "in" only.
        await a.RequestAsync("""{"service":"all_orders","type":"subscribe","ref":"tx1"}""", ct);
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"in","service":"all_orders","message":{"service":"all_orders","type":"subscribe","ref":"tx1"}}"""));
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"out","service":"all_orders","message":{"type":"delta","service":"all_orders","ref":"tx1","changes":[]}}"""));
        await a.SendAsync("""{"service":"all_orders","type":"unsubscribe"}""", cancellationToken: ct);
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"in","service":"all_orders","message":{"service":"all_orders","type":"unsubscribe"}}"""));
        await SyncAsync(a, ct);

        // A change no subscriber receives (b filters it out, a is gone) is not forwarded.
        await OkAsync(ws, """{"service":"set_status","ref":"tx2","data":{"id":"1","status":"filled"}}""", ct);
        await AssertSilentAsync(mon, ct);
        await AssertSilentAsync(b, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Monitor_FilterNack_ForwardedAsOut(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var mon = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await mon.RequestAsync("""{"type":"monitor","service":"last_trade"}""", ct);
        await sub.RequestAsync("""{"service":"last_trade","type":"subscribe","ref":"s1","filter":"status == 'open"}""", ct);
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"in","service":"last_trade","message":{"service":"last_trade","type":"subscribe","ref":"s1","filter":"status == 'open"}}"""));
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"out","service":"last_trade","message":{"type":"nack","service":"last_trade","message":"Unterminated string literal","ref":"s1"}}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Monitor_TwoMonitorsOnOneService_BothReceiveBothEnvelopes(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var m1 = await host.ConnectAsync("ws", ct);
        await using var m2 = await host.ConnectAsync("ws", ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await m1.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct);
        await m2.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct);

        // Registering again is idempotent: still one envelope each.
        await m2.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"tx1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        foreach (var m in new[] { m1, m2 })
        {
            Assert.That((await m.ReceiveAsync(ct)).GetRawText(),
                Is.EqualTo("""{"direction":"in","service":"add_order","message":{"service":"add_order","ref":"tx1","data":{"id":"1","symbol":"AAPL","qty":100}}}"""));
            Assert.That((await m.ReceiveAsync(ct)).GetRawText(),
                Is.EqualTo("""{"direction":"out","service":"add_order","message":{"type":"result","service":"add_order","ref":"tx1","ok":true}}"""));
            await AssertSilentAsync(m, ct, "delete_order");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Monitor_MonitorDisconnects_RemovedAndTransactionsStillSucceed(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var service = Service(host, "add_order");
        await using (var mon = await host.ConnectAsync("ws", ct))
        {
            await mon.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct);
            Assert.That(service.HasMonitors, Is.True);
            await mon.CloseAsync();
            await mon.Closed;
        }

        Assert.That(service.HasMonitors, Is.False);
        await OkAsync(ws, """{"service":"add_order","ref":"tx1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"tx2","data":{"id":"2","symbol":"IBM","qty":1}}""", ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Monitor_PerServiceEndpoint_MonitorsTheUrlService(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var mon = await host.ConnectAsync("ws/add_order", ct);
        await using var ws = await host.ConnectAsync("ws/add_order", ct);
        Assert.That((await mon.RequestAsync("""{"type":"monitor"}""", ct)).GetRawText(), Is.EqualTo("""{"type":"monitor_ack","service":"add_order"}"""));
        await OkAsync(ws, """{"ref":"tx1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"in","service":"add_order","message":{"ref":"tx1","data":{"id":"1","symbol":"AAPL","qty":100}}}"""));
        Assert.That((await mon.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"direction":"out","service":"add_order","message":{"type":"result","service":"add_order","ref":"tx1","ok":true}}"""));
    }

    [TestCase("all_orders", "query")]
    [TestCase("last_trade", "subpub")]
    [TestCase("audit_feed", "stream")]
    [CancelAfter(30_000)]
    public async Task ListenerService_NonSubscriptionMessages_ErrorEchoesAndMonitorSeesInAndOut(string service, string kind, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct);
        await using var mon = await host.ConnectAsync("ws", ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await mon.RequestAsync($$$"""{"type":"monitor","service":"{{{service}}}"}""", ct);

        var cases = new (string Request, string Reply)[]
        {
            ($$$"""{"service":"{{{service}}}","type":"bogus","msgid":"m9"}""",
                """{"type":"error","message":"Unknown message type: 'bogus'. Valid types: subscribe, unsubscribe, monitor","msgid":"m9"}"""),
            ($$$"""{"service":"{{{service}}}","ref":"t1","data":{"id":"9","symbol":"X","qty":1}}""",
                $$$"""{"type":"error","message":"Service '{{{service}}}' is a {{{kind}}} service; it does not accept transactions","ref":"t1"}"""),
            ($$$"""{"service":"{{{service}}}","type":"transaction","msgid":5}""",
                $$$"""{"type":"error","message":"Service '{{{service}}}' is a {{{kind}}} service; it does not accept transactions","msgid":5}"""),
            ($$$"""{"service":"{{{service}}}","type":"check","ref":"c1","msgid":"m1"}""",
                $$$"""{"type":"error","message":"Service '{{{service}}}' is a {{{kind}}} service; check applies to transaction services only","ref":"c1","msgid":"m1"}"""),
            ($$$"""{"service":"{{{service}}}","type":7,"ref":null}""",
                """{"type":"error","message":"Unknown message type: 7. Valid types: subscribe, unsubscribe, monitor"}"""),
        };
        foreach (var (request, reply) in cases)
        {
            Assert.That((await ws.RequestAsync(request, ct)).GetRawText(), Is.EqualTo(reply), request);
            var @in = await mon.ReceiveAsync(ct);
            Assert.That(@in.GetProperty("direction").GetString(), Is.EqualTo("in"));
            Assert.That(@in.GetProperty("message").GetRawText(), Is.EqualTo(System.Text.Json.JsonDocument.Parse(request).RootElement.GetRawText()));
            Assert.That((await mon.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"direction":"out","service":"{{{service}}}","message":{{{reply}}}}"""));
        }

        // Nothing was written, nothing else was sent, and the socket keeps working.
        Assert.That(ReadDb(host.Directory.File(DbFile), "SELECT COUNT(*) AS n FROM orders")[0]["n"], Is.EqualTo(0L));
        await AssertSilentAsync(ws, ct);
        Assert.That((await ws.RequestAsync($$$"""{"service":"{{{service}}}","type":"subscribe"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("snapshot"));
    }

    [Test, CancelAfter(30_000)]
    public async Task Monitor_DispatcherErrorsAndMonitorRequests_NotForwarded(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var mon = await host.ConnectAsync("ws", ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await mon.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct);
        await ws.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct);
        await ws.RequestAsync("""{"service":"nosuch"}""", ct);
        await ws.RequestAsync("""not json""", ct);
        await AssertSilentAsync(mon, ct, "delete_order");
    }
}
