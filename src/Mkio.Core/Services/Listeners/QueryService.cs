using Microsoft.Data.Sqlite;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Storage;

namespace Mkio.Services.Listeners;

/// <summary>
/// Query (SERVICES.md §10): snapshots read from SQLite on subscribe, a change log for delta resume,
/// and the live change feed. The snapshot is read outside the service lock in one read transaction
/// together with the journal's commit sequence, so the subscriber is registered exactly at the
/// snapshot's position: no change lost or duplicated (F9).
/// </summary>
internal sealed partial class QueryService(MkioEngine engine, ListenerServiceModel model) : ListenerService(engine, model)
{
    private readonly ChangeLog _log = new(model.ChangeLogSize);

    protected override ChangeLog ResumeLog => _log;
    private readonly Lock _readGate = new();
    private SnapshotRead? _reading;
    private int _lastRowCount = -1;
    private int _waiting;

    /// <summary>Subscribers currently waiting for a snapshot read another subscriber started (diagnostics, tests).</summary>
    internal int SnapshotWaiters => Volatile.Read(ref _waiting);

    /// <summary>Test seam: runs inside the snapshot's read transaction once its commit position is fixed.</summary>
    internal Action? SnapshotPositionRead { get; set; }

    protected override void Load()
    {
        LoadedSequence = Engine.Position;

        // As live (Apply): with a JOIN, changes of the secondary tables are not logged.
        SeedLog(_log, null, Model.SqlHasJoin ? [Model.PrimaryTable.Name] : null);

        // Rows seeded from the journal get their JSON now, as live rows get it when the journal stores them: a resume
        // after a restart then splices bytes instead of encoding every missed row while its client waits. (With a
        // publish formatter each delta formats new rows, which carry no kept bytes.)
        if (Model.Publish is null)
        {
            for (var i = 0; i < _log.Count; i++)
            {
                SubscriptionFrames.RowJson(_log[i].Row);
            }
        }
    }

    protected override string? Apply(ChangeEvent change)
    {
        if (change.Table.Name != Model.PrimaryTable.Name && Model.SqlHasJoin)
        {
            return null;
        }

        _log.Append(new LogEntry(change.Sequence, change.Ref, change.Op, change.Row, change.Cause));
        return change.Op;
    }

    protected override async ValueTask SubscribeCoreAsync(Subscriber subscriber, string? clientRef, CancellationToken cancellationToken)
    {
        if (subscriber.Later is { } later)
        {
            LaterSubscribe(subscriber, later);
            return;
        }

        if (clientRef is not null)
        {
            lock (Gate)
            {
                if (_log.ResumeFrom(clientRef) is { } entries)
                {
                    SendReply(subscriber, SubscriptionFrames.DeltaFrame(Name, _log.LastRef, OutgoingChanges(subscriber, entries)));
                    RegisterLocked(subscriber);
                    return;
                }
            }
        }

        // Everything committed before this subscribe arrived must be in its snapshot (PROTOCOL.md §10).
        var read = await SharedReadAsync(Engine.Position, cancellationToken).ConfigureAwait(false);
        var sequence = read.Sequence;

        // Serialise a (possibly large) snapshot before taking the lock, so live fan-out and other
        // subscribers do not wait behind it: the read's rows are serialised once, each filter's frame
        // is assembled from those bytes, and subscribers with the same filter share one frame. When
        // the ref must come from the log, only the frame's assembly (a copy) happens inside the lock.
        var admit = AdmitFor(subscriber, read.RowAt);
        var serialized = read.Serialized;
        // (The cast matters: a bare null would convert to an empty ReadOnlyMemory through byte[].)
        var frame = read.Ref is not null
            ? await read.FrameAsync(subscriber.Filter?.Text ?? "", () => serialized.SnapshotFrame(Name, read.Ref, admit)).ConfigureAwait(false)
            : (ReadOnlyMemory<byte>?)null;
        lock (Gate)
        {
            if (!_log.CoversAfter(sequence))
            {
                // Too many changes since the read to replay exactly: read again under the lock.
                var (rows, direct, again, snapshotRef) = ReadFormatted();
                sequence = again;
                var serializedAgain = direct ?? new SerializedRows(rows!);
                frame = serializedAgain.SnapshotFrame(Name, snapshotRef ?? _log.RefAtOrBefore(sequence), AdmitFor(subscriber, i => rows?[i] ?? serializedAgain.RowAt(i)));
            }

            // The snapshot may hold changes the loop has not logged yet: its ref comes from the
            // journal position it was read at, so a resume from it neither repeats nor skips (F9, F18).
            SendReply(subscriber, frame ?? serialized.SnapshotFrame(Name, _log.RefAtOrBefore(sequence), admit));

            // Changes committed after the snapshot that the loop already fanned out: replay them.
            for (var i = 0; i < _log.Count; i++)
            {
                var e = _log[i];
                if (e.Sequence > sequence && e.Sequence > 0 && Format(e.Row) is { } o && Admits(subscriber, o))
                {
                    subscriber.Session.TrySend(SubscriptionFrames.UpdateFrame(Name, e.Ref, e.Op, o), Name);
                }
            }

            subscriber.SkipThrough = sequence;
            RegisterLocked(subscriber);
        }
    }

    /// <summary>
    /// A snapshot read at or after <paramref name="required"/>: concurrent subscribers share one read
    /// (single flight). A subscriber joins the read in flight and takes it when its commit position
    /// covers everything committed before the subscriber arrived; otherwise it reads again.
    /// </summary>
    private async ValueTask<SnapshotRead> SharedReadAsync(long required, CancellationToken cancellationToken)
    {
        while (true)
        {
            SnapshotRead read;
            var lead = false;
            lock (_readGate)
            {
                if (_reading is null)
                {
                    _reading = new SnapshotRead();
                    lead = true;
                }

                read = _reading;
            }

            if (lead)
            {
                try
                {
                    var (rows, direct, sequence, @ref) = ReadFormatted();
                    read.Complete(rows, direct, sequence, @ref);
                }
                catch (Exception ex)
                {
                    read.Fail(ex);
                }
                finally
                {
                    lock (_readGate)
                    {
                        _reading = null;
                    }
                }
            }

            if (!lead)
            {
                Interlocked.Increment(ref _waiting);
                try
                {
                    await read.Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    Interlocked.Decrement(ref _waiting);
                }
            }

            await read.Completion.ConfigureAwait(false);
            if (read.Sequence >= required)
            {
                Engine.Metrics.SnapshotRead(Name, shared: !lead);
                return read;
            }
        }
    }

    /// <summary>The subscriber's filter over the snapshot's rows by index, or null (every row) when it has none.</summary>
    private Func<int, bool>? AdmitFor(Subscriber subscriber, Func<int, Row> rowAt) =>
        subscriber.Filter is null ? null : i => Admits(subscriber, rowAt(i));

    /// <summary>
    /// Reads the snapshot: without a <c>publish</c> formatter straight into its wire bytes (<see cref="DirectSnapshot"/>,
    /// no rows), else as rows with <c>publish</c> applied once (rows that fail to format are dropped, F1).
    /// </summary>
    private (List<Row>? Rows, SerializedRows? Direct, long Sequence, string? Ref) ReadFormatted()
    {
        var (rows, direct, sequence, @ref) = Engine.PostgresReads is null
            ? Engine.Database.Read(c => ReadSnapshot(c, allowDirect: true))
            : WithRows(RowSnapshot());
        if (rows is not null && Model.Publish is not null)
        {
            var formatted = new List<Row>(rows.Count);
            foreach (var r in rows)
            {
                if (Format(r) is { } o)
                {
                    formatted.Add(o);
                }
            }

            rows = formatted;
        }

        return (rows, direct, sequence, @ref);
    }

    protected override Func<byte[]> CaptureReplyLocked(Subscriber subscriber, string? clientRef) =>
        throw new NotSupportedException("Query subscriptions read their snapshot in SubscribeCoreAsync.");

    /// <summary>A snapshot read as rows (later subscriptions tag and shape every row), from either store.</summary>
    private (List<Row> Rows, long Sequence, string? Ref) RowSnapshot() => Engine.PostgresReads is { } pg
        ? pg.Snapshot(Model.Sql, Model.SqlHasJoin ? [Model.PrimaryTable.Name] : Model.WatchTables, SnapshotPositionRead)
        : Engine.Database.Read(c =>
        {
            var (rows, _, sequence, @ref) = ReadSnapshot(c, allowDirect: false);
            return (rows!, sequence, @ref);
        });

    private static (List<Row>? Rows, SerializedRows? Direct, long Sequence, string? Ref) WithRows((List<Row> Rows, long Sequence, string? Ref) s) =>
        (s.Rows, null, s.Sequence, s.Ref);

    private (List<Row>? Rows, SerializedRows? Direct, long Sequence, string? Ref) ReadSnapshot(SqliteConnection connection, bool allowDirect)
    {
        using var tx = connection.BeginTransaction(deferred: true);
        var direct = allowDirect && Model.Publish is null ? DirectSnapshot.TryRead(connection, Model.Sql, Volatile.Read(ref _lastRowCount)) : null;
        var rows = direct is null ? MkioDatabase.QueryAll(connection, Model.Sql) : null;
        Volatile.Write(ref _lastRowCount, direct?.Count ?? rows!.Count);
        var sequence = ChangeJournal.MaxSequence(connection, tx);
        SnapshotPositionRead?.Invoke();
        var @ref = ChangeJournal.RefAtOrBefore(connection, tx, Model.SqlHasJoin ? [Model.PrimaryTable.Name] : Model.WatchTables, sequence);
        tx.Commit();
        return (rows, direct, Math.Max(sequence, 0), @ref);
    }

    /// <summary>One snapshot read shared by the subscribers that joined it, and its frames per filter text.</summary>
    private sealed class SnapshotRead
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Dictionary<string, Task<ReadOnlyMemory<byte>>> _frames = new(StringComparer.Ordinal);
        private Lazy<SerializedRows>? _serialized;
        private Lazy<List<Row>>? _rebuilt;

        public Task Completion => _done.Task;

        /// <summary>The rows read (null when the read was encoded straight into <see cref="Serialized"/>).</summary>
        public List<Row>? Rows { get; private set; }

        public long Sequence { get; private set; }

        public string? Ref { get; private set; }

        /// <summary>The rows serialised once, on first use (frames for every filter are cut from it).</summary>
        public SerializedRows Serialized => _serialized!.Value;

        /// <summary>
        /// Row <paramref name="index"/> of the snapshot. After a direct read the rows are rebuilt from the bytes once, by
        /// the first filtered subscriber, and shared by every other filter.
        /// </summary>
        public Row RowAt(int index) => (Rows ?? _rebuilt!.Value)[index];

        public void Complete(List<Row>? rows, SerializedRows? direct, long sequence, string? @ref)
        {
            (Rows, Sequence, Ref) = (rows, sequence, @ref);
            _rebuilt = direct is null ? null : new Lazy<List<Row>>(() => [.. Enumerable.Range(0, direct.Count).Select(direct.RowAt)], LazyThreadSafetyMode.ExecutionAndPublication);
            _serialized = direct is not null
                ? new Lazy<SerializedRows>(direct)
                : new Lazy<SerializedRows>(() => new SerializedRows(rows!), LazyThreadSafetyMode.ExecutionAndPublication);
            _done.SetResult();
        }

        public void Fail(Exception exception) => _done.SetException(exception);

        /// <summary>The frame for one filter text, built by the first subscriber that needs it.</summary>
        public Task<ReadOnlyMemory<byte>> FrameAsync(string filter, Func<ReadOnlyMemory<byte>> build)
        {
            TaskCompletionSource<ReadOnlyMemory<byte>>? mine = null;
            Task<ReadOnlyMemory<byte>>? frame;
            lock (_frames)
            {
                if (!_frames.TryGetValue(filter, out frame))
                {
                    mine = new TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously);
                    frame = mine.Task;
                    _frames.Add(filter, frame);
                }
            }

            if (mine is not null)
            {
                try
                {
                    mine.SetResult(build());
                }
                catch (Exception ex)
                {
                    mine.SetException(ex);
                }
            }

            return frame;
        }
    }
}
