using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

public class TmpRaceTests
{
    [Test, CancelAfter(120_000)]
    public async Task Race(CancellationToken ct)
    {
        const int count = 3000;
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var writer = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await writer.SendAsync($$$"""{"service":"add_order","ref":"w{{{i:D5}}}","data":{"id":"{{{i}}}","symbol":"S","qty":{{{i}}}}}""", cancellationToken: ct);
            }
        }, ct);
        var bad = 0; var total = 0;
        for (var k = 0; k < 300; k++)
        {
            await sub.SendAsync("""{"service":"all_orders","type":"unsubscribe"}""", cancellationToken: ct);
            var snap = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
            while (snap.GetProperty("type").GetString() != "snapshot") snap = await sub.ReceiveAsync(ct);
            var n = snap.GetProperty("rows").GetArrayLength();
            var r = snap.GetProperty("ref").GetString()!;
            var expected = r.Length == 0 ? 0 : int.Parse(r.AsSpan(1)) + 1;
            total++;
            if (n != expected) { bad++; TestContext.Out.WriteLine($"rows {n} ref {r}"); }
        }
        await sending;
        TestContext.Out.WriteLine($"bad {bad} of {total}");
        Assert.That(bad, Is.Zero);
    }
}
