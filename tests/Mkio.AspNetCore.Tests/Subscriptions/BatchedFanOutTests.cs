using System.Text;
using System.Text.Json;
using Mkio.Sessions;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>
/// Fan-out hands each subscriber the updates of one committed batch as one entry of its connection's queue (one
/// bound check, one wake-up of its sender), in commit order, filtered per subscriber — the same frames, in the same
/// order, as a WebSocket subscriber receives them one message each.
/// </summary>
public class BatchedFanOutTests
{
    private const int Rows = 40;

    private static void Configure(MkioOptions o)
    {
        o.DbPath = ":memory:";
        o.BatchMaxWaitMs = 1.0;
        o.Table("items", t => t
                .Column("id", "INTEGER PRIMARY KEY")
                .Column("grp", "TEXT")
                .Column("n", "INTEGER"))
            .Transaction("add_item", tx => tx.Insert("items", ["id", "grp", "n"]))
            .Transaction("bump", tx => tx.Update("items", ["grp"], ["n"]))
            .Query("feed", s => s.From("items").Filterable("id"))
            .SubPub("book", s => s.From("items").Key("id"));
    }

    [Test, CancelAfter(120_000)]
    public async Task CommittedBatch_OneQueueEntryPerSubscriber_SameFramesInOrderAsTheWebSocketSubscriber_FilteredPerSubscriber(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Configure, ct);
        await using var writer = await host.ConnectAsync("ws", ct);
        for (var i = 0; i < Rows; i++)
        {
            await OkAsync(writer, $$$"""{"service":"add_item","data":{"id":{{{i}}},"grp":"g","n":0}}""", ct);
        }

        var engine = Engine(host);
        var all = new RecordingTransport();
        var low = new RecordingTransport();
        var allSession = engine.OpenSession(all, null);
        var lowSession = engine.OpenSession(low, null);
        try
        {
            await allSession.HandleAsync(Encoding.UTF8.GetBytes("""{"service":"feed","type":"subscribe"}"""), ct);
            await allSession.HandleAsync(Encoding.UTF8.GetBytes("""{"service":"book","type":"subscribe"}"""), ct);
            await lowSession.HandleAsync(Encoding.UTF8.GetBytes("""{"service":"feed","type":"subscribe","filter":"id < 25"}"""), ct);
            await Eventually.WaitUntilAsync(() => all.Entries.Count == 2 && low.Entries.Count == 1, "the subscribe replies", ct);
            Assert.That(all.Entries.Concat(low.Entries).All(e => !e.Batch), Is.True, "a reply is a single frame");

            await using var live = await host.ConnectAsync("ws", ct);
            Assert.That((await live.RequestAsync("""{"service":"feed","type":"subscribe"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("snapshot"));

            // Three bumps, each one transaction updating every row: three committed batches of 40 changes.
            for (var bump = 1; bump <= 3; bump++)
            {
                await OkAsync(writer, $$$"""{"service":"bump","ref":"b{{{bump}}}","data":{"grp":"g","n":{{{bump}}}}}""", ct);
                var received = new List<string>();
                for (var k = 0; k < Rows; k++)
                {
                    received.Add((await live.ReceiveAsync(ct)).GetRawText());
                }

                await Eventually.WaitUntilAsync(() => all.Entries.Count == 2 + (2 * bump) && low.Entries.Count == 1 + bump, $"bump {bump}'s batches", ct);
                var feed = all.Entries.Where(e => e.Batch && e.Frames[0].Contains("\"feed\"", StringComparison.Ordinal)).ToList();
                var book = all.Entries.Where(e => e.Batch && e.Frames[0].Contains("\"book\"", StringComparison.Ordinal)).ToList();
                using (Assert.EnterMultipleScope())
                {
                    Assert.That(feed, Has.Count.EqualTo(bump), "one entry per committed batch for the query subscription");
                    Assert.That(book, Has.Count.EqualTo(bump), "and one for the subpub subscription");
                    Assert.That(feed[^1].Frames, Is.EqualTo(received), "the frames a WebSocket subscriber got one message each, in the same order");
                    Assert.That(book[^1].Frames, Has.Count.EqualTo(Rows));
                    Assert.That(book[^1].Frames, Has.All.Contains($"\"ref\":\"b{bump}\""));
                    Assert.That(low.Entries[^1].Batch, Is.True);
                    Assert.That(low.Entries[^1].Frames, Is.EqualTo(received.Where(r => JsonDocument.Parse(r).RootElement.GetProperty("row").GetProperty("id").GetInt64() < 25)), "the filtered subscriber's frames: its rows only, in the same order");
                    Assert.That(low.Entries[^1].Frames, Has.Count.EqualTo(25), "more than a filtered subscriber's first staging array holds: it grew");
                }
            }

            await AssertSilentAsync(live, ct, "bump");
        }
        finally
        {
            await engine.CloseSessionAsync(allSession);
            await engine.CloseSessionAsync(lowSession);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task ConnectionThrowsTakingABatch_ClosedAsASlowConsumerAndRemoved_OthersAndLaterBatchesUnaffected(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Configure, ct);
        await using var writer = await host.ConnectAsync("ws", ct);
        for (var i = 0; i < 3; i++)
        {
            await OkAsync(writer, $$$"""{"service":"add_item","data":{"id":{{{i}}},"grp":"g","n":0}}""", ct);
        }

        var engine = Engine(host);
        var broken = new RecordingTransport { ThrowOnBatch = true };
        var healthy = new RecordingTransport();
        var brokenSession = engine.OpenSession(broken, null);
        var healthySession = engine.OpenSession(healthy, null);
        try
        {
            // The broken one subscribes first, so it comes first in fan-out order.
            await brokenSession.HandleAsync(Encoding.UTF8.GetBytes("""{"service":"feed","type":"subscribe"}"""), ct);
            await healthySession.HandleAsync(Encoding.UTF8.GetBytes("""{"service":"feed","type":"subscribe"}"""), ct);
            await Eventually.WaitUntilAsync(() => broken.Entries.Count == 1 && healthy.Entries.Count == 1, "the subscribe replies", ct);
            var service = Listener(host, "feed");
            Assert.That(service.SubscriberCount, Is.EqualTo(2));

            for (var bump = 1; bump <= 2; bump++)
            {
                await OkAsync(writer, $$$"""{"service":"bump","ref":"b{{{bump}}}","data":{"grp":"g","n":{{{bump}}}}}""", ct);
                await Eventually.WaitUntilAsync(() => healthy.Entries.Count == 1 + bump, $"bump {bump} reaches the healthy subscriber", ct);
                Assert.That(healthy.Entries[^1].Frames, Has.Count.EqualTo(3).And.All.Contains($"\"ref\":\"b{bump}\""));
            }

            using (Assert.EnterMultipleScope())
            {
                Assert.That(broken.ClosedAsSlowConsumer, Is.True, "a connection that missed a batch does not stay live");
                Assert.That(service.SubscriberCount, Is.EqualTo(1));
                Assert.That(broken.Entries, Has.Count.EqualTo(1), "only its reply");
            }
        }
        finally
        {
            await engine.CloseSessionAsync(brokenSession);
            await engine.CloseSessionAsync(healthySession);
        }
    }

    /// <summary>A transport that records what it is handed: one entry per call, with its frames' text.</summary>
    private sealed class RecordingTransport : IMkioTransport
    {
        private readonly Lock _lock = new();
        private readonly List<(bool Batch, List<string> Frames)> _entries = [];

        public long MaxQueuedBytes => 1 << 20;

        /// <summary>Throw when handed a batch (a connection failing unexpectedly).</summary>
        public bool ThrowOnBatch { get; init; }

        public bool ClosedAsSlowConsumer { get; private set; }

        public List<(bool Batch, List<string> Frames)> Entries
        {
            get
            {
                lock (_lock)
                {
                    return [.. _entries];
                }
            }
        }

        public bool TrySend(ReadOnlyMemory<byte> frame)
        {
            lock (_lock)
            {
                _entries.Add((false, [Encoding.UTF8.GetString(frame.Span)]));
            }

            return true;
        }

        public bool TrySend(FrameBatch batch)
        {
            if (ThrowOnBatch)
            {
                throw new InvalidOperationException("this transport fails on batches");
            }

            var frames = new List<string>();
            foreach (var frame in batch.Span)
            {
                frames.Add(Encoding.UTF8.GetString(frame.Span));
            }

            batch.Return();
            lock (_lock)
            {
                _entries.Add((true, frames));
            }

            return true;
        }

        public void CloseSlowConsumer(long wouldBe) => ClosedAsSlowConsumer = true;
    }
}
