using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Dispatch;

public class LoneSurrogateTests
{
    [TestCase("""{"service":"add_order","data":{"id":"\ud800","symbol":"A","qty":1}}""")]
    [TestCase("""{"service":"\ud800"}""")]
    [TestCase("""{"service":"add_order","ref":"\udc00","data":{}}""")]
    [CancelAfter(30_000)]
    public async Task HandleAsync_LoneSurrogateEscape_ErrorReplyAndSocketStaysOpen(string message, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync(message, ct);
        Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"error","message":"Invalid JSON: a string contains an invalid Unicode escape"}"""));
        var ok = await ws.RequestAsync("""{"service":"add_order","ref":"after","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        Assert.That(ok.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"after","ok":true}"""));
    }
}
