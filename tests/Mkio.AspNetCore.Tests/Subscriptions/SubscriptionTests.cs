using System.Text.Json;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>CONFORMANCE.md G (items 77–89): rules common to subpub, stream and query subscriptions.</summary>
public class SubscriptionTests
{
    private const string Order1 = """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""";
    private const string Order1Row = """{"id":"1","symbol":"AAPL","qty":100,"price":0.0,"status":"pending","_mkio_ref":"r1"}""";

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_EachListenerType_ExactlyOneSnapshotWithKeysInOrder(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, Order1, ct);
        await OkAsync(ws, """{"service":"add_audit","ref":"a1","data":{"event":"new","order_id":"1"}}""", ct);

        foreach (var service in new[] { "all_orders", "last_trade", "audit_feed" })
        {
            await using var sub = await host.ConnectAsync("ws", ct);
            var first = await sub.RequestAsync($$$"""{"service":"{{{service}}}","type":"subscribe"}""", ct);
            Assert.That(Keys(first), Is.EqualTo(new[] { "type", "service", "ref", "rows" }), service);
            Assert.That(first.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
            Assert.That(first.GetProperty("service").GetString(), Is.EqualTo(service));
            await AssertSilentAsync(sub, ct);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_WithRefInLog_ExactlyOneDeltaWithKeysInOrder(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, Order1, ct);
        await OkAsync(ws, """{"service":"update_order","ref":"r2","data":{"id":"1","qty":5}}""", ct);

        foreach (var service in new[] { "all_orders", "last_trade" })
        {
            await using var sub = await host.ConnectAsync("ws", ct);
            var first = await sub.RequestAsync($$$"""{"service":"{{{service}}}","type":"subscribe","ref":"r1"}""", ct);
            Assert.That(first.GetRawText(), Is.EqualTo($$$"""{"type":"delta","service":"{{{service}}}","ref":"r2","changes":[{"op":"update","row":{"id":"1","symbol":"AAPL","qty":5,"price":0.0,"status":"pending","_mkio_ref":"r2"}}]}"""));
            Assert.That(Keys(first), Is.EqualTo(new[] { "type", "service", "ref", "changes" }));
            await AssertSilentAsync(sub, ct);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_EmptyLogAndBuffer_SnapshotRefIsEmptyString(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"snapshot","service":"all_orders","ref":"","rows":[]}"""));
        Assert.That((await sub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"snapshot","service":"last_trade","ref":"","rows":[]}"""));
        Assert.That((await sub.RequestAsync("""{"service":"audit_feed","type":"subscribe","ref":"20260101 00:00:00.000000000000"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"snapshot","service":"audit_feed","ref":"","rows":[]}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Update_AfterInsert_HasKeysInOrderAndTheTransactionRef(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        await sub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
        await sub.RequestAsync("""{"service":"audit_feed","type":"subscribe"}""", ct);

        // Server-generated ref: the update carries the same ref as the result.
        var r = await OkAsync(ws, """{"service":"add_order","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        var received = new[] { await sub.ReceiveAsync(ct), await sub.ReceiveAsync(ct) }.Select(m => m.GetRawText()).Order(StringComparer.Ordinal);
        Assert.That(received, Is.EqualTo(new[]
        {
            $$$"""{"type":"update","service":"all_orders","ref":"{{{r}}}","op":"insert","row":{"id":"1","symbol":"AAPL","qty":100,"price":0.0,"status":"pending","_mkio_ref":"{{{r}}}"}}""",
            $$$"""{"type":"update","service":"last_trade","ref":"{{{r}}}","op":"insert","row":{"id":"1","symbol":"AAPL","qty":100,"price":0.0,"status":"pending","_mkio_ref":"{{{r}}}"}}""",
        }));

        var a = await OkAsync(ws, """{"service":"add_audit","data":{"event":"new","order_id":"1"}}""", ct);
        var update = await sub.ReceiveAsync(ct);
        Assert.That(update.GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"audit_feed","ref":"{{{a}}}","op":"insert","row":{"id":1,"event":"new","order_id":"1","_mkio_ref":"{{{a}}}"}}"""));
        Assert.That(Keys(update), Is.EqualTo(new[] { "type", "service", "ref", "op", "row" }));
        await AssertSilentAsync(sub, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Update_ThreeSubscribersOfOneService_AllReceiveIt(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var subs = new List<TestSocket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var s = await host.ConnectAsync("ws", ct);
                subs.Add(s);
                await s.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
            }

            Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(3));
            await OkAsync(ws, Order1, ct);
            foreach (var s in subs)
            {
                Assert.That((await s.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"all_orders","ref":"r1","op":"insert","row":{{{Order1Row}}}}"""));
            }
        }
        finally
        {
            foreach (var s in subs)
            {
                await s.DisposeAsync();
            }
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Unsubscribe_ThenInsert_NoUpdateOnThatSocketOthersUnaffected(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var a = await host.ConnectAsync("ws", ct);
        await using var b = await host.ConnectAsync("ws", ct);
        await a.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        await a.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
        await b.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);

        // Unsubscribe has no reply; the JS client sends a ref with it, which is ignored.
        await a.SendAsync("""{"service":"all_orders","type":"unsubscribe","ref":"20260404 15:31:00.000000000000"}""", cancellationToken: ct);
        await SyncAsync(a, ct);
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(1));
        Assert.That(Listener(host, "last_trade").SubscriberCount, Is.EqualTo(1));

        await OkAsync(ws, Order1, ct);
        Assert.That((await b.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"all_orders","ref":"r1","op":"insert","row":{{{Order1Row}}}}"""));

        // a still gets last_trade (the other service), but nothing from all_orders.
        Assert.That((await a.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"last_trade","ref":"r1","op":"insert","row":{{{Order1Row}}}}"""));
        await AssertSilentAsync(a, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Unsubscribe_NotSubscribed_NoReplyAndSocketKeepsWorking(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var a = await host.ConnectAsync("ws", ct);
        await a.SendAsync("""{"service":"all_orders","type":"unsubscribe"}""", cancellationToken: ct);
        await AssertSilentAsync(a, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Close_SubscriberSocket_RemovedAndOthersStillUpdated(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var a = await host.ConnectAsync("ws", ct);
        await using var b = await host.ConnectAsync("ws", ct);
        await a.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        await a.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
        await b.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(2));

        // The server answers the close handshake only after the session was torn down.
        await a.CloseAsync();
        await a.Closed;
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(1));
        Assert.That(Listener(host, "last_trade").SubscriberCount, Is.EqualTo(0));

        await OkAsync(ws, Order1, ct);
        Assert.That((await b.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"all_orders","ref":"r1","op":"insert","row":{{{Order1Row}}}}"""));
        await OkAsync(ws, """{"service":"update_order","ref":"r2","data":{"id":"1","qty":7}}""", ct);
        Assert.That((await b.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r2"));
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_FilterOnServiceWithoutFilterable_FilterIgnored(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.Query("plain_orders", s => s.From("orders"));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, Order1, ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        await OkAsync(ws, """{"service":"add_audit","ref":"a1","data":{"event":"new","order_id":"1"}}""", ct);

        await using var sub = await host.ConnectAsync("ws", ct);
        var snap = await sub.RequestAsync("""{"service":"plain_orders","type":"subscribe","filter":"symbol == 'NONE'"}""", ct);
        Assert.That(snap.GetProperty("rows").GetArrayLength(), Is.EqualTo(2), snap.GetRawText());

        // Even a filter that does not parse is ignored (no nack) when the service has no filterable list.
        var feed = await sub.RequestAsync("""{"service":"audit_feed","type":"subscribe","filter":"event == 'x"}""", ct);
        Assert.That(feed.GetRawText(), Is.EqualTo("""{"type":"snapshot","service":"audit_feed","ref":"a1","rows":[{"id":1,"event":"new","order_id":"1","_mkio_ref":"a1"}]}"""));

        await OkAsync(ws, """{"service":"add_order","ref":"r3","data":{"id":"3","symbol":"MSFT","qty":1}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r3"));
        await OkAsync(ws, """{"service":"add_audit","ref":"a2","data":{"event":"other","order_id":"3"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo("""{"type":"update","service":"audit_feed","ref":"a2","op":"insert","row":{"id":2,"event":"other","order_id":"3","_mkio_ref":"a2"}}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_FilterOnFilterableService_AppliesToSnapshotAndUpdates(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, Order1, ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        await OkAsync(ws, """{"service":"set_status","ref":"r3","data":{"id":"2","status":"filled"}}""", ct);

        await using var sub = await host.ConnectAsync("ws", ct);
        var snap = await sub.RequestAsync("""{"service":"last_trade","type":"subscribe","filter":"status == 'filled'"}""", ct);
        Assert.That(snap.GetRawText(), Is.EqualTo("""{"type":"snapshot","service":"last_trade","ref":"r3","rows":[{"id":"2","symbol":"IBM","qty":5,"price":0.0,"status":"filled","_mkio_ref":"r3"}]}"""));
        var q = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status == 'pending'"}""", ct);
        Assert.That(q.GetRawText(), Is.EqualTo($$$"""{"type":"snapshot","service":"all_orders","ref":"r3","rows":[{{{Order1Row}}}]}"""));

        // A pending insert: all_orders passes it, last_trade filters it out.
        await OkAsync(ws, """{"service":"add_order","ref":"r4","data":{"id":"4","symbol":"MSFT","qty":1}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo("""{"type":"update","service":"all_orders","ref":"r4","op":"insert","row":{"id":"4","symbol":"MSFT","qty":1,"price":0.0,"status":"pending","_mkio_ref":"r4"}}"""));

        // Filling it: last_trade passes it, all_orders filters it out.
        await OkAsync(ws, """{"service":"set_status","ref":"r5","data":{"id":"4","status":"filled"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo("""{"type":"update","service":"last_trade","ref":"r5","op":"update","row":{"id":"4","symbol":"MSFT","qty":1,"price":0.0,"status":"filled","_mkio_ref":"r5"}}"""));
        await AssertSilentAsync(sub, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_FilterOnPublishedFields_EvaluatedOnFormattedRow(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.SubPub("fmt_trade", s => s.From("orders").Key("id").Publish("sym", "symbol").Publish("q", "qty * 2").Filterable("symbol"));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":3}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":10}}""", ct);

        await using var formatted = await host.ConnectAsync("ws", ct);
        await using var raw = await host.ConnectAsync("ws", ct);
        Assert.That((await formatted.RequestAsync("""{"service":"fmt_trade","type":"subscribe","filter":"q > 10"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"snapshot","service":"fmt_trade","ref":"r2","rows":[{"sym":"IBM","q":20}]}"""));

        // A raw column that the formatter drops is unknown to the filter: a nack naming it (issue 9 item 4).
        Assert.That((await raw.RequestAsync("""{"service":"fmt_trade","type":"subscribe","filter":"qty > 1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"nack","service":"fmt_trade","message":"Unknown field: qty. Available fields: sym, q"}"""));

        await OkAsync(ws, """{"service":"add_order","ref":"r3","data":{"id":"3","symbol":"MSFT","qty":4}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r4","data":{"id":"4","symbol":"ORCL","qty":6}}""", ct);
        Assert.That((await formatted.ReceiveAsync(ct)).GetRawText(), Is.EqualTo("""{"type":"update","service":"fmt_trade","ref":"r4","op":"insert","row":{"sym":"ORCL","q":12}}"""));
        await AssertSilentAsync(formatted, ct);
        await AssertSilentAsync(raw, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_TwiceOnOneSocket_SecondReplacesFirstOneUpdatePerChange(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, Order1, ct);
        foreach (var service in new[] { "all_orders", "last_trade", "audit_feed" })
        {
            var first = await sub.RequestAsync($$$"""{"service":"{{{service}}}","type":"subscribe","filter":"status == 'filled'"}""", ct);
            var second = await sub.RequestAsync($$$"""{"service":"{{{service}}}","type":"subscribe"}""", ct);
            Assert.That(first.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
            Assert.That(second.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
            Assert.That(Listener(host, service).SubscriberCount, Is.EqualTo(1), service);
        }

        // The newest subscription (no filter) governs: the pending row arrives, once per service.
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        await OkAsync(ws, """{"service":"add_audit","ref":"a1","data":{"event":"new","order_id":"2"}}""", ct);
        var got = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var m = await sub.ReceiveAsync(ct);
            got.Add(m.GetProperty("service").GetString() + " " + m.GetProperty("ref").GetString());
        }

        Assert.That(got.Order(StringComparer.Ordinal), Is.EqualTo(new[] { "all_orders r2", "audit_feed a1", "last_trade r2" }));
        await AssertSilentAsync(sub, ct);

        // One unsubscribe ends it.
        await sub.SendAsync("""{"service":"all_orders","type":"unsubscribe"}""", cancellationToken: ct);
        await SyncAsync(sub, ct);
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(0));
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_FilterSyntaxError_NackOnlyNothingRegisteredEarlierEnded(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, Order1, ct);
        Assert.That((await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(1));

        var nack = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","ref":"s1","filter":"status == 'open"}""", ct);
        Assert.That(nack.GetRawText(), Is.EqualTo("""{"type":"nack","service":"all_orders","message":"Unterminated string literal","ref":"s1"}"""));
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(0));
        var nack2 = await sub.RequestAsync("""{"service":"last_trade","type":"subscribe","filter":"status == 'open"}""", ct);
        Assert.That(nack2.GetRawText(), Is.EqualTo("""{"type":"nack","service":"last_trade","message":"Unterminated string literal"}"""));
        Assert.That(Listener(host, "last_trade").SubscriberCount, Is.EqualTo(0));

        // No snapshot or error follows, no update arrives, and the socket keeps working.
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        await AssertSilentAsync(sub, ct);
        Assert.That(sub.State, Is.EqualTo(System.Net.WebSockets.WebSocketState.Open));
        var again = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status == 'pending'"}""", ct);
        Assert.That(again.GetProperty("rows").GetArrayLength(), Is.EqualTo(2));
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_FilterErrorsOnSomeRows_RowsSkippedOthersUnaffected(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":null}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);

        await using var filtered = await host.ConnectAsync("ws", ct);
        await using var plain = await host.ConnectAsync("ws", ct);
        Assert.That((await filtered.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"qty > 1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"snapshot","service":"all_orders","ref":"r2","rows":[{"id":"2","symbol":"IBM","qty":5,"price":0.0,"status":"pending","_mkio_ref":"r2"}]}"""));
        Assert.That((await filtered.RequestAsync("""{"service":"last_trade","type":"subscribe","filter":"qty > 1"}""", ct)).GetProperty("rows").GetArrayLength(), Is.EqualTo(1));
        Assert.That((await plain.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct)).GetProperty("rows").GetArrayLength(), Is.EqualTo(2));

        await OkAsync(ws, """{"service":"add_order","ref":"r3","data":{"id":"3","symbol":"MSFT","qty":null}}""", ct);
        Assert.That((await plain.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r3"));
        await OkAsync(ws, """{"service":"add_order","ref":"r4","data":{"id":"4","symbol":"ORCL","qty":7}}""", ct);
        Assert.That((await plain.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r4"));
        var updates = new[] { await filtered.ReceiveAsync(ct), await filtered.ReceiveAsync(ct) };
        Assert.That(updates.Select(u => u.GetProperty("service").GetString() + " " + u.GetProperty("ref").GetString()).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { "all_orders r4", "last_trade r4" }));
        await AssertSilentAsync(filtered, ct);
        await AssertSilentAsync(plain, ct);
    }

    [Test, CancelAfter(60_000)]
    public async Task Subscribe_WhileWritesCommit_EachChangeExactlyOnceInSnapshotOrUpdates(CancellationToken ct)
    {
        const int count = 300;
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var writer = await host.ConnectAsync("ws", ct);
        var subs = new List<TestSocket>();
        try
        {
            // Pipeline every insert without waiting, and subscribe while they commit (F9).
            var sending = Task.Run(async () =>
            {
                for (var i = 0; i < count; i++)
                {
                    await writer.SendAsync($$$"""{"service":"add_order","ref":"w{{{i}}}","data":{"id":"{{{i}}}","symbol":"S","qty":{{{i}}}}}""", cancellationToken: ct);
                }
            }, ct);
            for (var i = 0; i < 6; i++)
            {
                var s = await host.ConnectAsync("ws", ct);
                subs.Add(s);
                await s.SendAsync($$$"""{"service":"{{{(i % 2 == 0 ? "all_orders" : "last_trade")}}}","type":"subscribe"}""", cancellationToken: ct);
                Assert.That((await writer.ReceiveAsync(ct)).GetProperty("ok").GetBoolean(), Is.True);
            }

            await sending;
            for (var i = subs.Count; i < count; i++)
            {
                var r = await writer.ReceiveAsync(ct);
                Assert.That(r.GetProperty("ok").GetBoolean(), Is.True);
            }

            foreach (var s in subs)
            {
                var snapshot = await s.ReceiveAsync(ct);
                Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
                var seen = snapshot.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("id").GetString()!).ToList();
                var lastRef = -1;
                if (seen.Count > 0)
                {
                    // The snapshot ref names the newest change it contains.
                    Assert.That(snapshot.GetProperty("ref").GetString(), Is.EqualTo("w" + (seen.Count - 1)), snapshot.GetRawText());
                    lastRef = seen.Count - 1;
                }

                while (seen.Count < count)
                {
                    var u = await s.ReceiveAsync(ct);
                    Assert.That(u.GetProperty("op").GetString(), Is.EqualTo("insert"));
                    var n = int.Parse(u.GetProperty("ref").GetString()!.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
                    Assert.That(n, Is.EqualTo(lastRef + 1), "updates continue exactly after the snapshot, in commit order");
                    lastRef = n;
                    seen.Add(u.GetProperty("row").GetProperty("id").GetString()!);
                }

                Assert.That(seen, Is.EqualTo(Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))));
                await AssertSilentAsync(s, ct);
            }
        }
        finally
        {
            foreach (var s in subs)
            {
                await s.DisposeAsync();
            }
        }
    }
}
