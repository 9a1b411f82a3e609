using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Mkio.AspNetCore.Hosting;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Extensibility;

public class CustomFunctionAndMetricsTests
{
    private static void Config(MkioOptions o)
    {
        o.DbPath = ":memory:";
        o.BatchMaxWaitMs = 1;
        o.Table("items", t => t.Column("id", "TEXT PRIMARY KEY").Column("qty", "INTEGER"))
            .Transaction("add", tx => tx.Insert("items", ["id", "qty"]))
            .Query("doubled", q => q.From("items").Publish("id", "id").Publish("twice", "DOUBLE(qty)").Filterable("qty"));
    }

    [Test, CancelAfter(30_000)]
    public async Task AddFunction_UsedInPublishAndClientFilter_AppliesPerHost(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Config, ct, mkio: b => b.AddFunction("DOUBLE", a => (long)a[0]! * 2));
        await using var ws = await host.ConnectAsync("ws", ct);
        var snap = await ws.RequestAsync("""{"service":"doubled","type":"subscribe","filter":"DOUBLE(twice) > 10"}""", ct);
        Assert.That(snap.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        await ws.RequestAsync("""{"service":"add","ref":"a1","data":{"id":"small","qty":1}}""", ct);
        // The write's result and the subscriber's update go out on the same connection in either order (the
        // writer publishes at commit, then completes the request).
        await ws.SendAsync("""{"service":"add","ref":"a2","data":{"id":"big","qty":3}}""", cancellationToken: ct);
        JsonElement[] frames = [await ws.ReceiveAsync(ct), await ws.ReceiveAsync(ct)];
        Assert.That(frames.Select(f => f.GetRawText()), Is.EquivalentTo(new[]
        {
            """{"type":"result","service":"add","ref":"a2","ok":true}""",
            """{"type":"update","service":"doubled","ref":"a2","op":"insert","row":{"id":"big","twice":6}}""",
        }));

        // A second host in the same process without the function refuses the same config at start.
        var error = Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var other = await MkioTestHost.StartAsync(Config, ct);
        });
        Assert.That(error!.Message, Does.Contain("Unknown function: DOUBLE"));
    }

    [Test, CancelAfter(30_000)]
    public async Task Metrics_ConnectionsAndSubscriptions_CountedUpAndDown(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        var meter = host.Services.GetRequiredService<MkioEngineHost>().Engine.Metrics.Meter;
        using var connections = new MetricCollector<long>(meter, "mkio.server.active_connections");
        using var subscriptions = new MetricCollector<long>(meter, "mkio.subscriptions.active");
        using var committed = new MetricCollector<long>(meter, "mkio.writer.transactions.committed");
        await using (var ws = await host.ConnectAsync("ws", ct))
        {
            await ws.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
            await ws.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
            await ws.SendAsync("""{"service":"add_order","ref":"m1","data":{"id":"1","symbol":"A","qty":1}}""", cancellationToken: ct);
            await ws.ReceiveUntilAsync(m => m.GetProperty("type").GetString() == "result", ct);
            Assert.That(subscriptions.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(2));
            Assert.That(connections.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1));
            Assert.That(committed.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1));
        }

        // The server notices the close asynchronously: wait (bounded) for both counters to return to 0.
        await Eventually.WaitUntilAsync(
            () => connections.GetMeasurementSnapshot().Sum(m => m.Value) == 0 && subscriptions.GetMeasurementSnapshot().Sum(m => m.Value) == 0,
            "the connection and subscription counters are back to 0",
            ct);

        Assert.That(subscriptions.GetMeasurementSnapshot().Sum(m => m.Value), Is.Zero);
    }
}
