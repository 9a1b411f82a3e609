using System.Text.Json;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

public class SmokeTests
{
    [Test, CancelAfter(30_000)]
    public async Task Insert_WithClientRef_ReturnsResultAndStoresRow(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"add_order","ref":"ref1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"ref1","ok":true}"""));
        var missing = await ws.RequestAsync("""{"service":"add_order","msgid":7,"data":{"id":"2"}}""", ct);
        Assert.That(missing.GetProperty("message").GetString(), Is.EqualTo("Missing field: 'symbol'"));
        Assert.That(missing.GetProperty("msgid").GetInt32(), Is.EqualTo(7));
        var dup = await ws.RequestAsync("""{"service":"add_order","ref":"r1b","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
        Assert.That(dup.GetRawText(), Is.EqualTo($$"""{"type":"error","message":"{{StoreErrors.UniqueJson("orders", "id")}}","ref":"r1b"}"""));
        var check = await ws.RequestAsync("""{"service":"add_order","type":"check","ref":"ref1"}""", ct);
        Assert.That(check.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"ref1","ok":true}"""));
    }
}
