using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>
/// Slow consumers (SERVICES.md §13, fix F10): every connection has its own outbound queue bounded in
/// bytes; a client that stops reading is closed with 1013 once its queue would overflow, while the
/// writer and every other (reading) connection carry on and miss nothing.
/// </summary>
public class MkioConnectionTests
{
    private const int MaxTransactions = 2_000;
    private const int AfterOverflow = 5;

    private static void Orders(MkioOptions o)
    {
        o.DbPath = ":memory:";
        o.BatchMaxWaitMs = 1;
        o.MaxSendQueueBytes = 256 * 1024;
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("note", "TEXT"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "note"]));
    }

    [Test, CancelAfter(180_000)]
    public async Task TrySend_MonitorStopsReading_ClosedWith1013WhileOthersReceiveEverything(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        using var slow = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.server.slow_consumer_disconnects");
        const string Monitor = """{"type":"monitor","service":"add_order"}""";
        const string Ack = """{"type":"monitor_ack","service":"add_order"}""";

        // The stalled monitor reads its ack, then nothing more (its TCP receive window is tiny).
        await using var stalled = await ManualSocket.ConnectAsync(new Uri(host.WsBase, "ws"), 4096, ct);
        await stalled.SendAsync(Monitor, ct);
        Assert.That((await stalled.ReceiveAsync(ct)).GetRawText(), Is.EqualTo(Ack));

        await using var reading = await host.ConnectAsync("ws", ct);
        Assert.That((await reading.RequestAsync(Monitor, ct)).GetRawText(), Is.EqualTo(Ack));

        // Each transaction carries a 50 KB note, so each "in" envelope is about 50 KB.
        await using var writer = await host.ConnectAsync("ws", ct);
        var note = new string('n', 50_000);
        var sent = new List<string>();
        var results = new List<string>();
        Task<List<JsonElement>>? resumed = null;
        var afterOverflow = 0;
        for (var t = 0; t < MaxTransactions && afterOverflow < AfterOverflow; t++)
        {
            var message = $$$"""{"service":"add_order","ref":"tx{{{t}}}","data":{"id":"tx{{{t}}}","note":"{{{note}}}"}}""";
            sent.Add(message);
            results.Add((await writer.RequestAsync(message, ct)).GetRawText());
            if (resumed is not null)
            {
                afterOverflow++;
            }
            else if (slow.GetMeasurementSnapshot().Count > 0)
            {
                // Overflow observed: resume reading the stalled socket at once (its queue was dropped, a close follows).
                resumed = stalled.ReadUntilClosedAsync(ct);
            }
        }

        Assert.That(resumed, Is.Not.Null, $"the stalled connection was never closed after {MaxTransactions} transactions");
        var stalledGot = await resumed!;
        await TestContext.Out.WriteLineAsync($"{sent.Count} transactions; the stalled socket received {stalledGot.Count} envelopes before its close");

        // The reading monitor received an "in" and an "out" envelope for every transaction, in order.
        var envelopes = new List<string>();
        for (var i = 0; i < sent.Count * 2; i++)
        {
            envelopes.Add((await reading.ReceiveAsync(ct)).GetRawText());
        }

        var expected = sent.SelectMany((m, i) => new[]
        {
            $$"""{"direction":"in","service":"add_order","message":{{m}}}""",
            $$"""{"direction":"out","service":"add_order","message":{{results[i]}}}""",
        }).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(results, Is.EqualTo(sent.Select((_, i) => $$"""{"type":"result","service":"add_order","ref":"tx{{i}}","ok":true}""")), "every transaction of the writer succeeded");
            Assert.That(envelopes, Has.Count.EqualTo(sent.Count * 2));
            Assert.That(envelopes.SequenceEqual(expected), Is.True, "the reading monitor got every envelope in order");
            Assert.That(slow.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1), "only the stalled connection overflowed");
            Assert.That(stalled.CloseStatus, Is.EqualTo((WebSocketCloseStatus)1013));
            Assert.That(stalled.CloseStatusDescription, Does.Contain("overflow"));

            // What the stalled socket did get is an in-order prefix of the stream (nothing skipped in the middle).
            Assert.That(stalledGot, Has.Count.LessThan(expected.Count));
            Assert.That(stalledGot.Select(e => e.GetRawText()), Is.EqualTo(expected.Take(stalledGot.Count)));
        }

        var count = await LifecycleSupport.QueryHostAsync(host, "SELECT COUNT(*) FROM orders", ct);
        Assert.That(count[0][0], Is.EqualTo((long)sent.Count));
    }
}
