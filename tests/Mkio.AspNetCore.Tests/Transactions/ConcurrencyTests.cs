using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.Diagnostics;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>CONFORMANCE items 60 and 61 (SERVICES.md §5.6): requests of one batch are independent; many sockets at once.</summary>
[Parallelizable(ParallelScope.Children)]
public class ConcurrencyTests
{
    /// <summary>Item 60: two requests forced into one batch (queued behind the held writer); the failing one does not affect the other.</summary>
    [Test, CancelAfter(30_000)]
    public async Task Batch_FailingAndSucceedingRequestTogether_OnlyTheFailingOneFails(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            TxTest.FixtureAOnFile(o);
            o.BatchMaxSize = 2;
            o.BatchMaxWaitMs = 60_000;
        }, ct);
        using var sizes = new MetricCollector<int>(host.Services.GetRequiredService<MkioMetrics>().Meter, "mkio.writer.batch.size");
        await using var a = await host.ConnectAsync("ws", ct);
        await using var b = await host.ConnectAsync("ws", ct);
        List<TestSocket.Received> seed;
        using (await host.HoldWriterAsync(ct))
        {
            await a.SendAsync("""{"service":"add_order","ref":"s1","data":{"id":"x","symbol":"A","qty":1}}""", cancellationToken: ct);
            await a.SendAsync("""{"service":"add_order","ref":"s2","data":{"id":"y","symbol":"A","qty":1}}""", cancellationToken: ct);
            await host.WaitForQueuedWritesAsync(2, ct);
        }

        seed = [await a.ReceiveRawAsync(ct), await a.ReceiveRawAsync(ct)];
        using (await host.HoldWriterAsync(ct))
        {
            await a.SendAsync("""{"service":"add_order","ref":"dup","data":{"id":"x","symbol":"B","qty":2}}""", cancellationToken: ct);
            await b.SendAsync("""{"service":"add_order","ref":"new","data":{"id":"z","symbol":"B","qty":3}}""", cancellationToken: ct);
            await host.WaitForQueuedWritesAsync(2, ct);
        }

        var failed = await a.ReceiveRawAsync(ct);
        var succeeded = await b.ReceiveRawAsync(ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(seed.Select(r => r.Json.GetProperty("ok").GetBoolean()), Is.All.True);
            Assert.That(failed.Text, Is.EqualTo($$"""{"type":"error","message":"{{StoreErrors.UniqueJson("orders", "id")}}","ref":"dup"}"""));
            Assert.That(succeeded.Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"new","ok":true}"""));
            Assert.That(sizes.GetMeasurementSnapshot().Select(m => m.Value), Is.EqualTo(new[] { 2, 2 }), "both pairs ran as one batch each");
            Assert.That(TxTest.Query(host, "SELECT id, symbol, qty, _mkio_ref FROM orders ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { "x", "A", 1L, "s1" },
                new object?[] { "y", "A", 1L, "s2" },
                new object?[] { "z", "B", 3L, "new" },
            }));
        }
    }

    /// <summary>Item 61: 100 transactions from 100 sockets at once.</summary>
    [Test, CancelAfter(60_000)]
    public async Task Transactions_HundredSocketsConcurrently_AllSucceedWithDistinctRefs(CancellationToken ct)
    {
        const int n = 100;
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        var sockets = await Task.WhenAll(Enumerable.Range(0, n).Select(_ => host.ConnectAsync("ws", ct)));
        try
        {
            await Task.WhenAll(sockets.Select((s, i) => s.SendAsync($$$"""{"service":"add_order","data":{"id":"c{{{i}}}","symbol":"S","qty":{{{i}}}}}""", cancellationToken: ct)));
            var replies = await Task.WhenAll(sockets.Select(s => s.ReceiveAsync(ct)));
            var stored = TxTest.Query(host, "SELECT id, _mkio_ref FROM orders").ToDictionary(r => (string)r[0]!, r => (string)r[1]!);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(replies.Select(r => r.GetProperty("ok").GetBoolean()), Is.All.True);
                Assert.That(replies.Select(TxTest.Ref).Distinct().Count(), Is.EqualTo(n));
                Assert.That(stored, Has.Count.EqualTo(n));
                for (var i = 0; i < n; i++)
                {
                    Assert.That(stored[$"c{i}"], Is.EqualTo(TxTest.Ref(replies[i])), "each socket's row carries the ref of its own result");
                }
            }
        }
        finally
        {
            foreach (var s in sockets)
            {
                await s.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Many sockets pipelining many requests into shared batches, a known subset failing (duplicate
    /// keys within a socket, NOT NULL violations): exactly those fail, every other request succeeds,
    /// and the database holds exactly the successful rows, each stamped with its own ref.
    /// </summary>
    [Test, CancelAfter(120_000)]
    public async Task Batches_ManySocketsWithKnownFailures_ExactlyTheFailuresFail(CancellationToken ct)
    {
        const int socketCount = 12;
        const int perSocket = 40;
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            TxTest.FixtureAOnFile(o);
            o.BatchMaxWaitMs = 60_000;
            o.BatchMaxSize = 64;
        }, ct);
        using var sizes = new MetricCollector<int>(host.Services.GetRequiredService<MkioMetrics>().Meter, "mkio.writer.batch.size");
        var sockets = await Task.WhenAll(Enumerable.Range(0, socketCount).Select(_ => host.ConnectAsync("ws", ct)));

        // Request i of socket s: every 5th repeats the id of the (successful) request before it; every 10th sends symbol null.
        static string Kind(int i) => i % 5 == 4 ? "dup" : i % 10 == 1 ? "null" : "ok";
        static string Id(int s, int i) => Kind(i) == "dup" ? $"s{s}-{i - 1}" : $"s{s}-{i}";
        static string Message(int s, int i) => Kind(i) == "null"
            ? $$$"""{"service":"add_order","ref":"r{{{s}}}-{{{i}}}","data":{"id":"{{{Id(s, i)}}}","symbol":null,"qty":{{{i}}}}}"""
            : $$$"""{"service":"add_order","ref":"r{{{s}}}-{{{i}}}","data":{"id":"{{{Id(s, i)}}}","symbol":"S","qty":{{{i}}}}}""";

        try
        {
            // The writer is held until every socket has a request queued: at least the first batch is shared.
            Task<List<TestSocket.Received>[]> pipelines;
            using (await host.HoldWriterAsync(ct))
            {
                pipelines = Task.WhenAll(sockets.Select((ws, s) =>
                    TxTest.PipelineAsync(ws, [.. Enumerable.Range(0, perSocket).Select(i => Message(s, i))], ct)));
                await host.WaitForQueuedWritesAsync(socketCount, ct);
            }

            var results = await pipelines;

            var expectedRows = new List<string>();
            using (Assert.EnterMultipleScope())
            {
                for (var s = 0; s < socketCount; s++)
                {
                    for (var i = 0; i < perSocket; i++)
                    {
                        var text = results[s][i].Text;
                        switch (Kind(i))
                        {
                            case "dup":
                                Assert.That(text, Is.EqualTo($$$"""{"type":"error","message":"{{{StoreErrors.UniqueJson("orders", "id")}}}","ref":"r{{{s}}}-{{{i}}}"}"""));
                                break;
                            case "null":
                                Assert.That(text, Is.EqualTo($$$"""{"type":"error","message":"{{{StoreErrors.NotNullJson("orders", "symbol")}}}","ref":"r{{{s}}}-{{{i}}}"}"""));
                                break;
                            default:
                                Assert.That(text, Is.EqualTo($$$"""{"type":"result","service":"add_order","ref":"r{{{s}}}-{{{i}}}","ok":true}"""));
                                expectedRows.Add($"{Id(s, i)}|r{s}-{i}|{i}");
                                break;
                        }
                    }
                }

                var rows = TxTest.Query(host, "SELECT id, _mkio_ref, qty FROM orders")
                    .Select(r => $"{r[0]}|{r[1]}|{Convert.ToString(r[2], CultureInfo.InvariantCulture)}")
                    .Order(StringComparer.Ordinal);
                Assert.That(rows, Is.EqualTo(expectedRows.Order(StringComparer.Ordinal)));
                var batchSizes = sizes.GetMeasurementSnapshot().Select(m => m.Value).ToList();
                Assert.That(batchSizes.Sum(), Is.EqualTo(socketCount * perSocket));
                Assert.That(batchSizes.Max(), Is.GreaterThan(1), "requests were batched together");
            }
        }
        finally
        {
            foreach (var ws in sockets)
            {
                await ws.DisposeAsync();
            }
        }
    }
}
