using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>
/// Rules of later subscriptions not covered elsewhere, exact frames over real Kestrel: unknown-service nacks for every
/// later message type, protocol mismatch texts, which nacks monitors see, getmore on a service that does not page, and
/// no delta for later subpub and query subscribers.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class LaterAuditTests
{
    private const string Config = """
        db_path = "audit.db"

        [tables.items]
        columns = { id = "TEXT PRIMARY KEY", name = "TEXT NOT NULL", qty = "INTEGER DEFAULT 0" }
        """ + "\n\n" + Fixtures.LaterListenersToml;

    private const string Available = "Available services: cache, feed, items, log, put";

    private static async Task WithServerAsync(CancellationToken ct, Func<MkioTestHost, TestSocket, Task> body, bool laterProtocol = false)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, Config, o => o.LaterProtocol = laterProtocol);
        await using (host)
        using (dir)
        {
            await using var writer = await host.ConnectAsync("ws", ct);
            await writer.WriteAsync("""{"service":"put","ref":"r1","data":{"id":"A1","name":"apple","qty":10}}""", ct);
            await body(host, writer);
        }
    }

    [TestCase("""{"type":"subscribe","service":"nope","protocol":"query","subid":"s","ref":"r"}""", ""","ref":"r","subid":"s"}""")]
    [TestCase("""{"type":"subscribe","service":"nope","subid":"s"}""", ""","subid":"s"}""")]
    [TestCase("""{"service":"nope","txnid":"t","ref":"r","data":{}}""", ""","ref":"r","txnid":"t"}""")]
    [TestCase("""{"type":"getmore","service":"nope","subid":"q"}""", ""","subid":"q"}""")]
    [TestCase("""{"type":"unsubscribe","service":"nope","subid":"q"}""", ""","subid":"q"}""")]
    [TestCase("""{"type":"request","service":"nope","reqid":"x"}""", "}")]
    [CancelAfter(60_000)]
    public Task UnknownService_EveryLaterMessage_NackWithEchoes_ZeroOneZeroKeepsItsError(string request, string tail, CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync(request, ct), Is.EqualTo($$"""{"type":"nack","service":"nope","message":"Unknown service: 'nope'. {{Available}}"{{tail}}"""));
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"nope","ref":"r"}""", ct), Is.EqualTo("""{"type":"error","message":"Unknown service: nope","ref":"r"}"""));
        });

    [TestCase("1", "not 1")]
    [TestCase("\"Query\"", "not 'Query'")]
    [TestCase("[\"query\"]", "not [\\\"query\\\"]")]
    [CancelAfter(60_000)]
    public Task ProtocolMismatch_StringCompare_ValueShownAsPythonRepr(string protocol, string shown, CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync($$"""{"type":"subscribe","service":"items","protocol":{{protocol}},"subid":"s"}""", ct),
                Is.EqualTo($$"""{"type":"nack","service":"items","message":"Protocol mismatch: service 'items' is 'query', {{shown}}","subid":"s"}"""));
            Assert.That(Subscriptions.LiveTest.Listener(host, "items").SubscriberCount, Is.Zero);
        });

    [Test, CancelAfter(60_000)]
    public Task MonitorAll_SeesProtocolAndPagingNacksAsOut_NotUnknownServiceNacks(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var monitor = await host.ConnectAsync("ws", ct);
            Assert.That(await monitor.AskAsync("""{"type":"monitor"}""", ct), Is.EqualTo("""{"type":"monitor_ack"}"""));
            await using var ws = await host.ConnectAsync("ws", ct);
            _ = await ws.AskAsync("""{"type":"subscribe","service":"nope","protocol":"query","subid":"u"}""", ct);
            _ = await ws.AskAsync("""{"type":"subscribe","service":"feed","protocol":"query","subid":"p"}""", ct);
            _ = await ws.AskAsync("""{"type":"getmore","service":"items","subid":"zz"}""", ct);
            var seen = new List<string>();
            for (var i = 0; i < 4; i++)
            {
                seen.Add((await monitor.ReceiveRawAsync(ct)).Text);
            }

            Assert.That(seen, Is.EqualTo(new[]
            {
                """{"direction":"in","service":"feed","message":{"type":"subscribe","service":"feed","protocol":"query","subid":"p"}}""",
                """{"direction":"out","service":"feed","message":{"type":"nack","service":"feed","message":"Protocol mismatch: service 'feed' is 'stream', not 'query'","subid":"p"}}""",
                """{"direction":"in","service":"items","message":{"type":"getmore","service":"items","subid":"zz"}}""",
                """{"direction":"out","service":"items","message":{"type":"nack","service":"items","message":"unknown subid","subid":"zz"}}""",
            }));
            Assert.That(await monitor.NoMessageWithinAsync(TimeSpan.FromMilliseconds(300), ct), Is.True);
        }, laterProtocol: true);

    [TestCase("feed")]
    [TestCase("cache")]
    [CancelAfter(60_000)]
    public Task Getmore_OnAServiceThatDoesNotPage_F15Error(string service, CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync($$"""{"type":"getmore","service":"{{service}}","subid":"s","ref":"r"}""", ct),
                Is.EqualTo("""{"type":"error","message":"Unknown message type: 'getmore'. Valid types: subscribe, unsubscribe, monitor","ref":"r"}"""));
        });

    [TestCase("cache", """{"type":"snapshot","service":"cache","rows":[{"id":"A1","name":"apple","qty":10,"_mkio_ref":"r1"}],"hasmore":false,"subid":"s"}""")]
    [TestCase("items", """{"type":"snapshot","service":"items","rows":[{"id":"A1","name":"apple","qty":10,"_mkio_ref":"r1","_mkio_row":"A1"}],"hasmore":false,"subid":"s"}""")]
    [CancelAfter(60_000)]
    public Task LaterSubscribeWithAKnownRef_SnapshotNeverDelta(string service, string expected, CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync($$"""{"type":"subscribe","service":"{{service}}","ref":"r1","subid":"s"}""", ct), Is.EqualTo(expected));
            Assert.That(await ws.AskAsync($$"""{"type":"subscribe","service":"{{service}}","ref":"r1"}""", ct), Does.StartWith("""{"type":"delta","""), "0.1.0 resume");
        });
}
