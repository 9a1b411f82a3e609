using System.Text.Json;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Diagnostics;
using Mkio.Model;
using Mkio.Services;
using Mkio.Storage;

namespace Mkio.Core.Tests.Storage;

/// <summary>
/// A started <see cref="MkioEngine"/> on an in-memory database with a <see cref="FakeTimeProvider"/>:
/// <c>batch_max_wait_ms</c> only elapses when the test advances the clock. Records every published batch and
/// every <c>mkio.writer.batch.size</c> measurement.
/// </summary>
internal sealed class StorageTestEngine : IChangeListener, IAsyncDisposable
{
    private readonly List<JsonDocument> _documents = [];
    private readonly List<IReadOnlyList<ChangeEvent>> _batches = [];
    private readonly Lock _lock = new();
    private readonly IDisposable _subscription;

    private StorageTestEngine(MkioEngine engine, FakeTimeProvider time, MkioMetrics metrics)
    {
        Engine = engine;
        Time = time;
        Metrics = metrics;
        BatchSizes = new MetricCollector<int>(metrics.Meter, "mkio.writer.batch.size");
        _subscription = engine.Bus.Subscribe(this);
    }

    public MkioEngine Engine { get; }

    public FakeTimeProvider Time { get; }

    public MkioMetrics Metrics { get; }

    public MetricCollector<int> BatchSizes { get; }

    public IReadOnlyCollection<string>? Tables => null;

    public List<IReadOnlyList<ChangeEvent>> Batches
    {
        get
        {
            lock (_lock)
            {
                return [.. _batches];
            }
        }
    }

    public List<ChangeEvent> Events => [.. Batches.SelectMany(b => b)];

    public List<int> BatchSizeValues => [.. BatchSizes.GetMeasurementSnapshot().Select(m => m.Value)];

    /// <summary>Fixture A's tables and write services (CONFORMANCE.md) plus an upsert.</summary>
    public static void FixtureA(MkioOptions o)
    {
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER")
                .Column("price", "REAL DEFAULT 0")
                .Column("status", "TEXT DEFAULT 'pending'"))
            .Table("audit_log", t => t
                .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                .Column("event", "TEXT")
                .Column("order_id", "TEXT"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "symbol", "qty"]))
            .Transaction("update_order", tx => tx.Update("orders", ["id"], ["qty"]))
            .Transaction("delete_order", tx => tx.Delete("orders", ["id"]))
            .Transaction("upsert_order", tx => tx.Upsert("orders", ["id"], ["symbol", "qty"]))
            .Transaction("place", tx => tx.Ops(ops => ops
                .Insert("orders", ["id", "symbol", "qty"])
                .Insert("audit_log", ["event"], bind: new Dictionary<string, string> { ["order_id"] = "$0.id" })));
    }

    public static async Task<StorageTestEngine> StartAsync(int batchMaxSize, double batchMaxWaitMs, CancellationToken ct, Action<MkioOptions>? configure = null)
    {
        var o = new MkioOptions { DbPath = ":memory:", BatchMaxSize = batchMaxSize, BatchMaxWaitMs = batchMaxWaitMs, ShutdownTimeout = 5 };
        (configure ?? FixtureA)(o);
        var model = ModelCompiler.Compile(o);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 4, 4, 15, 30, 45, TimeSpan.Zero));
        var metrics = new MkioMetrics();
        var engine = new MkioEngine(model, NullLoggerFactory.Instance, metrics, time);
        await engine.StartAsync(ct);
        return new StorageTestEngine(engine, time, metrics);
    }

    public TransactionService Service(string name) =>
        Engine.TryGetService(name, out var s) ? (TransactionService)s : throw new ArgumentException($"no service {name}", nameof(name));

    /// <summary>Submits a request built from <paramref name="json"/> (synchronously queued) and returns its pending outcome.</summary>
    public Task<WriteOutcome> Submit(string service, string json, CancellationToken ct)
    {
        var document = JsonDocument.Parse(json);
        lock (_lock)
        {
            _documents.Add(document);
        }

        return Service(service).ExecuteAsync(document.RootElement, ct).AsTask();
    }

    /// <summary>Rows read through the server's read path, values by storage class.</summary>
    public async Task<List<object?[]>> QueryAsync(string sql, CancellationToken ct)
    {
        var rows = await Engine.Database.ReadAsync(c => MkioDatabase.Query(c, sql), ct);
        return [.. rows.Select(r => r.Values.ToArray())];
    }

    public void OnCommitted(IReadOnlyList<ChangeEvent> events)
    {
        lock (_lock)
        {
            _batches.Add([.. events]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _subscription.Dispose();
        await Engine.DisposeAsync();
        BatchSizes.Dispose();
        Metrics.Dispose();
        foreach (var d in _documents)
        {
            d.Dispose();
        }
    }

    public static object?[] Values(Row row) => row.Values.ToArray();
}
