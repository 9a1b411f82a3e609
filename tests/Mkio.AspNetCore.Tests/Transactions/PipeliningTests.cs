using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.Diagnostics;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>Fix F17 (CONFORMANCE item 152 without its subscribe part; PROTOCOL.md §10).</summary>
[Parallelizable(ParallelScope.Children)]
public class PipeliningTests
{
    [Test, CancelAfter(30_000)]
    public async Task Pipeline_ThirtyTwoBackToBack_RepliesInSendOrder(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            TxTest.FixtureAOnFile(o);
            o.BatchMaxWaitMs = 20;
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var messages = Enumerable.Range(0, 32)
            .Select(i => i % 8 == 5
                ? $$$"""{"service":"add_order","ref":"p{{{i}}}","msgid":{{{i}}},"data":{"id":"{{{i}}}"}}"""
                : $$$"""{"service":"add_order","ref":"p{{{i}}}","msgid":{{{i}}},"data":{"id":"{{{i}}}","symbol":"S","qty":{{{i}}}}}""")
            .ToList();
        var replies = await TxTest.PipelineAsync(ws, messages, ct);

        var expected = Enumerable.Range(0, 32).Select(i => i % 8 == 5
            ? $$$"""{"type":"error","message":"Missing field: 'symbol'","ref":"p{{{i}}}","msgid":{{{i}}}}"""
            : $$$"""{"type":"result","service":"add_order","ref":"p{{{i}}}","msgid":{{{i}}},"ok":true}""");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Text), Is.EqualTo(expected));
            Assert.That(TxTest.Count(host, "orders"), Is.EqualTo(28));
        }
    }

    /// <summary>One socket alone fills a batch: 32 pipelined requests queued behind the held writer complete together, in one batch.</summary>
    [Test, CancelAfter(30_000)]
    public async Task Pipeline_OneSocket_FillsOneBatch(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            TxTest.FixtureAOnFile(o);
            o.BatchMaxSize = 32;
            o.BatchMaxWaitMs = 600_000;
        }, ct);
        using var sizes = new MetricCollector<int>(host.Services.GetRequiredService<MkioMetrics>().Meter, "mkio.writer.batch.size");
        await using var ws = await host.ConnectAsync("ws", ct);
        Task<List<TestSocket.Received>> pipeline;
        using (await host.HoldWriterAsync(ct))
        {
            pipeline = TxTest.PipelineAsync(ws,
                [.. Enumerable.Range(0, 32).Select(i => $$$"""{"service":"add_order","ref":"q{{{i}}}","data":{"id":"{{{i}}}","symbol":"S","qty":{{{i}}}}}""")],
                ct);
            await host.WaitForQueuedWritesAsync(32, ct);
        }

        var replies = await pipeline;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Text), Is.EqualTo(Enumerable.Range(0, 32).Select(i => $$$"""{"type":"result","service":"add_order","ref":"q{{{i}}}","ok":true}""")));
            Assert.That(sizes.GetMeasurementSnapshot().Select(m => m.Value), Is.EqualTo(new[] { 32 }));
        }
    }
}
