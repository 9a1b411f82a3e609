using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Subscriptions;

public class SubscriptionSmokeTests
{
    [Test, CancelAfter(30_000)]
    public async Task Query_SubscribeThenInsert_SnapshotThenUpdate(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await ws.RequestAsync("""{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        var snap = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        Assert.That(snap.GetRawText(), Is.EqualTo("""{"type":"snapshot","service":"all_orders","ref":"r1","rows":[{"id":"1","symbol":"AAPL","qty":100,"price":0.0,"status":"pending","_mkio_ref":"r1"}]}"""));
        await ws.RequestAsync("""{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":5}}""", ct);
        var upd = await sub.ReceiveAsync(ct);
        Assert.That(upd.GetRawText(), Is.EqualTo("""{"type":"update","service":"all_orders","ref":"r2","op":"insert","row":{"id":"2","symbol":"IBM","qty":5,"price":0.0,"status":"pending","_mkio_ref":"r2"}}"""));
        var delta = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","ref":"r1"}""", ct);
        Assert.That(delta.GetProperty("type").GetString(), Is.EqualTo("delta"));
        Assert.That(delta.GetProperty("changes").GetArrayLength(), Is.EqualTo(1));
        var subpub = await sub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
        Assert.That(subpub.GetProperty("rows").GetArrayLength(), Is.EqualTo(2));
        var stream = await sub.RequestAsync("""{"service":"audit_feed","type":"subscribe"}""", ct);
        Assert.That(stream.GetRawText(), Is.EqualTo("""{"type":"snapshot","service":"audit_feed","ref":"","rows":[]}"""));
        var nack = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status == 'open"}""", ct);
        Assert.That(nack.GetRawText(), Is.EqualTo("""{"type":"nack","service":"all_orders","message":"Unterminated string literal"}"""));
    }
}
