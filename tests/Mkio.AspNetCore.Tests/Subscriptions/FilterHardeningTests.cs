using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Mkio.Diagnostics;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>
/// Issue 9 items 2–4 end to end over real Kestrel: hostile filters cannot stall other subscribers,
/// failing expressions do not amplify logs, unknown columns and non-listener services get a nack.
/// </summary>
public class FilterHardeningTests
{
    /// <summary>The ~1 KB subscribe of issue 9: every term would build a 16,000,000-character string per row.</summary>
    private static readonly string IssueFilter = string.Join(" OR ", Enumerable.Repeat("('x' * 16000000) CONTAINS symbol", 30));

    [Test, CancelAfter(60_000)]
    public async Task HostileFilters_NackedOrBudgeted_NormalSubscriberGetsEveryUpdate(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        using var filterErrors = new MetricCount(host, "mkio.filter.errors");
        await using var ws = await host.ConnectAsync("ws", ct);
        for (var i = 0; i < 3; i++)
        {
            await OkAsync(ws, AddOrder($"s{i}", "AAPL", $"{i}"), ct);
        }

        // Statically too expensive: a nack naming the limit, nothing registered.
        await using var hostile = await host.ConnectAsync("ws", ct);
        var nack = await hostile.RequestAsync($$"""{"service":"all_orders","type":"subscribe","ref":"h1","filter":"{{IssueFilter}}"}""", ct);
        Assert.That(nack.GetProperty("type").GetString(), Is.EqualTo("nack"), nack.GetRawText());
        Assert.That(nack.GetProperty("message").GetString(), Does.StartWith("Expression too expensive").And.Contain("Mkio:FilterLimits:MaxResultLength"));

        // Over the per-evaluation budget only with row data (2 × 240,000 characters built from 'AAPL'):
        // accepted, but every row fails fast and is skipped for that subscriber alone.
        await using var budgeted = await host.ConnectAsync("ws", ct);
        var snap = await budgeted.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"(symbol * 60000) + (symbol * 60000) CONTAINS 'x'"}""", ct);
        Assert.That(snap.GetProperty("rows").GetArrayLength(), Is.Zero, snap.GetRawText());

        await using var normal = await host.ConnectAsync("ws", ct);
        Assert.That((await normal.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct)).GetProperty("rows").GetArrayLength(), Is.EqualTo(3));
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(2), "the budgeted and the normal subscriber");

        const int updates = 20;
        for (var i = 0; i < updates; i++)
        {
            await OkAsync(ws, AddOrder($"u{i}", "AAPL", $"{i}", $"u{i:D2}"), ct);
        }

        for (var i = 0; i < updates; i++)
        {
            var update = await normal.ReceiveAsync(ct);
            Assert.That(update.GetProperty("ref").GetString(), Is.EqualTo($"u{i:D2}"));
        }

        // Every row the budgeted filter saw failed and was counted: 3 snapshot rows + 20 updates.
        await Eventually.WaitUntilAsync(() => filterErrors.Total == 3 + updates, "mkio.filter.errors == 23", ct);
        Assert.That(filterErrors.Total, Is.EqualTo(3 + updates));
        await AssertSilentAsync(budgeted, ct);
        Assert.That(await hostile.NoMessageWithinAsync(TimeSpan.FromMilliseconds(200), ct), Is.True);
    }

    [Test, CancelAfter(60_000)]
    public async Task FailingFilter_OneWarningPerSubscriptionWithoutStackTrace_EveryRowCounted(CancellationToken ct)
    {
        var logs = new CapturingLoggerProvider();
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct, builder: b => b.Logging.AddProvider(logs));
        using var filterErrors = new MetricCount(host, "mkio.filter.errors");
        await using var ws = await host.ConnectAsync("ws", ct);
        const int snapshotRows = 5, updates = 7;
        for (var i = 0; i < snapshotRows; i++)
        {
            await OkAsync(ws, AddOrder($"s{i}", "A", $"{i}"), ct);
        }

        // status is text: ordering it against a number fails on every row (a type error, F1).
        await using var sub = await host.ConnectAsync("ws", ct);
        var snap = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status > 1"}""", ct);
        Assert.That(snap.GetProperty("rows").GetArrayLength(), Is.Zero);
        for (var i = 0; i < updates; i++)
        {
            await OkAsync(ws, AddOrder($"u{i}", "A", $"{i}"), ct);
        }

        await Eventually.WaitUntilAsync(() => filterErrors.Total == snapshotRows + updates, "every failed row counted", ct);
        var warnings = logs.Entries.Where(e => e.Level >= LogLevel.Warning && e.Category.StartsWith("Mkio", StringComparison.Ordinal)).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(filterErrors.Total, Is.EqualTo(snapshotRows + updates));
            Assert.That(warnings, Has.Count.EqualTo(1), string.Join("\n", warnings.Select(w => w.Message)));
            Assert.That(warnings[0].Exception, Is.Null, "no stack trace for a client's filter error");
            Assert.That(warnings[0].Message, Does.Contain("'>' not supported").And.Contain("status > 1").And.Not.Contain("   at "));
        }

        // A new subscription with the same filter logs once more (once per subscription).
        await using var again = await host.ConnectAsync("ws", ct);
        await again.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status > 1"}""", ct);
        await Eventually.WaitUntilAsync(() => filterErrors.Total == (2 * snapshotRows) + (2 * updates), "second snapshot counted", ct);
        Assert.That(logs.Entries.Count(e => e.Level >= LogLevel.Warning), Is.EqualTo(2));
    }

    [Test, CancelAfter(60_000)]
    public async Task FailingWhereAndPublish_LoggedOnceEachAndCounted(CancellationToken ct)
    {
        var logs = new CapturingLoggerProvider();
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.SubPub("big_orders", s => s.From("orders").Key("id").Where("qty > 1")); // qty is null below: fails per row
            o.Query("priced", s => s.From("orders").Publish("id", "id").Publish("unit", "price / qty")); // qty 0: fails per row
        }, ct, builder: b => b.Logging.AddProvider(logs));
        using var expressionErrors = new MetricCount(host, "mkio.expression.errors");
        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"priced","type":"subscribe"}""", ct)).GetProperty("rows").GetArrayLength(), Is.Zero);
        await using var ws = await host.ConnectAsync("ws", ct);
        const int rows = 12;
        for (var i = 0; i < rows; i++)
        {
            await OkAsync(ws, AddOrder($"r{i}", "A", i % 2 == 0 ? "null" : "0"), ct);
        }

        // where: 6 null rows fail (0 > 1 is simply false); publish: 12 rows fail (x / 0 and x / null) for the subscriber.
        await Eventually.WaitUntilAsync(() => expressionErrors.Total == 6 + 12, "where and publish failures counted", ct);
        var warnings = logs.Entries.Where(e => e.Level >= LogLevel.Warning).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(warnings, Has.Count.EqualTo(2), string.Join("\n", warnings.Select(w => w.Message)));
            Assert.That(warnings.Select(w => w.Exception), Is.All.Null);
            Assert.That(warnings.Any(w => w.Message.Contains("big_orders: the where expression", StringComparison.Ordinal)), Is.True);
            Assert.That(warnings.Any(w => w.Message.Contains("priced: the publish (field unit) expression", StringComparison.Ordinal)), Is.True);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task UnknownField_NackWithSuggestion_PerServiceType(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.Stream("audit_f", s => s.From("audit_log").Filterable("event"));
            o.Query("doubled", s => s.From("orders").Sql("SELECT id, qty * 2 AS dbl FROM orders").Filterable("dbl"));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"A","qty":3}}""", ct);
        await using var sub = await host.ConnectAsync("ws", ct);

        async Task<string> Reply(string service, string filter, string refPart = "") =>
            (await sub.RequestAsync($$"""{"service":"{{service}}","type":"subscribe"{{refPart}},"filter":"{{filter}}"}""", ct)).GetRawText();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await Reply("all_orders", "stauts == 'pending'", ",\"ref\":\"x\""), Is.EqualTo(
                """{"type":"nack","service":"all_orders","message":"Unknown field: stauts. Available fields: id, symbol, qty, price, status, _mkio_ref. Did you mean 'status'?","ref":"x"}"""));
            Assert.That(await Reply("last_trade", "qty > 1 AND simbol == 'A'"), Does.Contain("Unknown field: simbol. Available fields: id, symbol, qty, price, status, _mkio_ref. Did you mean 'symbol'?"));
            Assert.That(await Reply("audit_f", "evnt == 'new'"), Does.Contain("Unknown field: evnt. Available fields: id, event, order_id, _mkio_ref. Did you mean 'event'?"));

            // A custom query: the SQL's columns (snapshots) and the table's (live changes) are both known.
            Assert.That(await Reply("doubled", "dbll > 1"), Does.Contain("Unknown field: dbll. Available fields: id, symbol, qty, price, status, _mkio_ref, dbl. Did you mean 'dbl'?"));
            Assert.That(await Reply("doubled", "dbl > 1"), Does.StartWith("""{"type":"snapshot","service":"doubled","ref":"r1","rows":[{"id":"1","dbl":6}]"""));
            Assert.That(await Reply("all_orders", "status == 'pending' AND qty > 1"), Does.StartWith("""{"type":"snapshot","service":"all_orders","ref":"r1","rows":[{"id":"1","""));
        }

        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(1), "the accepted one only");
        Assert.That(Listener(host, "last_trade").SubscriberCount, Is.Zero);
    }

    [Test, CancelAfter(60_000)]
    public async Task FilterLimits_FromTheMkioSection_AppliedToSubscribes(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct, builder: b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mkio:FilterLimits:MaxLength"] = "30",
            ["Mkio:FilterLimits:MaxNodes"] = "5",
        }));
        await using var sub = await host.ConnectAsync("ws", ct);
        var tooLong = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status == 'pending' AND status != 'x'"}""", ct);
        var tooBig = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status == 'a' OR status == 'b'"}""", ct);
        var fine = await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status == 'pending'"}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(tooLong.GetProperty("message").GetString(), Is.EqualTo("Expression is too long: 37 characters (maximum 30; Mkio:FilterLimits:MaxLength)"));
            Assert.That(tooBig.GetProperty("message").GetString(), Is.EqualTo("Expression has too many parts: 7 nodes (maximum 5; Mkio:FilterLimits:MaxNodes)"));
            Assert.That(fine.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        }
    }

    [TestCase("Mkio:FilterLimits:MaxWork", "lots", "Mkio:FilterLimits:MaxWork: 'lots' is not an integer")]
    [TestCase("Mkio:FilterLimits:MaxDepth", "1000", "Mkio:FilterLimits: MaxLength must be 1–65536, MaxDepth 1–256, MaxNodes and MaxWork at least 1, MaxResultLength at least 0.")]
    [CancelAfter(30_000)]
    public void FilterLimits_InvalidOverride_StartRefusedNamingIt(string key, string value, string message, CancellationToken ct)
    {
        var ex = Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => MkioTestHost.StartAsync(
            FixtureAPlus, ct, builder: b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [key] = value })))!;
        Assert.That(ex.Message, Is.EqualTo("Invalid mkio configuration: " + message));
    }

    private static string AddOrder(string id, string symbol, string qty, string? @ref = null) =>
        "{\"service\":\"add_order\"" + (@ref is null ? string.Empty : ",\"ref\":\"" + @ref + "\"")
            + ",\"data\":{\"id\":\"" + id + "\",\"symbol\":\"" + symbol + "\",\"qty\":" + qty + "}}";

    /// <summary>Sums one counter of the host's own <c>Mkio</c> meter (other hosts in the process are ignored).</summary>
    private sealed class MetricCount : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public MetricCount(MkioTestHost host, string instrument)
        {
            var meter = Engine(host).Metrics.Meter;
            _listener.InstrumentPublished = (i, l) =>
            {
                if (ReferenceEquals(i.Meter, meter) && i.Name == instrument)
                {
                    l.EnableMeasurementEvents(i);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }

    private sealed record LogEntry(string Category, LogLevel Level, string Message, Exception? Exception);

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<LogEntry> _entries = new();

        public IReadOnlyList<LogEntry> Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue(new LogEntry(category, logLevel, formatter(state, exception), exception));
        }
    }
}
