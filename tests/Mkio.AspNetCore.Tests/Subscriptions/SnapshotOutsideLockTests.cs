using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>
/// Subpub and stream subscribe replies are built outside the service lock (F9 kept): while one
/// subscriber's snapshot is being formatted, live subscribers keep receiving updates, and the new
/// subscriber gets its snapshot first, then exactly the changes committed meanwhile, in order.
/// A custom <c>publish</c> function holds the build open, so the overlap is certain, not timed.
/// </summary>
public class SnapshotOutsideLockTests
{
    [Test, CancelAfter(60_000)]
    public async Task SubPubSnapshotBeingBuilt_OthersKeepReceiving_NewSubscriberGetsSnapshotThenHeldChanges(CancellationToken ct)
    {
        using var gate = new BuildGate();
        await using var host = await MkioTestHost.StartAsync(
            o =>
            {
                o.DbPath = ":memory:";
                o.BatchMaxWaitMs = 1;
                o.Table("items", t => t.Column("id", "TEXT PRIMARY KEY").Column("qty", "INTEGER"))
                    .Transaction("add", tx => tx.Insert("items", ["id", "qty"]))
                    .SubPub("last", s => s.From("items").Key("id").Publish("id", "HOLD(id)").Publish("qty", "qty").ChangeLogSize(100));
            },
            ct,
            mkio: b => b.AddFunction("HOLD", gate.Hold));
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add","ref":"r1","data":{"id":"block-me","qty":1}}""", ct);
        await OkAsync(ws, """{"service":"add","ref":"r2","data":{"id":"x","qty":2}}""", ct);

        await using var live = await host.ConnectAsync("ws", ct);
        Assert.That((await live.RequestAsync("""{"service":"last","type":"subscribe"}""", ct)).GetProperty("rows").GetArrayLength(), Is.EqualTo(2));

        gate.Armed = true;
        await using var late = await host.ConnectAsync("ws", ct);
        await late.SendAsync("""{"service":"last","type":"subscribe"}""", cancellationToken: ct);
        Assert.That(gate.Entered.Wait(TimeSpan.FromSeconds(20), ct), Is.True, "the snapshot build never started");

        // The late subscriber's snapshot is held open; the live one still gets every change.
        await OkAsync(ws, """{"service":"add","ref":"r3","data":{"id":"y","qty":3}}""", ct);
        await OkAsync(ws, """{"service":"add","ref":"r4","data":{"id":"z","qty":4}}""", ct);
        Assert.That((await live.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r3"));
        Assert.That((await live.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r4"));
        Assert.That(await late.NoMessageWithinAsync(TimeSpan.FromMilliseconds(200), ct), Is.True, "nothing may overtake the snapshot");

        gate.Release.Set();
        Assert.That((await late.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"snapshot","service":"last","ref":"r2","rows":[{"id":"block-me","qty":1},{"id":"x","qty":2}]}"""));
        Assert.That((await late.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"last","ref":"r3","op":"insert","row":{"id":"y","qty":3}}"""));
        Assert.That((await late.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"last","ref":"r4","op":"insert","row":{"id":"z","qty":4}}"""));
        await AssertSilentAsync(late, ct, checkService: "add");

        // Live from now on, like everyone else.
        gate.Armed = false;
        await OkAsync(ws, """{"service":"add","ref":"r5","data":{"id":"w","qty":5}}""", ct);
        Assert.That((await late.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r5"));
        Assert.That((await live.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r5"));
    }

    [Test, CancelAfter(60_000)]
    public async Task SubPubSnapshotHeldOpen_ChangesOutgrowTheSendQueueBound_ClosedWith1013WhileOthersCarryOn(CancellationToken ct)
    {
        using var gate = new BuildGate();
        await using var host = await MkioTestHost.StartAsync(
            o =>
            {
                o.DbPath = ":memory:";
                o.BatchMaxWaitMs = 1;
                o.MaxSendQueueBytes = 16 * 1024;
                o.Table("items", t => t.Column("id", "TEXT PRIMARY KEY").Column("note", "TEXT"))
                    .Transaction("add", tx => tx.Insert("items", ["id", "note"]))
                    .SubPub("last", s => s.From("items").Key("id").Publish("id", "HOLD(id)").Publish("note", "note").ChangeLogSize(100));
            },
            ct,
            mkio: b => b.AddFunction("HOLD", gate.Hold));
        using var slow = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.server.slow_consumer_disconnects");
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add","ref":"r0","data":{"id":"block-me","note":""}}""", ct);
        await using var live = await host.ConnectAsync("ws", ct);
        Assert.That((await live.RequestAsync("""{"service":"last","type":"subscribe"}""", ct)).GetProperty("rows").GetArrayLength(), Is.EqualTo(1));

        gate.Armed = true;
        await using var late = await host.ConnectAsync("ws", ct);
        await late.SendAsync("""{"service":"last","type":"subscribe"}""", cancellationToken: ct);
        Assert.That(gate.Entered.Wait(TimeSpan.FromSeconds(20), ct), Is.True, "the snapshot build never started");

        // While the late subscriber's reply is held open, 40 changes of about 1 KB are fanned out (40 KB > 16 KiB):
        // it is closed with 1013 before its build ends, instead of holding them all.
        var note = new string('n', 1000);
        const int Changes = 40;
        for (var k = 1; k <= Changes; k++)
        {
            await OkAsync(ws, $$$"""{"service":"add","ref":"r{{{k}}}","data":{"id":"k{{{k}}}","note":"{{{note}}}"}}""", ct);
            Assert.That((await live.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo($"r{k}"));
        }

        await late.Closed.WaitAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(late.CloseStatus, Is.EqualTo((WebSocketCloseStatus)1013), "closed while its reply was still being built");
            Assert.That(late.CloseStatusDescription, Is.EqualTo("send queue overflow: client too slow"));
            Assert.That(late.Pending, Is.Zero, "no snapshot and no update reached it");
            Assert.That(gate.Returned, Is.False, "the close came while the build was still held open, not after it");
            Assert.That(slow.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1));
        }

        gate.Release.Set();
        gate.Armed = false;

        // The service carries on: the live subscriber gets the next change; a reconnecting client gets everything.
        await OkAsync(ws, """{"service":"add","ref":"r41","data":{"id":"k41","note":""}}""", ct);
        Assert.That((await live.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r41"));
        await using var again = await host.ConnectAsync("ws", ct);
        var snapshot = await again.RequestAsync("""{"service":"last","type":"subscribe"}""", ct);
        Assert.That(snapshot.GetProperty("rows").GetArrayLength(), Is.EqualTo(Changes + 2));

        // The held build ends on its own thread once released; then the closed subscriber is gone.
        await Eventually.WaitUntilAsync(() => Listener(host, "last").SubscriberCount == 2, "only live and again remain subscribed", ct);
    }

    /// <summary>
    /// The custom function <c>HOLD(x)</c>: returns x, but while <see cref="Armed"/> it blocks on the row whose id is
    /// <c>block-me</c> until <see cref="Release"/> (at most 30 s), holding a subscribe reply's build open.
    /// </summary>
    private sealed class BuildGate : IDisposable
    {
        private volatile bool _armed;
        private volatile bool _returned;

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public bool Armed
        {
            get => _armed;
            set => _armed = value;
        }

        /// <summary>True once a held build has been let go (or timed out).</summary>
        public bool Returned => _returned;

        public object? Hold(object?[] a)
        {
            if (a[0] is "block-me" && _armed)
            {
                Entered.Set();
                Release.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
                _returned = true;
            }

            return a[0];
        }

        public void Dispose()
        {
            Entered.Dispose();
            Release.Dispose();
        }
    }
}
