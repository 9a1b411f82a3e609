using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Diagnostics;
using Mkio.Model;
using SQLitePCL;

namespace Mkio.Storage;

/// <summary>
/// The single writer (SERVICES.md §5.5–5.7). Requests queue in a bounded channel; one loop takes a
/// batch — the requests waiting in the queue, up to <c>batch_max_size</c>, closing as soon as the
/// queue is empty or <c>batch_max_wait_ms</c> after its first request, whichever comes first — and
/// runs it as one SQLite transaction: a SAVEPOINT per request, one COMMIT per batch. A failing request rolls back only its own savepoint. After COMMIT the change
/// events go to the bus in commit order, and only then are the requests completed.
/// </summary>
internal sealed partial class WriteBatcher : IAsyncDisposable, IWriteQueue
{
    public const string StoppingMessage = "Writer is stopping, no new submissions accepted";
    private const int QueueCapacity = 65536;

    private readonly MkioDatabase _db;
    private readonly ChangeBus _bus;
    private readonly MkioRefGenerator _refs;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MkioMetrics _metrics;
    private readonly int _maxBatch;
    private readonly long _maxWaitTicks;
    private readonly Channel<WriteRequest> _queue;
    private readonly Dictionary<(OpModel Op, ulong Mask), PreparedOp> _statements = [];
    private readonly List<PendingChange> _pendingEvents = [];
    private Task? _loop;
    private Task<bool>? _pendingWait;
    private volatile bool _stopping;
    private long _sequence;
    private sqlite3 _handle = null!;
    private Stmt _begin = null!;
    private Stmt _commit = null!;
    private Stmt _rollback = null!;
    private Stmt _savepoint = null!;
    private Stmt _release = null!;
    private Stmt _rollbackTo = null!;
    private Versioning.HistoryWriter _history = null!;

    public WriteBatcher(MkioDatabase db, ChangeBus bus, MkioRefGenerator refs, TimeProvider time, ILogger logger, MkioMetrics metrics, int maxBatch, double maxWaitMs)
    {
        _db = db;
        _bus = bus;
        _refs = refs;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _maxBatch = Math.Max(1, maxBatch);
        _maxWaitTicks = (long)Math.Min(long.MaxValue / 2, Math.Max(0, maxWaitMs) / 1000.0 * time.TimestampFrequency);
        _queue = Channel.CreateBounded<WriteRequest>(new BoundedChannelOptions(QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>Called by journals and listeners that need each committed batch's events before COMMIT.</summary>
    public Action<sqlite3, IReadOnlyList<ChangeEvent>>? BeforeCommit { get; set; }

    /// <summary>The last commit sequence number handed out.</summary>
    public long Sequence => Interlocked.Read(ref _sequence);

    public int QueueLength => _queue.Reader.CanCount ? _queue.Reader.Count : 0;

    /// <summary>
    /// The error of the last batch that could not begin (typically <c>database is locked</c>: another connection held
    /// the write lock for all of busy_timeout) or commit (e.g. <c>database or disk is full</c>), or null once a batch
    /// commits again. The health check reports it.
    /// </summary>
    public string? LastBatchError => Volatile.Read(ref _lastBatchError);

    private string? _lastBatchError;

    /// <summary>
    /// Set once another process or connection wrote to the change journal (<see cref="JournalConflictException"/>):
    /// the message every write is refused with from then on. The health check reports Unhealthy.
    /// </summary>
    public string? Fault => Volatile.Read(ref _fault);

    private string? _fault;

    public bool IsStopping => _stopping;

    public void Start(long initialSequence)
    {
        _sequence = initialSequence;
        _handle = _db.Writer.Handle ?? throw new InvalidOperationException("The write connection has no handle.");
        // IMMEDIATE: the batch takes the write lock once, up front (waiting up to busy_timeout when another
        // connection holds it), instead of every request of the batch waiting for it in turn.
        _begin = new Stmt(_handle, "BEGIN IMMEDIATE");
        _commit = new Stmt(_handle, "COMMIT");
        _rollback = new Stmt(_handle, "ROLLBACK");
        _savepoint = new Stmt(_handle, "SAVEPOINT req");
        _release = new Stmt(_handle, "RELEASE req");
        _rollbackTo = new Stmt(_handle, "ROLLBACK TO req");
        _history = new Versioning.HistoryWriter(_handle, _pendingEvents);
        _loop = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Queues a request. Fails fast once the writer is stopping.</summary>
    public ValueTask SubmitAsync(WriteRequest request, CancellationToken cancellationToken = default)
    {
        if (_stopping)
        {
            Fail(request, StoppingMessage);
            return ValueTask.CompletedTask;
        }

        if (Fault is { } fault)
        {
            Fail(request, fault);
            _metrics.WritesFailed(1);
            return ValueTask.CompletedTask;
        }

        if (_queue.Writer.TryWrite(request))
        {
            return ValueTask.CompletedTask;
        }

        return SlowAsync(request, cancellationToken);

        async ValueTask SlowAsync(WriteRequest r, CancellationToken ct)
        {
            try
            {
                await _queue.Writer.WriteAsync(r, ct).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                Fail(r, StoppingMessage);
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> on the writer between batches (checkpoints, DDL).</summary>
    public async Task RunMaintenanceAsync(Action<MkioDatabase> action, CancellationToken cancellationToken = default)
    {
        var item = new WriteRequest(action);
        if (!_queue.Writer.TryWrite(item))
        {
            await _queue.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        }

        await item.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Test hook: parks the writer between batches until the returned handle is disposed. Requests submitted meanwhile
    /// stay queued and, once released, run as one batch (up to <c>batch_max_size</c>) — the deterministic way to make
    /// writes share a batch, or to keep them queued across a shutdown, now that a batch no longer waits for more.
    /// </summary>
    public Task<IDisposable> HoldAsync(CancellationToken cancellationToken = default) => HoldQueueAsync(_queue.Writer, cancellationToken);

    /// <summary>
    /// Queues a hold item on <paramref name="queue"/> (either store's writer): once the writer runs it, it parks until
    /// the returned handle is disposed.
    /// </summary>
    internal static async Task<IDisposable> HoldQueueAsync(ChannelWriter<WriteRequest> queue, CancellationToken cancellationToken)
    {
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var item = new WriteRequest(_ =>
        {
            held.TrySetResult();
            release.Task.Wait(CancellationToken.None);
        });
        if (!queue.TryWrite(item))
        {
            await queue.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        }

        await held.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Hold(release);
    }

    private sealed class Hold(TaskCompletionSource release) : IDisposable
    {
        public void Dispose() => release.TrySetResult();
    }

    /// <summary>
    /// Stops accepting new requests (they fail with <see cref="StoppingMessage"/>), drains what is
    /// queued for at most <paramref name="timeout"/>, and answers anything left with the stopping error.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        if (_loop is null)
        {
            return;
        }

        var finished = await Task.WhenAny(_loop, Task.Delay(timeout, _time)).ConfigureAwait(false);
        if (finished != _loop)
        {
            Log.DrainTimedOut(_logger, timeout.TotalSeconds);
            _abandon = true;
            await _loop.ConfigureAwait(false);
        }
    }

    private volatile bool _abandon;

    /// <summary>True once the shutdown drain timed out: requests still queued are answered with the stopping error.</summary>
    internal bool Abandoned => _abandon;

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (true)
        {
            if (!reader.TryRead(out var first))
            {
                if (!await WaitAsync().ConfigureAwait(false))
                {
                    break;
                }

                continue;
            }

            if (_abandon)
            {
                Fail(first, StoppingMessage);
                continue;
            }

            if (first.Maintenance is not null)
            {
                first.RunMaintenance(_db);
                continue;
            }

            // Latency first: each request runs as soon as it is taken (inside the batch's transaction),
            // and the batch commits as soon as nothing else is waiting in the queue, when it is full, or
            // once batch_max_wait_ms have passed since its first request (which only a steady stream of
            // requests reaches). No timer and no waiting: under load, requests queue while the previous
            // batch executes and commits, so the next batch fills by itself.
            if (!BeginBatch(first))
            {
                continue;
            }

            ExecuteOne(first);
            var deadline = _time.GetTimestamp() + _maxWaitTicks;
            WriteRequest? deferred = null;
            while (_batch.Count < _maxBatch && _time.GetTimestamp() < deadline && reader.TryRead(out var next))
            {
                if (next.Maintenance is not null)
                {
                    deferred = next;
                    break;
                }

                if (_abandon)
                {
                    Fail(next, StoppingMessage);
                    continue;
                }

                ExecuteOne(next);
            }

            CommitBatch();
            if (deferred is not null)
            {
                deferred.RunMaintenance(_db);
            }
        }

        foreach (var s in _statements.Values)
        {
            s.Dispose();
        }

        _statements.Clear();
        _history.Dispose();
        foreach (var s in new[] { _begin, _commit, _rollback, _savepoint, _release, _rollbackTo })
        {
            s.Dispose();
        }
    }

    private async Task<bool> WaitAsync()
    {
        var wait = _pendingWait ??= _queue.Reader.WaitToReadAsync().AsTask();
        var result = await wait.ConfigureAwait(false);
        _pendingWait = null;
        return result;
    }

    /// <summary>Fails a request; a ref-less one gets the ref generated for the attempt (PROTOCOL.md §6.3).</summary>
    private void Fail(WriteRequest r, string message) =>
        r.TrySetResult(new WriteOutcome(false, r.Ref ?? _refs.Next(), message));

    private readonly List<WriteRequest> _batch = [];
    private readonly List<WriteOutcome> _outcomes = [];
    // The batch's events as they are recorded (reused); each commit hands listeners an exact-size copy, which they keep.
    private readonly List<ChangeEvent> _events = [];
    private long _batchSequence;
    private long _batchStarted;
    private Activity? _batchActivity;

    private bool BeginBatch(WriteRequest first)
    {
        if (Fault is { } fault)
        {
            _metrics.WritesFailed(FailQueued(first, fault));
            return false;
        }

        try
        {
            _begin.Run();
        }
        catch (MkioWriteException ex)
        {
            Volatile.Write(ref _lastBatchError, ex.Message);

            // Typically "database is locked": another connection held the write lock for all of busy_timeout.
            // Everything queued behind this request would wait as long again, one after the other, so it
            // fails now too (up to the next maintenance item): clients get a prompt error they can retry
            // instead of a queue whose wait grows by busy_timeout per request.
            var failed = FailQueued(first, ex.Message);
            _metrics.BeginFailed(failed);
            Log.BeginFailed(_logger, ex.Message, failed);
            return false;
        }

        _batchStarted = Stopwatch.GetTimestamp();
        _batchActivity = MkioTelemetry.StartBatch();
        _batch.Clear();
        _outcomes.Clear();
        _events.Clear();
        _batchSequence = _sequence;
        return true;
    }

    /// <summary>Fails <paramref name="first"/> and the requests queued behind it, up to the next maintenance item; returns how many.</summary>
    private int FailQueued(WriteRequest first, string message)
    {
        Fail(first, message);
        var failed = 1;
        var reader = _queue.Reader;
        for (var n = reader.Count; n > 0 && reader.TryPeek(out var next) && next.Maintenance is null && reader.TryRead(out next); n--)
        {
            Fail(next, message);
            failed++;
        }

        return failed;
    }

    private void ExecuteOne(WriteRequest req)
    {
        var @ref = string.IsNullOrEmpty(req.Ref) ? _refs.Next() : req.Ref;
        _pendingEvents.Clear();
        _batch.Add(req);
        if (req.Activity is { } transaction)
        {
            _batchActivity?.AddLink(new ActivityLink(transaction.Context));
        }

        try
        {
            _savepoint.Run();
            ExecuteRequest(req, @ref);
            _release.Run();
            foreach (var e in _pendingEvents)
            {
                _events.Add(new ChangeEvent(e.Table, e.Op, e.Row, @ref, ++_batchSequence, e.Cause, e.Old));
            }

            _outcomes.Add(new WriteOutcome(true, @ref, null));
        }
        catch (MkioWriteException ex)
        {
            TryRun(_rollbackTo);
            TryRun(_release);
            _outcomes.Add(new WriteOutcome(false, @ref, ex.Message));
        }
    }

    private void CommitBatch()
    {
        var events = new List<ChangeEvent>(_events);
        _events.Clear();
        try
        {
            BeforeCommit?.Invoke(_handle, events);
            _commit.Run();
        }
        catch (Exception ex)
        {
            TryRun(_rollback);
            var message = ex is MkioWriteException ? ex.Message : "commit failed";
            Volatile.Write(ref _lastBatchError, message);
            if (ex is JournalConflictException conflict)
            {
                // Another process wrote to the journal: its changes bypassed this server's caches and change
                // logs, and every further commit would collide with (or reorder) its sequences. The batch was
                // rolled back (nothing of it was acknowledged); no write is accepted until a restart.
                Volatile.Write(ref _fault, message);
                _metrics.JournalConflict();
                _metrics.WritesFailed(_batch.Count);
                Log.JournalConflict(_logger, _db.FilePath ?? _db.DisplayName, conflict.Found, conflict.Position, _batch.Count);
            }
            else
            {
                Log.CommitFailed(_logger, ex, _batch.Count);
            }
            MkioTelemetry.EndBatch(_batchActivity, _batch.Count, message);
            for (var i = 0; i < _batch.Count; i++)
            {
                _batch[i].TrySetResult(new WriteOutcome(false, _outcomes[i].Ref, message));
            }

            _batch.Clear();
            return;
        }

        _sequence = _batchSequence;
        if (_lastBatchError is not null)
        {
            Volatile.Write(ref _lastBatchError, null);
        }

        try
        {
            _bus.Publish(events);
        }
        catch (Exception ex)
        {
            Log.PublishFailed(_logger, ex);
        }

        var elapsed = Stopwatch.GetElapsedTime(_batchStarted);
        var ok = 0;
        for (var i = 0; i < _batch.Count; i++)
        {
            if (_outcomes[i].Ok)
            {
                ok++;
            }

            _batch[i].TrySetResult(_outcomes[i]);
        }

        _metrics.BatchCommitted(_batch.Count, ok, elapsed);
        MkioTelemetry.EndBatch(_batchActivity, _batch.Count, null);
        Log.BatchCommitted(_logger, _batch.Count, elapsed.TotalMilliseconds);
        _batch.Clear();
    }

    private static void TryRun(Stmt s)
    {
        try
        {
            s.Run();
        }
        catch (MkioWriteException)
        {
            // SERVICES.md §5.6: errors while rolling back a savepoint are ignored.
        }
    }

    private void ExecuteRequest(WriteRequest req, string @ref)
    {
        if (req.PreCheck is { } check && !check.Passes(_handle))
        {
            req.Refused = true;
            throw new MkioWriteException(Security.AccessControl.PermissionDenied);
        }

        var ops = req.OpSet.Ops;
        var recorded = new Row?[ops.Length];
        for (var j = 0; j < ops.Length; j++)
        {
            var op = ops[j];
            var values = req.Values[j];
            if (op.Table.Versioned)
            {
                recorded[j] = ExecuteVersioned(req, @ref, op, values, req.Omitted.Length > j ? req.Omitted[j] : 0UL, recorded);
                continue;
            }

            var mask = req.Omitted.Length > j ? req.Omitted[j] : 0UL;
            var stmt = GetStatement(op, mask);
            stmt.Reset();
            for (var p = 0; p < stmt.ParamIndexes.Length; p++)
            {
                stmt.Bind(p + 1, ParamValue(op, stmt.ParamIndexes[p], values, @ref, recorded, req));
            }

            Row? first = null;
            var lockWait = 0;
            while (true)
            {
                var rc = raw.sqlite3_step(stmt.Handle);
                if (rc == raw.SQLITE_ROW)
                {
                    var row = stmt.ReadRow();
                    first ??= row;
                    _pendingEvents.Add(new(op.Table, op.OpTypeName, row));
                    continue;
                }

                if (rc == raw.SQLITE_DONE)
                {
                    break;
                }

                if (first is null && SqliteErrors.IsSharedCacheLock(rc) && SqliteErrors.BackOff(ref lockWait))
                {
                    // :memory: databases use a shared cache, where a reader's open snapshot
                    // transaction locks tables; wait for it instead of failing the request.
                    stmt.Reset();
                    continue;
                }

                var message = SqliteErrors.LastMessage(_handle);
                stmt.Reset();
                throw new MkioWriteException(message);
            }

            stmt.Reset();
            recorded[j] = op.Type == OpType.Delete ? null : first;
        }
    }

    /// <summary>
    /// One op on a versioned table (LATER.md §7.3–7.4): the op's statement, then its history in the same savepoint;
    /// <c>undo</c>/<c>redo</c> run on the history alone. Returns the row binds of later ops see.
    /// </summary>
    private Row? ExecuteVersioned(WriteRequest req, string @ref, OpModel op, object?[] values, ulong mask, Row?[] recorded)
    {
        var context = new Versioning.HistoryContext(@ref, req.User, req.Service);
        object? Value(int pi) => ParamValue(op, pi, values, @ref, recorded, req);

        if (op.Type is OpType.Undo or OpType.Redo)
        {
            var key = new object?[op.Key.Length];
            for (var k = 0; k < key.Length; k++)
            {
                key[k] = Value(k);
            }

            var change = op.Type == OpType.Undo ? _history.Undo(op.Table, key, context) : _history.Redo(op.Table, key, context);
            _pendingEvents.Add(change);
            return change.Op == "delete" ? null : change.Row;
        }

        var stmt = GetStatement(op, mask);
        stmt.Reset();
        var args = new object?[stmt.ParamIndexes.Length];
        for (var p = 0; p < args.Length; p++)
        {
            args[p] = Value(stmt.ParamIndexes[p]);
        }

        // An upsert's key parameters come first: whether the key exists decides insert or update history.
        var inserts = op.Type == OpType.Insert || (op.Type == OpType.Upsert && !_history.Exists(op, args[..op.Key.Length]));
        for (var p = 0; p < args.Length; p++)
        {
            stmt.Bind(p + 1, args[p]);
        }

        var rows = stmt.ReadAll();
        Row? first = null;
        foreach (var row in rows)
        {
            var at = _pendingEvents.Count;
            _pendingEvents.Add(new(op.Table, op.OpTypeName, row));
            var current = row;
            if (op.Type == OpType.Delete)
            {
                _history.Deleted(op.Table, row);
            }
            else if (inserts)
            {
                _history.Inserted(op.Table, row, context);
            }
            else
            {
                current = _history.Updated(op.Table, row, context);
                _pendingEvents[at] = new(op.Table, op.OpTypeName, current);
            }

            first ??= current;
        }

        return op.Type == OpType.Delete ? null : first;
    }

    /// <summary>The value of op parameter <paramref name="pi"/>: the request's ref, a bind to an earlier op's row, or the data value.</summary>
    internal static object? ParamValue(OpModel op, int pi, object?[] values, string @ref, Row?[] recorded, WriteRequest req)
    {
        var param = op.Params[pi];
        return param.Source switch
        {
            ParamSource.Ref => @ref,
            ParamSource.Bind => ResolveBind(param.Bind, recorded, req.OpSet.Ops, req),
            _ => values[pi],
        };
    }

    /// <summary>
    /// <c>$N.col</c>: column <c>col</c> of op N's first returned row, or — when op N returned no row,
    /// or is a delete — of the request data; a missing column fails with <c>Missing field</c>.
    /// </summary>
    internal static object? ResolveBind(BindRef bind, Row?[] recorded, OpModel[] ops, WriteRequest req)
    {
        if (bind.SourceOp < 0 || bind.SourceOp >= ops.Length)
        {
            throw new MkioWriteException("list index out of range");
        }

        if (recorded[bind.SourceOp] is { } row)
        {
            return row.TryGetValue(bind.SourceColumn, out var v)
                ? v
                : throw new MkioWriteException($"Missing field: '{bind.SourceColumn}'");
        }

        if (req.Data.ValueKind == System.Text.Json.JsonValueKind.Object && req.Data.TryGetProperty(bind.SourceColumn, out var el))
        {
            return RequestValues.FromJson(el);
        }

        throw new MkioWriteException($"Missing field: '{bind.SourceColumn}'");
    }

    private PreparedOp GetStatement(OpModel op, ulong mask)
    {
        if (!_statements.TryGetValue((op, mask), out var s))
        {
            var (sql, indexes) = SqlText.For(op, mask);
            s = new PreparedOp(_handle, sql, indexes);
            _statements[(op, mask)] = s;
        }

        return s;
    }

    public async ValueTask DisposeAsync()
    {
        if (_loop is not null && !_loop.IsCompleted)
        {
            await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
    }

    /// <summary>A prepared statement on the write connection.</summary>
    internal class Stmt : IDisposable
    {
        public Stmt(sqlite3 db, string sql)
        {
            Db = db;
            Sql = sql;
            var rc = raw.sqlite3_prepare_v2(db, sql, out var handle);
            if (rc != raw.SQLITE_OK)
            {
                throw new MkioWriteException(SqliteErrors.LastMessage(db));
            }

            Handle = handle;
        }

        public sqlite3 Db { get; }

        public string Sql { get; }

        public sqlite3_stmt Handle { get; }

        public void Run()
        {
            var lockWait = 0;
            while (true)
            {
                var rc = raw.sqlite3_step(Handle);
                raw.sqlite3_reset(Handle);
                if (rc is raw.SQLITE_DONE or raw.SQLITE_ROW)
                {
                    return;
                }

                if (SqliteErrors.IsSharedCacheLock(rc) && SqliteErrors.BackOff(ref lockWait))
                {
                    continue;
                }

                throw new MkioWriteException(SqliteErrors.LastMessage(Db));
            }
        }


        public void Reset() => raw.sqlite3_reset(Handle);

        public void Dispose() => Handle.Dispose();
    }

    internal sealed class PreparedOp(sqlite3 db, string sql, int[] paramIndexes) : Stmt(db, sql)
    {
        private RowSchema? _schema;

        // Each returned column's last text, and the text values last bound by position: a returned text equal to one of
        // them (the common case of a row read back after INSERT/UPDATE … RETURNING) reuses its string.
        private string?[] _lastText = [];
        private readonly string?[] _boundText = new string?[paramIndexes.Length];

        /// <summary>For statement parameter k (0-based), the index into <see cref="OpModel.Params"/>.</summary>
        public int[] ParamIndexes { get; } = paramIndexes;

        public void Bind(int position, object? value)
        {
            if ((uint)(position - 1) < (uint)_boundText.Length)
            {
                _boundText[position - 1] = value as string;
            }

            switch (value)
            {
                case TooLargeInteger:
                    throw new MkioWriteException("Python int too large to convert to SQLite INTEGER");
                case UnbindableValue u:
                    throw new MkioWriteException($"Error binding parameter {position}: type '{u.PythonType}' is not supported");
            }

            if (SqliteBind.Value(Handle, position, value) != raw.SQLITE_OK)
            {
                throw new MkioWriteException(SqliteErrors.LastMessage(Db));
            }
        }

        /// <summary>Steps the bound statement to the end and returns its rows (waiting out shared-cache locks of <c>:memory:</c>).</summary>
        public List<Row> ReadAll()
        {
            var rows = new List<Row>(1);
            var lockWait = 0;
            while (true)
            {
                var rc = raw.sqlite3_step(Handle);
                if (rc == raw.SQLITE_ROW)
                {
                    rows.Add(ReadRow());
                    continue;
                }

                if (rc == raw.SQLITE_DONE)
                {
                    break;
                }

                if (rows.Count == 0 && SqliteErrors.IsSharedCacheLock(rc) && SqliteErrors.BackOff(ref lockWait))
                {
                    Reset();
                    continue;
                }

                var message = SqliteErrors.LastMessage(Db);
                Reset();
                throw new MkioWriteException(message);
            }

            Reset();
            return rows;
        }

        public Row ReadRow()
        {
            var n = raw.sqlite3_column_count(Handle);
            if (_schema is null || _schema.Count != n)
            {
                var names = new string[n];
                for (var i = 0; i < n; i++)
                {
                    names[i] = raw.sqlite3_column_name(Handle, i).utf8_to_string();
                }

                _schema = new RowSchema(names);
                _lastText = new string?[n];
            }

            var values = new object?[n];
            for (var i = 0; i < n; i++)
            {
                values[i] = MkioDatabase.Value(Handle, i, ref _lastText[i], _boundText);
            }

            return new Row(_schema, values);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Debug, Message = "Committed {BatchSize} writes in {ElapsedMs} ms.")]
        public static partial void BatchCommitted(ILogger logger, int batchSize, double elapsedMs);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Error, Message = "COMMIT of a batch of {BatchSize} writes failed; every request of the batch was answered with the error.")]
        public static partial void CommitFailed(ILogger logger, Exception exception, int batchSize);

        [LoggerMessage(EventId = 2103, Level = LogLevel.Error, Message = "A change listener failed while receiving committed events.")]
        public static partial void PublishFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 2105, Level = LogLevel.Error, Message = "Could not begin a write batch ({Error}); {Count} queued writes were answered with the error.")]
        public static partial void BeginFailed(ILogger logger, string error, int count);

        [LoggerMessage(EventId = 2106, Level = LogLevel.Critical, Message = "Another process or connection wrote to the change journal of {Database}: it holds sequence {Sequence} while this server's last commit is {Position}. Writes are stopped (the batch of {BatchSize} writes was rolled back and answered with the error; later writes are refused) so that no acknowledged change is lost and no sequence is used twice. Make sure only one server uses the database file, then restart.")]
        public static partial void JournalConflict(ILogger logger, string database, long sequence, long position, int batchSize);

        [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "Draining the write queue took longer than {TimeoutSeconds} s; remaining requests are answered with the stopping error.")]
        public static partial void DrainTimedOut(ILogger logger, double timeoutSeconds);
    }
}

/// <summary>The SQL text of each op (SERVICES.md §5.1), byte-identical to the reference, with fix F3 (<c>DELETE … RETURNING *</c>).</summary>
internal static class SqlText
{
    /// <summary>SQL for <paramref name="op"/> leaving out the parameters set in <paramref name="omitted"/> (F14), and the parameter order.</summary>
    public static (string Sql, int[] ParamIndexes) For(OpModel op, ulong omitted)
    {
        var included = new List<int>();
        for (var i = 0; i < op.Params.Length; i++)
        {
            if (i >= 64 || (omitted & (1UL << i)) == 0)
            {
                included.Add(i);
            }
        }

        string Name(int i) => MkioSchema.Id(op.Params[i].Name);
        var t = MkioSchema.Id(op.Table.Name);
        var sb = new StringBuilder();
        switch (op.Type)
        {
            case OpType.Insert:
                sb.Append("INSERT INTO ").Append(t).Append(" (").AppendJoin(", ", included.Select(Name))
                  .Append(") VALUES (").AppendJoin(", ", included.Select(_ => "?")).Append(") RETURNING *");
                break;
            case OpType.Update:
            {
                var set = included.Where(i => !op.Params[i].IsKey).ToList();
                var keys = included.Where(i => op.Params[i].IsKey).ToList();
                sb.Append("UPDATE ").Append(t).Append(" SET ").AppendJoin(", ", set.Select(i => Name(i) + " = ?"))
                  .Append(" WHERE ").AppendJoin(" AND ", keys.Select(i => Name(i) + " = ?")).Append(" RETURNING *");
                break;
            }

            case OpType.Delete:
                sb.Append("DELETE FROM ").Append(t).Append(" WHERE ").AppendJoin(" AND ", included.Select(i => Name(i) + " = ?")).Append(" RETURNING *");
                break;
            default:
            {
                var updates = included.Where(i => !op.Params[i].IsKey).Select(Name).ToList();
                sb.Append("INSERT INTO ").Append(t).Append(" (").AppendJoin(", ", included.Select(Name))
                  .Append(") VALUES (").AppendJoin(", ", included.Select(_ => "?"))
                  .Append(") ON CONFLICT(").AppendJoin(", ", op.Key.Select(MkioSchema.Id)).Append(") DO UPDATE SET ")
                  .AppendJoin(", ", updates.Select(u => $"{u} = excluded.{u}")).Append(" RETURNING *");
                break;
            }
        }

        return (sb.ToString(), [.. included]);
    }
}
