using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.Services.Listeners;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>
/// Query snapshots shared by concurrent subscribers (single flight): one SQLite read for everyone who
/// arrives while it runs, one serialised frame per filter text, and never a snapshot older than what
/// the subscriber must see (PROTOCOL.md §10, F9). The read is held open through
/// <see cref="QueryService.SnapshotPositionRead"/> so that the overlap is certain, not timed.
/// </summary>
public class SharedSnapshotTests
{
    [Test, CancelAfter(60_000)]
    public async Task ConcurrentSubscribers_ShareOneRead_OneFramePerFilter(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":2}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r3","data":{"id":"3","symbol":"MSFT","qty":3}}""", ct);
        await OkAsync(ws, """{"service":"set_status","ref":"r4","data":{"id":"2","status":"filled"}}""", ct);

        using var hold = new ReadHold(host);
        await using var a = await hold.SubscribeHeldAsync(ct);

        var others = new List<TestSocket>();
        try
        {
            foreach (var filter in new[] { null, null, "status == 'pending'", "status == 'pending'" })
            {
                var s = await host.ConnectAsync("ws", ct);
                others.Add(s);
                var f = filter is null ? "" : $$$""","filter":"{{{filter}}}" """.TrimEnd();
                await s.SendAsync($$$"""{"service":"all_orders","type":"subscribe"{{{f}}}}""", cancellationToken: ct);
            }

            await Eventually.WaitUntilAsync(() => hold.Query.SnapshotWaiters == 4, "4 subscribers wait on the held read", ct);
            hold.Release();

            var all = (await a.ReceiveRawAsync(ct)).Text;
            Assert.That(all, Does.StartWith("""{"type":"snapshot","service":"all_orders","ref":"r4","rows":[{"id":"1","""));
            Assert.That(CountRows(all), Is.EqualTo(3));
            var frames = new List<string>();
            foreach (var s in others)
            {
                frames.Add((await s.ReceiveRawAsync(ct)).Text);
            }

            Assert.That(frames[0], Is.EqualTo(all));
            Assert.That(frames[1], Is.EqualTo(all));
            Assert.That(CountRows(frames[2]), Is.EqualTo(2));
            Assert.That(frames[2], Does.Not.Contain("\"filled\""));
            Assert.That(frames[3], Is.EqualTo(frames[2]));

            var measured = hold.Snapshots.GetMeasurementSnapshot();
            Assert.That(measured.Sum(m => m.Value), Is.EqualTo(5));
            Assert.That(measured.Where(m => m.Tags["mkio.snapshot.shared"] is true).Sum(m => m.Value), Is.EqualTo(4));

            // Every subscriber is registered: one new order reaches all five.
            await OkAsync(ws, """{"service":"add_order","ref":"r5","data":{"id":"5","symbol":"ORCL","qty":5}}""", ct);
            foreach (var s in others.Prepend(a))
            {
                var update = await s.ReceiveAsync(ct);
                Assert.That(update.GetProperty("ref").GetString(), Is.EqualTo("r5"), update.GetRawText());
            }
        }
        finally
        {
            foreach (var s in others)
            {
                await s.DisposeAsync();
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Joiner_WhoseCommitIsNewerThanTheReadInFlight_ReadsAgain(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);

        using var hold = new ReadHold(host);
        await using var a = await hold.SubscribeHeldAsync(ct);

        // Committed after A's read fixed its position (WAL: the writer is not blocked by the reader).
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"IBM","qty":2}}""", ct);

        // B has seen r2 committed: a snapshot without it would break PROTOCOL.md §10.
        await using var b = await host.ConnectAsync("ws", ct);
        await b.SendAsync("""{"service":"all_orders","type":"subscribe"}""", cancellationToken: ct);
        await Eventually.WaitUntilAsync(() => hold.Query.SnapshotWaiters == 1, "B waits on the held read", ct);
        hold.Release();

        var snapA = await a.ReceiveAsync(ct);
        Assert.That(snapA.GetProperty("ref").GetString(), Is.EqualTo("r1"), snapA.GetRawText());
        Assert.That(snapA.GetProperty("rows").GetArrayLength(), Is.EqualTo(1));
        var updateA = await a.ReceiveAsync(ct);
        Assert.That(updateA.GetProperty("type").GetString(), Is.EqualTo("update"), updateA.GetRawText());
        Assert.That(updateA.GetProperty("ref").GetString(), Is.EqualTo("r2"));

        var snapB = await b.ReceiveAsync(ct);
        Assert.That(snapB.GetProperty("ref").GetString(), Is.EqualTo("r2"), snapB.GetRawText());
        Assert.That(snapB.GetProperty("rows").GetArrayLength(), Is.EqualTo(2));
        await AssertSilentAsync(b, ct);

        var measured = hold.Snapshots.GetMeasurementSnapshot();
        Assert.That(measured.Sum(m => m.Value), Is.EqualTo(2));
        Assert.That(measured.Where(m => m.Tags["mkio.snapshot.shared"] is true).Sum(m => m.Value), Is.Zero, "B must not take A's older read");
    }

    private static int CountRows(string frame) => frame.Split("\"_mkio_ref\"").Length - 1;

    /// <summary>
    /// Holds the first snapshot read of <c>all_orders</c> inside its read transaction until released,
    /// and collects <c>mkio.query.snapshots</c>.
    /// </summary>
    /// <remarks>The events are not disposed: a read released late may still be inside <c>Wait</c>.</remarks>
    private sealed class ReadHold : IDisposable
    {
        private readonly MkioTestHost _host;
        private readonly ManualResetEventSlim _entered = new();
        private readonly ManualResetEventSlim _release = new();
        private int _calls;

        public ReadHold(MkioTestHost host)
        {
            _host = host;
            Query = (QueryService)Listener(host, "all_orders");
            Snapshots = new MetricCollector<long>(Engine(host).Metrics.Meter, "mkio.query.snapshots");
            Query.SnapshotPositionRead = () =>
            {
                if (Interlocked.Increment(ref _calls) == 1)
                {
                    _entered.Set();
                    _release.Wait(TimeSpan.FromSeconds(30));
                }
            };
        }

        public QueryService Query { get; }

        public MetricCollector<long> Snapshots { get; }

        /// <summary>Connects a subscriber and returns once its snapshot read is held open.</summary>
        public async Task<TestSocket> SubscribeHeldAsync(CancellationToken ct)
        {
            var a = await _host.ConnectAsync("ws", ct);
            await a.SendAsync("""{"service":"all_orders","type":"subscribe"}""", cancellationToken: ct);
            Assert.That(_entered.Wait(TimeSpan.FromSeconds(20), ct), Is.True, "the snapshot read never started");
            return a;
        }

        public void Release() => _release.Set();

        public void Dispose()
        {
            _release.Set();
            Query.SnapshotPositionRead = null;
            Snapshots.Dispose();
        }
    }
}
