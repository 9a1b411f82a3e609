using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>CONFORMANCE item 69 (PROTOCOL.md §6.3; SERVICES.md §5.5): once the writer stops, new transactions fail with the stopping text.</summary>
[Parallelizable(ParallelScope.Children)]
public class WriterStoppingTests
{
    [Test, CancelAfter(30_000)]
    public async Task Transaction_AfterWriterStopped_WriterIsStoppingError(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var before = await ws.RequestAsync("""{"service":"add_order","ref":"b","data":{"id":"0","symbol":"A","qty":1}}""", ct);

        await TxTest.Engine(host).StopWriterAsync(TimeSpan.FromSeconds(5));
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","ref":"r69","msgid":69,"data":{"id":"1","symbol":"A","qty":1}}""",
            """{"service":"add_order","data":{"id":"2","symbol":"A","qty":1}}""",
            """{"service":"add_order","ref":"","data":{"id":"3","symbol":"A","qty":1}}""",
            """{"service":"add_order","type":"check","ref":"b"}""",
        ], ct);

        var generated = TxTest.Ref(replies[1].Json);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(before.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"b","ok":true}"""));
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Writer is stopping, no new submissions accepted","ref":"r69","msgid":69}"""));
            Assert.That(generated, Does.Match(TxTest.RefFormat()), "a ref-less request's error carries the ref generated for the attempt");
            Assert.That(replies[1].Text, Is.EqualTo($$"""{"type":"error","message":"Writer is stopping, no new submissions accepted","ref":"{{generated}}"}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"error","message":"Writer is stopping, no new submissions accepted","ref":""}"""));
            Assert.That(replies[3].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"b","ok":true}"""), "checks still work");
            Assert.That(TxTest.Column(host, "SELECT id FROM orders"), Is.EqualTo(new object[] { "0" }));
        }
    }
}
