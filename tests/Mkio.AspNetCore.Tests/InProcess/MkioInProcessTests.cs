using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.InProcess;

public class MkioInProcessTests
{
    [Test, CancelAfter(30_000)]
    public async Task ExecuteAsync_NamedOp_CommitsAndReachesWebSocketSubscribersAndWatchers(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        var mkio = host.Services.GetRequiredService<IMkio>();
        await using var sub = await host.ConnectAsync("ws", ct);
        var snap = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        Assert.That(snap.GetProperty("rows").GetArrayLength(), Is.Zero);

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watched = new List<MkioChange>();
        var watching = Task.Run(async () =>
        {
            await foreach (var c in mkio.WatchAsync(["audit_log"], cts.Token))
            {
                watched.Add(c);
                break;
            }
        }, ct);

        // Give the watcher a committed change to see even if it subscribed late: loop until it does.
        MkioResult result;
        do
        {
            result = await mkio.ExecuteAsync("orders", new Dictionary<string, object?> { ["side"] = "Buy", ["symbol"] = "A", ["qty"] = 100, ["price"] = 12.5, ["event"] = "new" }, op: "place", cancellationToken: ct);
            Assert.That(result.Ok, Is.True, result.Error);
        }
        while (!watching.IsCompleted && await Task.WhenAny(watching, Task.Delay(200, ct)) != watching);

        var update = await sub.ReceiveAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(update.GetProperty("type").GetString(), Is.EqualTo("update"));
            Assert.That(update.GetProperty("row").GetProperty("symbol").GetString(), Is.EqualTo("A"));
            Assert.That(watched, Has.Count.EqualTo(1));
            Assert.That(watched[0].Table, Is.EqualTo("audit_log"));
            Assert.That(watched[0].Row["event"], Is.EqualTo("new"));
        }

        var missing = await mkio.ExecuteAsync("orders", new Dictionary<string, object?> { ["side"] = "Buy" }, op: "place", cancellationToken: ct);
        Assert.That(missing.Error, Is.EqualTo("Missing field: 'symbol'"));
        Assert.That(async () => await mkio.ExecuteAsync("nope", null, cancellationToken: ct), Throws.ArgumentException);
    }
}
