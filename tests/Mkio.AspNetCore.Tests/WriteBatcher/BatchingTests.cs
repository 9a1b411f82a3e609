using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.AspNetCore.Tests.Transactions;
using Mkio.Diagnostics;
using Mkio.Services;
using Mkio.Storage;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.WriteBatcher;

/// <summary>CONFORMANCE items 74 and 75 (SERVICES.md §5.5, §14 with fix F19) over a running server.</summary>
[Parallelizable(ParallelScope.Children)]
public class BatchingTests
{
    /// <summary>
    /// Item 75: 20 transactions sent at once from 20 sockets share one batch. The writer is held until
    /// all 20 are queued, so they can only complete together, in one batch of 20 (counted by the
    /// <c>mkio.writer.batch.size</c> histogram and by the change bus).
    /// </summary>
    [Test, CancelAfter(60_000)]
    public async Task Transactions_TwentySocketsAtOnce_OneBatchEachWithOwnResult(CancellationToken ct)
    {
        const int n = 20;
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            TxTest.FixtureAOnFile(o);
            o.BatchMaxSize = n;
            o.BatchMaxWaitMs = 600_000;
        }, ct);
        var hold = await host.HoldWriterAsync(ct);
        using var sizes = new MetricCollector<int>(host.Services.GetRequiredService<MkioMetrics>().Meter, "mkio.writer.batch.size");
        using var events = new EventRecorder(TxTest.Engine(host).Bus);
        var sockets = await Task.WhenAll(Enumerable.Range(0, n).Select(_ => host.ConnectAsync("ws", ct)));
        try
        {
            await Task.WhenAll(sockets.Select((s, i) => s.SendAsync($$$"""{"service":"add_order","ref":"b{{{i}}}","data":{"id":"{{{i}}}","symbol":"S","qty":{{{i}}}}}""", cancellationToken: ct)));
            await host.WaitForQueuedWritesAsync(n, ct);
            Assert.That(sockets.Sum(s => s.Pending), Is.Zero, "nothing is answered while the writer is held");
            hold.Dispose();
            var replies = await Task.WhenAll(sockets.Select(s => s.ReceiveRawAsync(ct)));

            using (Assert.EnterMultipleScope())
            {
                for (var i = 0; i < n; i++)
                {
                    Assert.That(replies[i].Text, Is.EqualTo($$$"""{"type":"result","service":"add_order","ref":"b{{{i}}}","ok":true}"""));
                }

                Assert.That(sizes.GetMeasurementSnapshot().Select(m => m.Value), Is.EqualTo(new[] { n }));
                Assert.That(events.Batches, Has.Count.EqualTo(1));
                Assert.That(events.Events.Select(e => e.Ref).Order(StringComparer.Ordinal), Is.EqualTo(Enumerable.Range(0, n).Select(i => $"b{i}").Order(StringComparer.Ordinal)));
                Assert.That(TxTest.Count(host, "orders"), Is.EqualTo(n));
            }
        }
        finally
        {
            hold.Dispose();
            foreach (var s in sockets)
            {
                await s.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Item 74: 50 writes queued just before shutdown (behind a held writer) are drained at stop:
    /// all committed, all successful.
    /// </summary>
    [Test, CancelAfter(60_000)]
    public async Task Stop_FiftyQueuedWrites_AllCommittedAndSucceed(CancellationToken ct)
    {
        const int n = 50;
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            TxTest.FixtureAOnFile(o);
            o.BatchMaxWaitMs = 600_000;
        }, ct);
        var engine = TxTest.Engine(host);
        Assert.That(engine.TryGetService("add_order", out var service), Is.True);
        var tx = (TransactionService)service!;
        var documents = Enumerable.Range(0, n)
            .Select(i => JsonDocument.Parse($$$"""{"service":"add_order","ref":"q{{{i}}}","data":{"id":"{{{i}}}","symbol":"S","qty":{{{i}}}}}"""))
            .ToList();
        try
        {
            // Each call submits synchronously; all 50 are queued before the stop begins.
            List<Task<WriteOutcome>> pending;
            Task stop;
            using (await host.HoldWriterAsync(ct))
            {
                pending = [.. documents.Select(d => tx.ExecuteAsync(d.RootElement, ct).AsTask())];
                Assert.That(pending.Any(p => p.IsCompleted), Is.False, "the held writer keeps every write queued until the stop");
                stop = host.StopAsync();
                await Eventually.WaitUntilAsync(() => engine.IsWriterStopping, "the writer is stopping", ct);
            }

            await stop;
            var outcomes = await Task.WhenAll(pending);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(outcomes.Select(o => o.Error), Is.All.Null);
                Assert.That(outcomes.Select(o => o.Ok), Is.All.True);
                Assert.That(outcomes.Select(o => o.Ref), Is.EqualTo(Enumerable.Range(0, n).Select(i => $"q{i}")));
                Assert.That(TxTest.Count(host, "orders"), Is.EqualTo(n));
            }
        }
        finally
        {
            foreach (var d in documents)
            {
                d.Dispose();
            }
        }
    }
}
