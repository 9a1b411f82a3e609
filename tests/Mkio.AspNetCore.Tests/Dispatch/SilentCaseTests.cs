using Mkio.AspNetCore.Tests.Transactions;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Dispatch;

/// <summary>
/// CONFORMANCE item 40 (PROTOCOL.md §5 step 7): the cases that get no reply at all — except a subscribe to a
/// transaction service, which the reference ignores and we answer with a <c>nack</c> (issue 9 item 4).
/// </summary>
[Parallelizable(ParallelScope.Children)]
public class SilentCaseTests
{
    private static readonly TimeSpan Silence = TimeSpan.FromMilliseconds(300);

    [TestCase("""{"service":"all_orders","type":"unsubscribe","ref":"u1","msgid":"m1"}""")]
    [TestCase("""{"service":"last_trade","type":"unsubscribe"}""")]
    [TestCase("""{"service":"add_order","type":"unsubscribe"}""")]
    [CancelAfter(30_000)]
    public async Task Dispatch_SilentCase_NoReplyAndNextRequestAnswered(string frame, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await ws.SendAsync(frame, cancellationToken: ct);
        var silent = await ws.NoMessageWithinAsync(Silence, ct);
        var next = await ws.RequestAsync("""{"service":"add_order","ref":"next","data":{"id":"1","symbol":"A","qty":1}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(silent, Is.True, "no reply expected");
            Assert.That(next.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"next","ok":true}"""));
            Assert.That(TxTest.Count(host, "orders"), Is.EqualTo(1), "a subscribe/unsubscribe must not execute a transaction");
        }
    }

    [TestCase("""{"service":"add_order","type":"subscribe"}""", """{"type":"nack","service":"add_order","message":"Service 'add_order' is a transaction service; it does not accept subscriptions (subscribe to a subpub, stream or query service)"}""")]
    [TestCase("""{"service":"add_order","type":"subscribe","ref":"s1","msgid":"m1","filter":"qty > 1"}""", """{"type":"nack","service":"add_order","message":"Service 'add_order' is a transaction service; it does not accept subscriptions (subscribe to a subpub, stream or query service)","ref":"s1"}""")]
    [CancelAfter(30_000)]
    public async Task Dispatch_SubscribeToTransactionService_NackThenNextRequestAnswered(string frame, string expected, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var nack = await ws.RequestAsync(frame, ct);
        var silent = await ws.NoMessageWithinAsync(Silence, ct);
        var next = await ws.RequestAsync("""{"service":"add_order","ref":"next","data":{"id":"1","symbol":"A","qty":1}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(nack.GetRawText(), Is.EqualTo(expected));
            Assert.That(silent, Is.True, "one nack, nothing else");
            Assert.That(next.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"next","ok":true}"""));
            Assert.That(TxTest.Count(host, "orders"), Is.EqualTo(1), "a subscribe must not execute a transaction");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Dispatch_SubscribeThenUnsubscribeOnTransactionService_NackThenSilent(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws/add_order", ct);
        await ws.SendAsync("""{"type":"subscribe","ref":"s"}""", cancellationToken: ct);
        await ws.SendAsync("""{"type":"unsubscribe","ref":"u"}""", cancellationToken: ct);
        await ws.SendAsync("""{"type":"unsubscribe","ref":"u2"}""", cancellationToken: ct);
        var nack = await ws.ReceiveAsync(ct);
        var silent = await ws.NoMessageWithinAsync(Silence, ct);
        var next = await ws.RequestAsync("""{"type":"check","ref":"zz"}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(nack.GetProperty("type").GetString(), Is.EqualTo("nack"));
            Assert.That(nack.GetProperty("ref").GetString(), Is.EqualTo("s"));
            Assert.That(silent, Is.True, "no reply to the unsubscribes");
            Assert.That(next.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"zz","status":"unknown","ok":true}"""));
        }
    }
}
