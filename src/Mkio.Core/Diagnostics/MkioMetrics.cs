using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Mkio.Diagnostics;

/// <summary>
/// The <c>Mkio</c> meter: counters and histograms for the write path, connections, subscriptions
/// and traffic (STYLE.md §10). One instance per host, created from <see cref="IMeterFactory"/>.
/// </summary>
internal sealed class MkioMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = MkioTelemetry.MeterName;

    private readonly Meter _meter;
    private readonly Counter<long> _committed;
    private readonly Counter<long> _failed;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _batchDuration;
    private readonly UpDownCounter<long> _connections;
    private readonly UpDownCounter<long> _subscriptions;
    private readonly Counter<long> _messages;
    private readonly Counter<long> _bytesSent;
    private readonly Counter<long> _slowConsumers;
    private readonly Counter<long> _oversized;
    private readonly Counter<long> _snapshots;
    private readonly Counter<long> _beginFailures;
    private readonly Counter<long> _journalConflicts;
    private readonly Counter<long> _filterErrors;
    private readonly Counter<long> _expressionErrors;

    private readonly Counter<long> _logins;

    public MkioMetrics(IMeterFactory? factory = null)
        : this(factory?.Create(MeterName) ?? new Meter(MeterName))
    {
    }

    /// <summary>Instruments on a meter of another name (the start-up warm-up's private engine: never seen by the host's listeners).</summary>
    internal MkioMetrics(string meterName)
        : this(new Meter(meterName))
    {
    }

    private MkioMetrics(Meter meter)
    {
        _meter = meter;
        _committed = _meter.CreateCounter<long>("mkio.writer.transactions.committed", "{transaction}", "Transactions committed.");
        _failed = _meter.CreateCounter<long>("mkio.writer.transactions.failed", "{transaction}", "Transactions that failed and were rolled back.");
        _batchSize = _meter.CreateHistogram<int>("mkio.writer.batch.size", "{write}", "Requests per committed batch.");
        _batchDuration = _meter.CreateHistogram<double>("mkio.writer.batch.duration", "s", "Time to execute and commit one batch.");
        _connections = _meter.CreateUpDownCounter<long>("mkio.server.active_connections", "{connection}", "Open WebSocket connections.");
        _subscriptions = _meter.CreateUpDownCounter<long>("mkio.subscriptions.active", "{subscription}", "Active subscriptions.");
        _messages = _meter.CreateCounter<long>("mkio.service.messages", "{message}", "Messages received and sent.");
        _bytesSent = _meter.CreateCounter<long>("mkio.server.bytes_sent", "By", "Bytes queued for sending to clients.");
        _slowConsumers = _meter.CreateCounter<long>("mkio.server.slow_consumer_disconnects", "{connection}", "Connections closed because their send queue overflowed.");
        _snapshots = _meter.CreateCounter<long>("mkio.query.snapshots", "{snapshot}", "Query snapshots served from SQLite; mkio.snapshot.shared is true when the subscriber joined a read already in flight.");
        _oversized = _meter.CreateCounter<long>("mkio.server.oversized_messages", "{message}", "Connections closed for an inbound message over the size limit.");
        _filterErrors = _meter.CreateCounter<long>("mkio.filter.errors", "{row}", "Rows a subscriber's filter failed on (the row is skipped for that subscriber); logged once per subscription.");
        _expressionErrors = _meter.CreateCounter<long>("mkio.expression.errors", "{row}", "Rows a config where/publish expression failed on (mkio.expression.kind); logged at most once a minute per service and kind.");
        _journalConflicts = _meter.CreateCounter<long>("mkio.writer.journal_conflicts", "{conflict}", "Another process or connection wrote to the change journal; the writer stopped accepting writes until a restart.");
        _logins = _meter.CreateCounter<long>("mkio.auth.logins", "{login}", "auth-message logins by mkio.auth.result: success, failure (refused or no provider) or throttled (too many failed logins).");
        _beginFailures = _meter.CreateCounter<long>("mkio.writer.begin_failures", "{batch}", "Write batches that could not begin (typically: another connection held the database's write lock for all of busy_timeout); their queued writes failed.");
    }

    public Meter Meter => _meter;

    /// <summary>One <c>auth</c> message answered: <paramref name="result"/> is <c>success</c>, <c>failure</c> or <c>throttled</c>.</summary>
    public void Login(string result) => _logins.Add(1, new KeyValuePair<string, object?>("mkio.auth.result", result));

    /// <summary>A batch could not begin; <paramref name="failedWrites"/> queued writes were failed with its error.</summary>
    public void BeginFailed(int failedWrites)
    {
        _beginFailures.Add(1);
        _failed.Add(failedWrites);
    }

    /// <summary>The writer found another writer's journal entries and stopped accepting writes.</summary>
    public void JournalConflict() => _journalConflicts.Add(1);

    /// <summary><paramref name="count"/> writes failed outside a committed batch (a journal conflict, or refused afterwards).</summary>
    public void WritesFailed(int count) => _failed.Add(count);

    public void BatchCommitted(int size, int ok, TimeSpan elapsed)
    {
        _committed.Add(ok);
        if (size > ok)
        {
            _failed.Add(size - ok);
        }

        _batchSize.Record(size);
        _batchDuration.Record(elapsed.TotalSeconds);
    }

    public void ConnectionOpened() => _connections.Add(1);

    public void ConnectionClosed() => _connections.Add(-1);

    public void SubscriptionAdded(string service)
    {
        if (_subscriptions.Enabled)
        {
            _subscriptions.Add(1, new TagList { { "mkio.service.name", service } });
        }
    }

    public void SubscriptionRemoved(string service)
    {
        if (_subscriptions.Enabled)
        {
            _subscriptions.Add(-1, new TagList { { "mkio.service.name", service } });
        }
    }

    public void MessageIn(string? service)
    {
        if (_messages.Enabled)
        {
            _messages.Add(1, new TagList { { "mkio.service.name", service ?? string.Empty }, { "mkio.message.direction", "in" } });
        }
    }

    public void MessagesOut(string? service, int count, long bytes)
    {
        if (_messages.Enabled)
        {
            _messages.Add(count, new TagList { { "mkio.service.name", service ?? string.Empty }, { "mkio.message.direction", "out" } });
        }

        _bytesSent.Add(bytes);
    }

    public void SlowConsumerDisconnected() => _slowConsumers.Add(1);

    public void OversizedMessage() => _oversized.Add(1);

    public void SnapshotRead(string service, bool shared)
    {
        if (_snapshots.Enabled)
        {
            _snapshots.Add(1, new TagList { { "mkio.service.name", service }, { "mkio.snapshot.shared", shared } });
        }
    }

    public void FilterFailed(string service)
    {
        if (_filterErrors.Enabled)
        {
            _filterErrors.Add(1, new TagList { { "mkio.service.name", service } });
        }
    }

    public void ExpressionFailed(string service, string kind)
    {
        if (_expressionErrors.Enabled)
        {
            _expressionErrors.Add(1, new TagList { { "mkio.service.name", service }, { "mkio.expression.kind", kind } });
        }
    }

    public void Dispose() => _meter.Dispose();
}
