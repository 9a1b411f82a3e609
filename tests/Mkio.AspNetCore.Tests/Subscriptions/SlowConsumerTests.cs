using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>
/// Fix F10 with subscriptions: a subscriber that stops reading overflows its bounded send queue and is
/// closed, without costing the live subscribers a single update; it resumes exactly by ref.
/// </summary>
public class SlowConsumerTests
{
    // One bump (an update of every row) queues about 44 KB per subscriber: well under the 128 KiB
    // bound, so a subscriber that keeps reading never overflows.
    private const int Rows = 40;
    private const int MaxBumps = 400;
    private static readonly string Payload = new('x', 1000);

    private static void Configure(MkioOptions o)
    {
        o.DbPath = ":memory:";
        o.BatchMaxWaitMs = 1.0;
        o.MaxSendQueueBytes = 128 * 1024;
        o.Table("blobs", t => t
                .Column("id", "INTEGER PRIMARY KEY")
                .Column("grp", "TEXT")
                .Column("n", "INTEGER")
                .Column("payload", "TEXT"))
            .Transaction("add_blob", tx => tx.Insert("blobs", ["id", "grp", "n", "payload"]))
            .Transaction("bump", tx => tx.Update("blobs", ["grp"], ["n"]))
            .Query("feed", s => s.From("blobs").ChangeLogSize(MaxBumps * Rows));
    }

    [Test, CancelAfter(180_000)]
    public async Task FanOut_StalledSubscriberOverflowsQueue_ClosedAndRemovedOthersGetEverythingResumeIsExact(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Configure, ct);
        using var collector = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.server.slow_consumer_disconnects");
        await using var writer = await host.ConnectAsync("ws", ct);
        for (var i = 0; i < Rows; i++)
        {
            await OkAsync(writer, $$$"""{"service":"add_blob","data":{"id":{{{i}}},"grp":"g","n":0,"payload":"{{{Payload}}}"}}""", ct);
        }

        // The stalled client reads its snapshot, then never reads again.
        using var stalled = new ClientWebSocket();
        await stalled.ConnectAsync(new Uri(host.WsBase, "ws"), ct);
        await stalled.SendAsync(Encoding.UTF8.GetBytes("""{"service":"feed","type":"subscribe"}"""), WebSocketMessageType.Text, true, ct);
        var snapshot = await ReceiveWholeAsync(stalled, ct);
        var cursor = snapshot.GetProperty("ref").GetString()!;
        Assert.That(snapshot.GetProperty("rows").GetArrayLength(), Is.EqualTo(Rows));

        var live = new List<TestSocket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var s = await host.ConnectAsync("ws", ct);
                live.Add(s);
                Assert.That((await s.RequestAsync("""{"service":"feed","type":"subscribe"}""", ct)).GetProperty("ref").GetString(), Is.EqualTo(cursor));
            }

            var service = Listener(host, "feed");
            Assert.That(service.SubscriberCount, Is.EqualTo(4));

            // Bump every row until the stalled connection's queue overflows, then a few more times.
            var bumps = 0;
            var after = -1;
            while (after < 0 || bumps < after + 3)
            {
                Assert.That(bumps, Is.LessThan(MaxBumps), "the stalled subscriber was never disconnected");
                bumps++;
                await OkAsync(writer, $$$"""{"service":"bump","ref":"b{{{bumps:D4}}}","data":{"grp":"g","n":{{{bumps}}}}}""", ct);
                foreach (var s in live)
                {
                    var ids = new HashSet<long>();
                    for (var k = 0; k < Rows; k++)
                    {
                        var u = await s.ReceiveAsync(ct);
                        Assert.That(u.GetProperty("ref").GetString(), Is.EqualTo($"b{bumps:D4}"));
                        Assert.That(u.GetProperty("op").GetString(), Is.EqualTo("update"));
                        Assert.That(u.GetProperty("row").GetProperty("n").GetInt64(), Is.EqualTo(bumps));
                        ids.Add(u.GetProperty("row").GetProperty("id").GetInt64());
                    }

                    Assert.That(ids, Has.Count.EqualTo(Rows));
                }

                // The stalled subscriber precedes the live ones in fan-out order, so by now it has been offered every update of this bump.
                if (after < 0 && service.SubscriberCount == 3)
                {
                    after = bumps;
                }
            }

            Assert.That(collector.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1));
            Assert.That(service.SubscriberCount, Is.EqualTo(3));
            foreach (var s in live)
            {
                Assert.That(s.State, Is.EqualTo(WebSocketState.Open));
                await AssertSilentAsync(s, ct, "bump");
            }

            // Reconnecting with the last ref it processed: exactly every change it missed, in commit order.
            stalled.Abort();
            await using var back = await host.ConnectAsync("ws", ct);
            var delta = await back.RequestAsync($$$"""{"service":"feed","type":"subscribe","ref":"{{{cursor}}}"}""", ct);
            Assert.That(delta.GetProperty("type").GetString(), Is.EqualTo("delta"));
            Assert.That(delta.GetProperty("ref").GetString(), Is.EqualTo($"b{bumps:D4}"));
            var changes = delta.GetProperty("changes").EnumerateArray().ToList();
            Assert.That(changes, Has.Count.EqualTo(bumps * Rows));
            for (var i = 0; i < changes.Count; i++)
            {
                Assert.That(changes[i].GetProperty("op").GetString(), Is.EqualTo("update"));
                Assert.That(changes[i].GetProperty("row").GetProperty("n").GetInt64(), Is.EqualTo((i / Rows) + 1), $"change {i}");
                Assert.That(changes[i].GetProperty("row").GetProperty("_mkio_ref").GetString(), Is.EqualTo($"b{(i / Rows) + 1:D4}"));
            }

            Assert.That(changes.Skip(changes.Count - Rows).Select(c => c.GetProperty("row").GetProperty("id").GetInt64()).Order(), Is.EqualTo(Enumerable.Range(0, Rows).Select(i => (long)i)));
            await AssertSilentAsync(back, ct, "bump");
        }
        finally
        {
            foreach (var s in live)
            {
                await s.DisposeAsync();
            }
        }
    }

    private static async Task<JsonElement> ReceiveWholeAsync(ClientWebSocket ws, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        while (true)
        {
            var r = await ws.ReceiveAsync(buffer, ct);
            ms.Write(buffer, 0, r.Count);
            if (r.EndOfMessage)
            {
                using var doc = JsonDocument.Parse(ms.ToArray());
                return doc.RootElement.Clone();
            }
        }
    }
}
