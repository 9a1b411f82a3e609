using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Model;
using Mkio.Protocol;
using Npgsql;
using NpgsqlTypes;

namespace Mkio.Storage.Postgres;

/// <summary>
/// The PostgreSQL writer of one node: the same request/batch semantics as <see cref="WriteBatcher"/> (a
/// SAVEPOINT per request, one COMMIT per batch, <c>RETURNING *</c> rows as change events, latency first: a
/// batch closes as soon as the queue is empty or it is full) over one Npgsql connection.
/// <para>
/// The journal is gap-free and in commit order across nodes because every batch first takes the transaction
/// advisory lock <see cref="JournalLockKey"/>: batches of all nodes run one after the other, each reads the
/// journal's newest position inside the lock, appends its entries after it and sends <c>NOTIFY mkio_journal</c>
/// in the same transaction; the lock is released by COMMIT, so the next batch sees every earlier entry.
/// </para>
/// <para>
/// Connection failures fail the batch with <c>database unavailable: …</c> and set <see cref="Fault"/> until a
/// later batch reconnects and commits. When the connection drops during COMMIT, the writer reconnects and looks
/// the batch's last journal entry up (under the journal lock, so the old transaction has ended either way) and
/// answers every request with its real outcome; only when the database stays unreachable for
/// <see cref="ResolveTimeout"/> is the answer an unknown outcome.
/// </para>
/// </summary>
internal sealed partial class PostgresWriter : IAsyncDisposable, IWriteQueue
{
    /// <summary>Transaction advisory lock serialising journal appends cluster-wide ("mkioJNL").</summary>
    public const long JournalLockKey = 0x6d6b696f_4a4e4cL;

    /// <summary>The NOTIFY channel a commit wakes the other nodes' tails with.</summary>
    public const string NotifyChannel = "mkio_journal";

    /// <summary>The answer when a COMMIT's outcome could not be learnt (the prefix of the message).</summary>
    public const string UnknownOutcome = "database unavailable, the commit's outcome is unknown: ";

    private const string HeadSql = "SELECT " + PostgresJournal.HeadExpression + ", (SELECT ref FROM " + ChangeJournal.TableName + " ORDER BY seq DESC LIMIT 1)";

    private const string LookupSql = "SELECT (SELECT ref FROM " + ChangeJournal.TableName + " WHERE seq = $1), (SELECT min(seq) FROM " + ChangeJournal.TableName + ")";

    private const string SavepointSql = "SAVEPOINT req";

    private const string ReleaseSql = "RELEASE SAVEPOINT req";

    private const string RollbackSql = "ROLLBACK TO SAVEPOINT req; RELEASE SAVEPOINT req";

    private const string NotifySql = "SELECT pg_notify('" + NotifyChannel + "', $1)";

    private static readonly TimeSpan ResolveRetry = TimeSpan.FromMilliseconds(200);

    /// <summary>How often a faulted writer with nothing to write checks whether the database answers again.</summary>
    internal static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    private static readonly string LockSql = "SELECT pg_advisory_xact_lock(" + JournalLockKey.ToString(CultureInfo.InvariantCulture) + ")";

    private const string AppendSql = "INSERT INTO " + ChangeJournal.TableName + " (seq, tbl, op, ref, row, cause, old) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])";

    private const string PruneSql = "DELETE FROM " + ChangeJournal.TableName + " WHERE seq IN (SELECT seq FROM " + ChangeJournal.TableName + " WHERE tbl = $1 ORDER BY seq DESC OFFSET $2)";

    private const string PrunedStateSql = "INSERT INTO " + ChangeJournal.StateTableName + " (key, value) VALUES ('" + ChangeJournal.HighWaterKey + "', $1), ('"
        + ChangeJournal.PrunedKey + "', 1) ON CONFLICT (key) DO UPDATE SET value = GREATEST(" + ChangeJournal.StateTableName + ".value, excluded.value)";

    private readonly NpgsqlDataSource _source;
    private int _sincePrune;
    private readonly ChangeBus? _bus;
    private readonly ClusterRefs _refs;
    private readonly ILogger _logger;
    private readonly int _maxBatch;
    private readonly Channel<WriteRequest> _queue = Channel.CreateBounded<WriteRequest>(new BoundedChannelOptions(10_000) { SingleReader = true });
    private readonly Dictionary<(OpModel, ulong), (string Sql, int[] Indexes)> _statements = [];
    private readonly List<PendingChange> _pending = [];
    private NpgsqlConnection? _connection;
    private Task? _loop;
    private long _sequence;
    private string? _fault;
    private bool _savepointOpen;
    private volatile bool _stopping;
    private volatile bool _abandon;
    private int _inFlight;

    public PostgresWriter(NpgsqlDataSource source, ChangeBus? bus, MkioRefGenerator refs, ILogger logger, int maxBatch)
    {
        _source = source;
        _bus = bus;
        _refs = new ClusterRefs(refs);
        _logger = logger;
        _maxBatch = maxBatch;
    }

    /// <summary>
    /// The node's journal tail (cluster mode: the bus passed to the constructor is null and the tail publishes
    /// every node's commits). The writer hands each committed batch to it (<see cref="PostgresJournalTail.PublishOwn"/>,
    /// no read back) and completes the batch's requests only once the tail has published the batch's last position.
    /// </summary>
    public PostgresJournalTail? Tail { get; set; }

    /// <summary>How long the writer tries to learn a COMMIT's outcome after its connection dropped (default 10 s).</summary>
    public TimeSpan ResolveTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Test hook: awaited right before each COMMIT (internal; lets a test break the connection there).</summary>
    internal Func<Task>? BeforeCommit { get; set; }

    /// <summary>
    /// Journal entries kept per table (<see cref="ChangeJournal.Retention"/>); every 256 appended entries the
    /// batch deletes, inside its transaction and under the journal lock, what exceeds them. Null keeps everything.
    /// </summary>
    public IReadOnlyDictionary<string, int>? Retention { get; set; }

    /// <summary>Where batch sizes, outcomes and failed writes are counted (<c>mkio.writer.*</c>, as for the SQLite writer), or null.</summary>
    public Diagnostics.MkioMetrics? Metrics { get; init; }

    /// <summary>The journal position of this node's last commit.</summary>
    public long Sequence => Interlocked.Read(ref _sequence);

    /// <summary>The last connection failure (cleared by the next committed batch), or null.</summary>
    public string? Fault => Volatile.Read(ref _fault);

    /// <summary>Starts the writer loop.</summary>
    public void Start(long initialSequence)
    {
        _sequence = initialSequence;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Queues a request; fails it at once when the writer is stopping.</summary>
    public async ValueTask SubmitAsync(WriteRequest request, CancellationToken cancellationToken = default)
    {
        if (_stopping || !_queue.Writer.TryWrite(request))
        {
            try
            {
                if (_stopping)
                {
                    throw new ChannelClosedException();
                }

                await _queue.Writer.WriteAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                request.TrySetResult(new WriteOutcome(false, request.Ref ?? _refs.Next(), WriteBatcher.StoppingMessage));
            }
        }
    }

    /// <summary>Requests waiting in the queue.</summary>
    public int QueueLength => _queue.Reader.CanCount ? _queue.Reader.Count : 0;

    /// <summary>
    /// Test hook, as <see cref="WriteBatcher.HoldAsync"/>: parks the writer between batches until the returned handle
    /// is disposed; requests submitted meanwhile stay queued and, once released, share one batch (up to the batch size).
    /// </summary>
    public Task<IDisposable> HoldAsync(CancellationToken cancellationToken = default) => WriteBatcher.HoldQueueAsync(_queue.Writer, cancellationToken);

    /// <summary>True once <see cref="StopAsync"/> began: new requests fail with <see cref="WriteBatcher.StoppingMessage"/>.</summary>
    public bool IsStopping => _stopping;

    /// <summary>True once the shutdown drain timed out: requests still queued are answered with the stopping error.</summary>
    internal bool Abandoned => _abandon;

    /// <summary>Requests of the batch being executed (taken from the queue, not yet committed or failed); 0 between batches.</summary>
    internal int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// As <see cref="WriteBatcher.StopAsync"/>: stops accepting requests (they fail with <see cref="WriteBatcher.StoppingMessage"/>),
    /// drains what is queued for at most <paramref name="timeout"/>, then lets the batch being executed finish (its
    /// statements are bounded by the connection's command timeout) and answers every request still queued with the
    /// stopping error. Nothing accepted is left unanswered.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        if (_loop is null)
        {
            FailQueued();
            return;
        }

        var finished = await Task.WhenAny(_loop, Task.Delay(timeout)).ConfigureAwait(false);
        if (finished != _loop)
        {
            Log.DrainTimedOut(_logger, timeout.TotalSeconds);
            _abandon = true;
            await _loop.ConfigureAwait(false);
        }
    }

    /// <summary>A writer that never started (its start failed): answers what was queued with the stopping error.</summary>
    private void FailQueued()
    {
        while (_queue.Reader.TryRead(out var r))
        {
            Fail(r);
        }
    }

    private void Fail(WriteRequest r)
    {
        if (r.Maintenance is not null)
        {
            r.RunMaintenance(null);
            return;
        }

        r.TrySetResult(new WriteOutcome(false, r.Ref ?? _refs.Next(), WriteBatcher.StoppingMessage));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<WriteRequest>(_maxBatch);
        while (await WaitForWorkAsync(reader).ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _maxBatch && reader.TryRead(out var r))
            {
                if (_abandon)
                {
                    // The shutdown drain timed out: what is still queued gets the stopping error, as on SQLite.
                    Fail(r);
                    continue;
                }

                if (r.Maintenance is not null)
                {
                    // A test hold (HoldAsync): what was taken before it commits first, what follows waits.
                    if (batch.Count > 0)
                    {
                        await RunBatchAsync(batch).ConfigureAwait(false);
                        batch.Clear();
                    }

                    r.RunMaintenance(null);
                    continue;
                }

                batch.Add(r);
            }

            if (batch.Count > 0)
            {
                await RunBatchAsync(batch).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Waits for requests. While the writer is faulted (the database was unreachable), it also probes the database
    /// every <see cref="ProbeInterval"/> and clears the fault once it answers, so a node without write traffic reports
    /// healthy again by itself when PostgreSQL returns (a load balancer that took it out of rotation would otherwise
    /// never send the write that clears it).
    /// </summary>
    private async Task<bool> WaitForWorkAsync(ChannelReader<WriteRequest> reader)
    {
        if (Volatile.Read(ref _fault) is null)
        {
            return await reader.WaitToReadAsync().ConfigureAwait(false);
        }

        var wait = reader.WaitToReadAsync().AsTask();
        while (Volatile.Read(ref _fault) is not null)
        {
            if (await Task.WhenAny(wait, Task.Delay(ProbeInterval)).ConfigureAwait(false) == wait)
            {
                break;
            }

            await ProbeAsync().ConfigureAwait(false);
        }

        return await wait.ConfigureAwait(false);
    }

    /// <summary>One round trip on the writer's connection (reopened if needed): success clears the fault.</summary>
    private async Task ProbeAsync()
    {
        try
        {
            var connection = await ConnectionAsync().ConfigureAwait(false);
            using var cmd = new NpgsqlCommand("SELECT 1", connection);
            await cmd.ExecuteScalarAsync().ConfigureAwait(false);
            Volatile.Write(ref _fault, null);
            Log.Recovered(_logger);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            await DropConnectionAsync().ConfigureAwait(false);
        }
    }

    private async Task RunBatchAsync(List<WriteRequest> batch)
    {
        Volatile.Write(ref _inFlight, batch.Count);
        try
        {
            await ExecuteBatchAsync(batch).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _inFlight, 0);
        }
    }

    private async Task ExecuteBatchAsync(List<WriteRequest> batch)
    {
        var outcomes = new WriteOutcome[batch.Count];
        var events = new List<ChangeEvent>(batch.Count * 2);
        var committing = false;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        long sequence = 0;

        // The batch span is Activity.Current from here on, so the fan-out spans of the published changes are its children.
        var activity = MkioTelemetry.StartBatch("postgresql");
        try
        {
            var connection = await ConnectionAsync().ConfigureAwait(false);
            using var tx = await connection.BeginTransactionAsync().ConfigureAwait(false);
            using (var head = new NpgsqlBatch(connection, tx))
            {
                head.BatchCommands.Add(new NpgsqlBatchCommand(LockSql));
                head.BatchCommands.Add(new NpgsqlBatchCommand(HeadSql));
                using var r = await head.ExecuteReaderAsync().ConfigureAwait(false);
                await r.NextResultAsync().ConfigureAwait(false);
                await r.ReadAsync().ConfigureAwait(false);
                sequence = r.GetInt64(0);
                _refs.Observe(r.IsDBNull(1) ? null : r.GetString(1));
            }

            for (var i = 0; i < batch.Count; i++)
            {
                var req = batch[i];
                if (req.Activity is { } transaction)
                {
                    activity?.AddLink(new System.Diagnostics.ActivityLink(transaction.Context));
                }

                var @ref = string.IsNullOrEmpty(req.Ref) ? _refs.Next() : req.Ref;
                for (var attempt = 0; ; attempt++)
                {
                    _pending.Clear();
                    _savepointOpen = false;
                    try
                    {
                        await ExecuteRequestAsync(connection, tx, req, @ref).ConfigureAwait(false);
                        foreach (var p in _pending)
                        {
                            events.Add(new ChangeEvent(p.Table, p.Op, p.Row, @ref, ++sequence, p.Cause, p.Old));
                        }

                        outcomes[i] = new WriteOutcome(true, @ref, null);
                        break;
                    }
                    catch (Exception ex) when (ex is MkioWriteException or PostgresException)
                    {
                        if (_savepointOpen)
                        {
                            await ExecuteAsync(connection, tx, RollbackSql).ConfigureAwait(false);
                        }

                        if (attempt == 0 && IsStalePlan(ex))
                        {
                            // A migration (another node's, or mkio dbupdate) changed a table's columns after this
                            // connection prepared its statements: forget them and run the request again.
                            Log.StalePlans(_logger);
                            connection.UnprepareAll();
                            continue;
                        }

                        outcomes[i] = new WriteOutcome(false, @ref, ex is PostgresException pg ? pg.MessageText : ex.Message);
                        break;
                    }
                }
            }

            if (events.Count > 0)
            {
                await AppendAsync(connection, tx, events, sequence).ConfigureAwait(false);
                await PruneAsync(connection, tx, events.Count, sequence).ConfigureAwait(false);
            }

            committing = true;
            if (BeforeCommit is { } hook)
            {
                await hook().ConfigureAwait(false);
            }

            await tx.CommitAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            Log.BatchFailed(_logger, ex, batch.Count);
            await DropConnectionAsync().ConfigureAwait(false);

            // A batch without journal entries changed nothing, so it has the same outcome committed or not.
            bool? committed = false;
            if (committing)
            {
                committed = events.Count == 0 ? true : await ResolveCommitAsync(events[^1]).ConfigureAwait(false);
            }

            if (committed is not true)
            {
                var message = (committed is null ? UnknownOutcome : "database unavailable: ") + ex.Message;
                Volatile.Write(ref _fault, message);
                Metrics?.WritesFailed(batch.Count);
                for (var i = 0; i < batch.Count; i++)
                {
                    // Known not committed after COMMIT was sent: a request that failed on its own keeps its own error.
                    var own = committing && committed is false && !outcomes[i].Ok ? outcomes[i].Error : null;
                    batch[i].TrySetResult(new WriteOutcome(false, outcomes[i].Ref ?? batch[i].Ref ?? string.Empty, own ?? message));
                }

                MkioTelemetry.EndBatch(activity, batch.Count, message);
                return;
            }

            if (events.Count > 0)
            {
                Log.CommitResolved(_logger, batch.Count, events[^1].Sequence);
            }
        }

        Interlocked.Exchange(ref _sequence, sequence);
        Volatile.Write(ref _fault, null);
        if (Metrics is { } metrics)
        {
            var ok = 0;
            foreach (var o in outcomes)
            {
                ok += o.Ok ? 1 : 0;
            }

            metrics.BatchCommitted(batch.Count, ok, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }

        if (_bus is not null)
        {
            try
            {
                _bus.Publish(events);
            }
            catch (Exception ex)
            {
                Log.PublishFailed(_logger, ex);
            }
        }

        var requests = batch.ToArray();
        if (Tail is { } tail && events.Count > 0)
        {
            tail.PublishOwn(events);
            MkioTelemetry.EndBatch(activity, batch.Count, null);
            _ = CompleteAfterAsync(tail.WaitForAsync(events[^1].Sequence), requests, outcomes);
            return;
        }

        MkioTelemetry.EndBatch(activity, batch.Count, null);
        Complete(requests, outcomes);
    }

    /// <summary>
    /// After a connection drop during COMMIT: true when the batch's last journal entry is in the journal (it
    /// committed), false when it is not, null when the database stayed unreachable for <see cref="ResolveTimeout"/>
    /// (or the journal no longer reaches back that far). The lookup takes the journal lock first, so the old
    /// transaction has ended — committed or rolled back — before the journal is read.
    /// </summary>
    private async Task<bool?> ResolveCommitAsync(ChangeEvent last)
    {
        using var deadline = new CancellationTokenSource(ResolveTimeout);
        while (true)
        {
            try
            {
                using var connection = await _source.OpenConnectionAsync(deadline.Token).ConfigureAwait(false);
                using var tx = await connection.BeginTransactionAsync(deadline.Token).ConfigureAwait(false);
                using var lookup = new NpgsqlBatch(connection, tx);
                lookup.BatchCommands.Add(new NpgsqlBatchCommand(LockSql));
                var find = new NpgsqlBatchCommand(LookupSql);
                find.Parameters.Add(new NpgsqlParameter { Value = last.Sequence });
                lookup.BatchCommands.Add(find);
                bool? found;
                using (var r = await lookup.ExecuteReaderAsync(deadline.Token).ConfigureAwait(false))
                {
                    await r.NextResultAsync(deadline.Token).ConfigureAwait(false);
                    await r.ReadAsync(deadline.Token).ConfigureAwait(false);
                    found = !r.IsDBNull(0) && r.GetString(0) == last.Ref ? true
                        : r.IsDBNull(1) || r.GetInt64(1) <= last.Sequence ? false
                        : null;
                }

                await tx.CommitAsync(deadline.Token).ConfigureAwait(false);
                return found;
            }
            catch (OperationCanceledException)
            {
                return null;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                if (deadline.IsCancellationRequested)
                {
                    return null;
                }

                try
                {
                    await Task.Delay(ResolveRetry, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return null;
                }
            }
        }
    }

    /// <summary>
    /// PostgreSQL's refusal to run a prepared statement (Npgsql prepares repeated statements automatically) whose result
    /// columns changed since it was prepared: <c>RETURNING *</c> after a migration added, dropped or retyped a column.
    /// </summary>
    private static bool IsStalePlan(Exception ex) =>
        ex is PostgresException { SqlState: PostgresErrorCodes.FeatureNotSupported } pg
        && pg.MessageText.StartsWith("cached plan must not change result type", StringComparison.Ordinal);

    private static async Task CompleteAfterAsync(Task tailed, WriteRequest[] requests, WriteOutcome[] outcomes)
    {
        try
        {
            await tailed.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The tail stopped (shutdown): the batch is committed all the same.
        }

        Complete(requests, outcomes);
    }

    private static void Complete(WriteRequest[] requests, WriteOutcome[] outcomes)
    {
        for (var i = 0; i < requests.Length; i++)
        {
            requests[i].TrySetResult(outcomes[i]);
        }
    }

    private async Task ExecuteRequestAsync(NpgsqlConnection connection, NpgsqlTransaction tx, WriteRequest req, string @ref)
    {
        if (req.PreCheck is { } check)
        {
            await PreCheckAsync(connection, tx, req, check).ConfigureAwait(false);
        }

        var ops = req.OpSet.Ops;
        var recorded = new Row?[ops.Length];
        for (var j = 0; j < ops.Length; j++)
        {
            var op = ops[j];
            var mask = req.Omitted.Length > j ? req.Omitted[j] : 0UL;
            if (op.Table.Versioned)
            {
                recorded[j] = await ExecuteVersionedAsync(connection, tx, req, @ref, j, mask, recorded).ConfigureAwait(false);
                continue;
            }

            var (sql, indexes) = Statement(op, mask);
            var cmd = new NpgsqlBatchCommand(sql);
            var position = 0;
            foreach (var pi in indexes)
            {
                var name = op.Params[pi].Name;
                var kind = op.Table.Find(name) is { } column ? PostgresColumnMapper.KindOf(column.Definition) : PostgresColumnKind.Text;
                cmd.Parameters.Add(PostgresValues.Parameter(WriteBatcher.ParamValue(op, pi, req.Values[j], @ref, recorded, req), kind, op.Table.Name + "." + name, ++position));
            }

            // One round trip per op: the request's SAVEPOINT rides with its first op, its RELEASE with its last.
            using var batch = new NpgsqlBatch(connection, tx);
            var first = !_savepointOpen;
            if (first)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand(SavepointSql));
                _savepointOpen = true;
            }

            batch.BatchCommands.Add(cmd);
            if (j == ops.Length - 1)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand(ReleaseSql));
            }

            List<Row> rows;
            using (var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false))
            {
                // The reader skips the SAVEPOINT (it returns no result set) and starts on the op's rows.
                rows = await PostgresValues.ReadRowsAsync(reader, CancellationToken.None).ConfigureAwait(false);
                while (await reader.NextResultAsync().ConfigureAwait(false))
                {
                    // Drains the RELEASE so its error (if any) surfaces here.
                }
            }

            foreach (var row in rows)
            {
                _pending.Add(new(op.Table, op.OpTypeName, row));
            }

            recorded[j] = op.Type == OpType.Delete || rows.Count == 0 ? null : rows[0];
        }
    }

    private (string Sql, int[] Indexes) Statement(OpModel op, ulong mask)
    {
        if (!_statements.TryGetValue((op, mask), out var s))
        {
            var (sqlite, indexes) = SqlText.For(op, mask);
            s = (PostgresSql.Translate(sqlite, out _), indexes);
            _statements[(op, mask)] = s;
        }

        return s;
    }

    private static async Task AppendAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<ChangeEvent> events, long sequence)
    {
        var seq = new long[events.Count];
        var tbl = new string[events.Count];
        var op = new string[events.Count];
        var refs = new string[events.Count];
        var rows = new string[events.Count];
        var causes = new string?[events.Count];
        var olds = new string?[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            seq[i] = e.Sequence;
            tbl[i] = e.Table.Name;
            op[i] = e.Op;
            refs[i] = e.Ref;
            rows[i] = System.Text.Encoding.UTF8.GetString(SubscriptionFrames.RowJson(e.Row));
            causes[i] = e.Cause;
            olds[i] = e.Old is null ? null : System.Text.Encoding.UTF8.GetString(WireJson.Serialize(e.Old, static (w, r) => WireJson.WriteRow(w, r)));
        }

        // The append and the NOTIFY waking the other nodes' tails travel as one round trip.
        using var batch = new NpgsqlBatch(connection, tx);
        var cmd = new NpgsqlBatchCommand(AppendSql);
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint, Value = seq });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = tbl });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = op });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = refs });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = rows });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = causes });
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = olds });
        batch.BatchCommands.Add(cmd);
        var notify = new NpgsqlBatchCommand(NotifySql);
        notify.Parameters.Add(new NpgsqlParameter { Value = sequence.ToString(CultureInfo.InvariantCulture) });
        batch.BatchCommands.Add(notify);
        await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    private async Task PruneAsync(NpgsqlConnection connection, NpgsqlTransaction tx, int appended, long sequence)
    {
        _sincePrune += appended;
        if (Retention is null || _sincePrune < 256)
        {
            return;
        }

        _sincePrune = 0;
        var deleted = 0;
        foreach (var (table, keep) in Retention)
        {
            using var cmd = new NpgsqlCommand(PruneSql, connection, tx);
            cmd.Parameters.Add(new NpgsqlParameter { Value = table });
            cmd.Parameters.Add(new NpgsqlParameter { Value = (long)keep });
            deleted += await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }

        if (deleted > 0)
        {
            using var state = new NpgsqlCommand(PrunedStateSql, connection, tx);
            state.Parameters.Add(new NpgsqlParameter { Value = sequence });
            await state.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sql)
    {
        using var cmd = new NpgsqlCommand(sql, connection, tx);
        await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    private async Task<NpgsqlConnection> ConnectionAsync()
    {
        if (_connection is { State: System.Data.ConnectionState.Open })
        {
            return _connection;
        }

        await DropConnectionAsync().ConfigureAwait(false);
        _connection = await _source.OpenConnectionAsync().ConfigureAwait(false);
        if (Tail is { } tail)
        {
            tail.OwnBackend = _connection.ProcessID;
        }

        return _connection;
    }

    private async Task DropConnectionAsync()
    {
        if (_connection is not null)
        {
            try
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                // The connection is already broken; nothing more to release.
            }

            _connection = null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2120, Level = LogLevel.Error, Message = "PostgreSQL batch of {BatchSize} request(s) failed; the connection is reopened for the next batch")]
        public static partial void BatchFailed(ILogger logger, Exception exception, int batchSize);

        [LoggerMessage(EventId = 2125, Level = LogLevel.Warning, Message = "The connection dropped during the COMMIT of a batch of {BatchSize} request(s); after reconnecting, its journal entry {Position} was found: it committed")]
        public static partial void CommitResolved(ILogger logger, int batchSize, long position);

        [LoggerMessage(EventId = 2126, Level = LogLevel.Warning, Message = "Draining the PostgreSQL write queue took longer than {TimeoutSeconds} s; remaining requests are answered with the stopping error.")]
        public static partial void DrainTimedOut(ILogger logger, double timeoutSeconds);

        [LoggerMessage(EventId = 2127, Level = LogLevel.Information, Message = "A table's columns changed since the writer prepared its statements (a migration); they are prepared again")]
        public static partial void StalePlans(ILogger logger);

        [LoggerMessage(EventId = 2128, Level = LogLevel.Information, Message = "The PostgreSQL database answers again; the writer's fault is cleared")]
        public static partial void Recovered(ILogger logger);

        [LoggerMessage(EventId = 2121, Level = LogLevel.Error, Message = "Publishing committed PostgreSQL changes failed")]
        public static partial void PublishFailed(ILogger logger, Exception exception);
    }
}
