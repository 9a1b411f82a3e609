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
        var armed = 0;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        object? Hold(object?[] a)
        {
            if (a[0] is "block-me" && Volatile.Read(ref armed) == 1)
            {
                entered.Set();
                release.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
            }

            return a[0];
        }

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
            mkio: b => b.AddFunction("HOLD", Hold));
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add","ref":"r1","data":{"id":"block-me","qty":1}}""", ct);
        await OkAsync(ws, """{"service":"add","ref":"r2","data":{"id":"x","qty":2}}""", ct);

        await using var live = await host.ConnectAsync("ws", ct);
        Assert.That((await live.RequestAsync("""{"service":"last","type":"subscribe"}""", ct)).GetProperty("rows").GetArrayLength(), Is.EqualTo(2));

        Volatile.Write(ref armed, 1);
        await using var late = await host.ConnectAsync("ws", ct);
        await late.SendAsync("""{"service":"last","type":"subscribe"}""", cancellationToken: ct);
        Assert.That(entered.Wait(TimeSpan.FromSeconds(20), ct), Is.True, "the snapshot build never started");

        // The late subscriber's snapshot is held open; the live one still gets every change.
        await OkAsync(ws, """{"service":"add","ref":"r3","data":{"id":"y","qty":3}}""", ct);
        await OkAsync(ws, """{"service":"add","ref":"r4","data":{"id":"z","qty":4}}""", ct);
        Assert.That((await live.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r3"));
        Assert.That((await live.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r4"));
        Assert.That(await late.NoMessageWithinAsync(TimeSpan.FromMilliseconds(200), ct), Is.True, "nothing may overtake the snapshot");

        release.Set();
        Assert.That((await late.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"snapshot","service":"last","ref":"r2","rows":[{"id":"block-me","qty":1},{"id":"x","qty":2}]}"""));
        Assert.That((await late.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"last","ref":"r3","op":"insert","row":{"id":"y","qty":3}}"""));
        Assert.That((await late.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"last","ref":"r4","op":"insert","row":{"id":"z","qty":4}}"""));
        await AssertSilentAsync(late, ct, checkService: "add");

        // Live from now on, like everyone else.
        Volatile.Write(ref armed, 0);
        await OkAsync(ws, """{"service":"add","ref":"r5","data":{"id":"w","qty":5}}""", ct);
        Assert.That((await late.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r5"));
        Assert.That((await live.ReceiveAsync(ct)).GetProperty("ref").GetString(), Is.EqualTo("r5"));
    }
}
