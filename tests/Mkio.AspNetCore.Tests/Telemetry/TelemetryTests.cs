using System.Collections.ObjectModel;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Mkio.AspNetCore.Tests.Telemetry;

/// <summary>
/// Traces and metrics through OpenTelemetry's in-memory exporter, wired with <c>AddMkioInstrumentation()</c> in a
/// real Kestrel host, the way an application wires them.
/// </summary>
[NonParallelizable]
public class TelemetryTests
{
    [Test]
    public void Names_AreMkio()
    {
        Assert.That(MkioTelemetry.MeterName, Is.EqualTo("Mkio"));
        Assert.That(MkioTelemetry.ActivitySourceName, Is.EqualTo("Mkio"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Transaction_ProducesTransactionSpan_LinkedFromItsBatch(CancellationToken ct)
    {
        var spans = new Exported<Activity>();
        await using var host = await StartAsync(spans, null, ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        var ok = await ws.RequestAsync("""{"service":"add_order","ref":"t1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        Assert.That(ok.GetProperty("type").GetString(), Is.EqualTo("result"));
        var failed = await ws.RequestAsync("""{"service":"add_order","ref":"t2","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
        Assert.That(failed.GetProperty("type").GetString(), Is.EqualTo("error"));

        var tx = await spans.WaitForAsync(a => a.OperationName == "mkio.transaction" && Equals(a.GetTagItem("mkio.transaction.ref"), "t1"), "the t1 transaction span", ct);
        Assert.Multiple(() =>
        {
            Assert.That(tx.Source.Name, Is.EqualTo("Mkio"));
            Assert.That(tx.Kind, Is.EqualTo(ActivityKind.Server));
            Assert.That(tx.GetTagItem("mkio.service.name"), Is.EqualTo("add_order"));
            Assert.That(tx.GetTagItem("mkio.service.type"), Is.EqualTo("transaction"));
            Assert.That(tx.Status, Is.EqualTo(ActivityStatusCode.Unset));
            // A new trace per request, linked to the connection's HTTP request span (which lasts as long as the connection).
            Assert.That(tx.ParentSpanId, Is.EqualTo(default(ActivitySpanId)));
            Assert.That(tx.Links.Select(l => l.Context.SpanId), Has.Some.Not.EqualTo(default(ActivitySpanId)));
        });

        var batch = await spans.WaitForAsync(a => a.OperationName == "mkio.batch" && a.Links.Any(l => l.Context.SpanId == tx.SpanId), "a batch span linked to the t1 transaction", ct);
        Assert.Multiple(() =>
        {
            Assert.That(batch.Kind, Is.EqualTo(ActivityKind.Client));
            Assert.That(batch.GetTagItem("db.system.name"), Is.EqualTo(host.PostgresConnectionString is null ? "sqlite" : "postgresql"));
            Assert.That(batch.GetTagItem("db.operation.batch.size"), Is.GreaterThanOrEqualTo(1));
            Assert.That(batch.Links.Single(l => l.Context.SpanId == tx.SpanId).Context.TraceId, Is.EqualTo(tx.TraceId));
        });

        var error = await spans.WaitForAsync(a => a.OperationName == "mkio.transaction" && Equals(a.GetTagItem("mkio.transaction.ref"), "t2"), "the t2 transaction span", ct);
        Assert.That(error.Status, Is.EqualTo(ActivityStatusCode.Error));
        Assert.That(error.StatusDescription, Is.EqualTo(StoreErrors.Unique("orders", "id")));
    }

    [Test, CancelAfter(60_000)]
    public async Task InProcessTransaction_IsAChildOfTheCallersSpan(CancellationToken ct)
    {
        var spans = new Exported<Activity>();
        await using var host = await StartAsync(spans, null, ct);
        var mkio = host.Services.GetRequiredService<IMkio>();
        using var caller = new ActivitySource("Mkio.Tests.Caller");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == caller.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);

        MkioResult result;
        ActivitySpanId parent;
        using (var a = caller.StartActivity("caller")!)
        {
            parent = a.SpanId;
            result = await mkio.ExecuteAsync("add_order", new Dictionary<string, object?> { ["id"] = "9", ["symbol"] = "X", ["qty"] = 1 }, cancellationToken: ct);
        }

        var tx = await spans.WaitForAsync(a => a.OperationName == "mkio.transaction" && Equals(a.GetTagItem("mkio.transaction.ref"), result.Ref), "the in-process transaction span", ct);
        Assert.That(tx.ParentSpanId, Is.EqualTo(parent));
    }

    [Test, CancelAfter(60_000)]
    public async Task Subscribe_ProducesSubscribeSpan_FailedForANack(CancellationToken ct)
    {
        var spans = new Exported<Activity>();
        await using var host = await StartAsync(spans, null, ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        var snapshot = await ws.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        var nack = await ws.RequestAsync("""{"service":"last_trade","type":"subscribe","filter":"status == 'open"}""", ct);
        Assert.That(nack.GetProperty("type").GetString(), Is.EqualTo("nack"));

        var sub = await spans.WaitForAsync(a => a.OperationName == "mkio.subscribe" && Equals(a.GetTagItem("mkio.service.name"), "all_orders"), "the all_orders subscribe span", ct);
        Assert.That(sub.Status, Is.EqualTo(ActivityStatusCode.Unset));
        Assert.That(sub.GetTagItem("mkio.service.type"), Is.EqualTo("query"));
        var rejected = await spans.WaitForAsync(a => a.OperationName == "mkio.subscribe" && Equals(a.GetTagItem("mkio.service.name"), "last_trade"), "the last_trade subscribe span", ct);
        Assert.That(rejected.Status, Is.EqualTo(ActivityStatusCode.Error));
    }

    [Test, CancelAfter(60_000)]
    public async Task FanOut_ProducesFanOutSpan_ChildOfTheBatch(CancellationToken ct)
    {
        var spans = new Exported<Activity>();
        await using var host = await StartAsync(spans, null, ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await using var tx = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);

        await tx.RequestAsync("""{"service":"add_order","ref":"f1","data":{"id":"7","symbol":"MSFT","qty":5}}""", ct);
        var update = await sub.ReceiveUntilAsync(m => m.GetProperty("type").GetString() == "update", ct);
        Assert.That(update.GetProperty("service").GetString(), Is.EqualTo("last_trade"));

        var fanout = await spans.WaitForAsync(a => a.OperationName == "mkio.fanout" && Equals(a.GetTagItem("mkio.service.name"), "last_trade"), "the last_trade fan-out span", ct);
        Assert.That(fanout.Kind, Is.EqualTo(ActivityKind.Producer));
        Assert.That(fanout.GetTagItem("messaging.batch.message_count"), Is.EqualTo(1));
        var batch = spans.Snapshot().Single(a => a.OperationName == "mkio.batch" && a.SpanId == fanout.ParentSpanId);
        var transaction = spans.Snapshot().Single(a => a.OperationName == "mkio.transaction" && Equals(a.GetTagItem("mkio.transaction.ref"), "f1"));
        Assert.That(batch.Links.Select(l => l.Context.SpanId), Does.Contain(transaction.SpanId));
    }

    [Test, CancelAfter(60_000)]
    public async Task Metrics_ArriveThroughAddMkioInstrumentation(CancellationToken ct)
    {
        var metrics = new Exported<Metric>();
        await using var host = await StartAsync(null, metrics, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        for (var i = 0; i < 3; i++)
        {
            await ws.RequestAsync($$$"""{"service":"add_order","data":{"id":"{{{i}}}","symbol":"AAPL","qty":1}}""", ct);
        }

        var provider = host.Services.GetRequiredService<MeterProvider>();
        Assert.That(provider.ForceFlush(), Is.True);
        var committed = metrics.Snapshot().Last(m => m.Name == "mkio.writer.transactions.committed");
        Assert.That(committed.MeterName, Is.EqualTo("Mkio"));
        long sum = 0;
        foreach (ref readonly var point in committed.GetMetricPoints())
        {
            sum += point.GetSumLong();
        }

        Assert.That(sum, Is.EqualTo(3));
        Assert.That(metrics.Snapshot().Select(m => m.Name), Does.Contain("mkio.server.active_connections").And.Contain("mkio.writer.batch.size"));
    }

    private static Task<MkioTestHost> StartAsync(Exported<Activity>? spans, Exported<Metric>? metrics, CancellationToken ct) =>
        MkioTestHost.StartAsync(Fixtures.FixtureA, ct, builder: b =>
        {
            var otel = b.Services.AddOpenTelemetry();
            if (spans is not null)
            {
                // The ASP.NET Core source makes the connection's HTTP request span exist, so the link to it is tested.
                otel.WithTracing(t => t.AddMkioInstrumentation().AddSource("Microsoft.AspNetCore").AddInMemoryExporter(spans));
            }

            if (metrics is not null)
            {
                otel.WithMetrics(m => m.AddMkioInstrumentation().AddInMemoryExporter(metrics));
            }
        });

    /// <summary>The exporter's target: appended to on the threads that end spans, read by the test.</summary>
    private sealed class Exported<T> : Collection<T>
    {
        private readonly Lock _lock = new();

        public T[] Snapshot()
        {
            lock (_lock)
            {
                return [.. this];
            }
        }

        public async Task<T> WaitForAsync(Func<T, bool> match, string what, CancellationToken ct)
        {
            T? found = default;
            await Eventually.WaitUntilAsync(() => (found = Snapshot().FirstOrDefault(match)) is not null, what, ct);
            return found!;
        }

        protected override void InsertItem(int index, T item)
        {
            lock (_lock)
            {
                base.InsertItem(index, item);
            }
        }

        protected override void ClearItems()
        {
            lock (_lock)
            {
                base.ClearItems();
            }
        }
    }
}
