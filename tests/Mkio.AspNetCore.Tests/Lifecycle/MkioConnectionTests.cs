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
        var envelopes = new List<string>();
        using var readBound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task<List<JsonElement>>? resumed = null;
        var afterOverflow = 0;
        for (var t = 0; t < MaxTransactions && afterOverflow < AfterOverflow; t++)
        {
            var message = $$$"""{"service":"add_order","ref":"tx{{{t}}}","data":{"id":"tx{{{t}}}","note":"{{{note}}}"}}""";
            sent.Add(message);
            results.Add((await writer.RequestAsync(message, ct)).GetRawText());

            // The reading monitor keeps up: both envelopes of this transaction arrive before the next is sent.
            envelopes.Add((await reading.ReceiveAsync(ct)).GetRawText());
            envelopes.Add((await reading.ReceiveAsync(ct)).GetRawText());
            if (resumed is not null)
            {
                afterOverflow++;
            }
            else if (slow.GetMeasurementSnapshot().Count > 0)
            {
                // Overflow observed: resume reading the stalled socket at once (its queue was dropped, a close follows).
                readBound.CancelAfter(TimeSpan.FromSeconds(60));
                resumed = stalled.ReadUntilClosedAsync(readBound.Token);
            }
        }

        Assert.That(resumed, Is.Not.Null, $"the stalled connection was never closed after {MaxTransactions} transactions");
        var stalledGot = await resumed!;
        await TestContext.Out.WriteLineAsync($"{sent.Count} transactions; the stalled socket received {stalledGot.Count} envelopes before its close");

        // The reading monitor received an "in" and an "out" envelope for every transaction, each direction in order.
        var ins = sent.Select(m => $$"""{"direction":"in","service":"add_order","message":{{m}}}""").ToList();
        var outs = results.Select(r => $$"""{"direction":"out","service":"add_order","message":{{r}}}""").ToList();
        static List<string> Direction(IEnumerable<string> all, string direction) =>
            [.. all.Where(e => e.StartsWith($$"""{"direction":"{{direction}}",""", StringComparison.Ordinal))];

        var stalledTexts = stalledGot.Select(e => e.GetRawText()).ToList();
        var stalledIns = Direction(stalledTexts, "in");
        var stalledOuts = Direction(stalledTexts, "out");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(results, Is.EqualTo(sent.Select((_, i) => $$"""{"type":"result","service":"add_order","ref":"tx{{i}}","ok":true}""")), "every transaction of the writer succeeded");
            Assert.That(envelopes, Has.Count.EqualTo(sent.Count * 2));
            Assert.That(Direction(envelopes, "in"), Is.EqualTo(ins), "the reading monitor got every inbound envelope, in order");
            Assert.That(Direction(envelopes, "out"), Is.EqualTo(outs), "the reading monitor got every outbound envelope, in order");
            Assert.That(slow.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1), "only the stalled connection overflowed");
            Assert.That(stalled.CloseStatus, Is.EqualTo((WebSocketCloseStatus)1013));
            Assert.That(stalled.CloseStatusDescription, Does.Contain("overflow"));

            // What the stalled socket did get is an in-order prefix of each direction (nothing skipped in the middle).
            Assert.That(stalledTexts, Has.Count.EqualTo(stalledIns.Count + stalledOuts.Count), "only monitor envelopes");
            Assert.That(stalledIns, Is.EqualTo(ins.Take(stalledIns.Count)));
            Assert.That(stalledOuts, Is.EqualTo(outs.Take(stalledOuts.Count)));
            Assert.That(stalledIns.Count + stalledOuts.Count, Is.LessThan(sent.Count * 2));
        }

        var count = await LifecycleSupport.QueryHostAsync(host, "SELECT COUNT(*) FROM orders", ct);
        Assert.That(count[0][0], Is.EqualTo((long)sent.Count));
    }
}
