using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Expressions;
using Mkio.Later;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Services.Listeners;
using Mkio.Sessions;

namespace Mkio.Services;

/// <summary>
/// Common machinery of subpub, stream and query services (SERVICES.md §7): a listener loop fed by
/// the change bus through an unbounded queue (never blocks the writer, never drops: F10), subscribers
/// in registration order, fan-out that formats each change once, serialises it once and only
/// enqueues bytes, atomic snapshot + registration (F9), replace-on-resubscribe (F4), nack for bad
/// filters (F2), per-row containment of expression errors (F1), and the F15 error for requests.
/// </summary>
internal abstract partial class ListenerService : MkioService, IChangeListener
{
    private readonly Channel<(IReadOnlyList<ChangeEvent> Events, ActivityContext Batch)> _inbox = Channel.CreateUnbounded<(IReadOnlyList<ChangeEvent>, ActivityContext)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<Subscriber> _subscribers = [];
    /// <summary>Subscribers holding frames staged while the loop handles one inbox entry (under <see cref="Gate"/>), in staging order.</summary>
    private readonly List<Subscriber> _staged = [];
    /// <summary>While staging: the entry's number of changes, the most frames one subscriber can get from it.</summary>
    private int _stageExpected;
    private readonly HashSet<string> _watch;
    private IDisposable? _busSubscription;
    private Task? _loop;
    private readonly ExpressionErrorLog _whereErrors = new("where");
    private readonly ExpressionErrorLog _publishErrors = new("publish");
    private readonly CostLimits _filterLimits;
    private string[]? _filterColumns;
    private long _delivered;
    private long _handled;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected ListenerService(MkioEngine engine, ListenerServiceModel model)
        : base(model)
    {
        Engine = engine;
        Model = model;
        _watch = new HashSet<string>(model.WatchTables, StringComparer.Ordinal);
        Logger = engine.Logger;
        _filterLimits = engine.Model.Options.FilterLimits.ToCostLimits();
    }

    public new ListenerServiceModel Model { get; }

    protected MkioEngine Engine { get; }

    protected ILogger Logger { get; }

    /// <summary>Guards the service state (cache, log, buffer) and the subscriber list.</summary>
    protected Lock Gate { get; } = new();

    /// <summary>Events with a sequence at or below this were part of the loaded state.</summary>
    protected long LoadedSequence { get; set; }

    /// <summary>The service's resume window (change log or stream buffer), reported by <see cref="ChangeLogDepth"/>.</summary>
    protected abstract ChangeLog ResumeLog { get; }

    public override (int Depth, int Capacity)? ChangeLogDepth
    {
        get
        {
            lock (Gate)
            {
                return (ResumeLog.Count, ResumeLog.Capacity);
            }
        }
    }

    public int SubscriberCount
    {
        get
        {
            lock (Gate)
            {
                return _subscribers.Count;
            }
        }
    }

    IReadOnlyCollection<string>? IChangeListener.Tables => _watch;

    void IChangeListener.OnCommitted(IReadOnlyList<ChangeEvent> events)
    {
        Interlocked.Increment(ref _delivered);
        if (!_inbox.Writer.TryWrite((events, Activity.Current?.Context ?? default)))
        {
            Interlocked.Increment(ref _handled);
        }
    }

    /// <summary>
    /// Waits until every batch handed to this service so far has been applied, so a subscribe sent
    /// after a transaction's result sees that transaction in its snapshot (PROTOCOL.md §10).
    /// </summary>
    protected async ValueTask CatchUpAsync(CancellationToken cancellationToken)
    {
        var target = Interlocked.Read(ref _delivered);
        while (Interlocked.Read(ref _handled) < target)
        {
            var progress = Volatile.Read(ref _progress);
            if (Interlocked.Read(ref _handled) >= target)
            {
                break;
            }

            await progress.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _busSubscription = Engine.Bus.Subscribe(this);
        lock (Gate)
        {
            Load();
        }

        _loop = Task.Run(LoopAsync, CancellationToken.None);
        await Task.CompletedTask.ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _busSubscription?.Dispose();
        _inbox.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
    }

    /// <summary>Loads the initial state (cache, buffer, change log). Called under <see cref="Gate"/>.</summary>
    protected abstract void Load();

    /// <summary>Applies one change under <see cref="Gate"/>; returns the op to publish, or null to drop it.</summary>
    protected abstract string? Apply(ChangeEvent change);

    /// <summary>
    /// Captures under <see cref="Gate"/> what the reply to a subscribe (snapshot or delta) needs — copies, as the
    /// state changes once the lock is released — and returns the function that builds the frame outside the lock.
    /// </summary>
    protected abstract Func<byte[]> CaptureReplyLocked(Subscriber subscriber, string? clientRef);

    private async Task LoopAsync()
    {
        var reader = _inbox.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var item))
            {
                var events = item.Events;
                using var activity = _subscribers.Count > 0 ? MkioTelemetry.StartFanOut(item.Batch, Name, Kind, events.Count) : null;

                // One hold of the gate for the whole entry (a committed batch): each subscriber's frames of it are
                // staged, then enqueued at once — one queue entry and one wake-up of its connection per batch, not
                // one per change. A subscribe waits for the entry as a whole, so it sees all of it or none of it.
                lock (Gate)
                {
                    _stageExpected = events.Count;
                    try
                    {
                        foreach (var e in events)
                        {
                            if (e.Sequence <= LoadedSequence)
                            {
                                continue;
                            }

                            try
                            {
                                var op = Apply(e);
                                if (op is not null)
                                {
                                    FanOut(e.Sequence, e.Ref, op, e.Row, e.Cause);
                                }
                            }
                            catch (Exception ex)
                            {
                                // F1/F6: one bad event never stops the loop.
                                Log.ChangeFailed(Logger, ex, Name, e.Ref);
                            }
                        }
                    }
                    finally
                    {
                        SendStagedLocked();
                    }
                }

                Interlocked.Increment(ref _handled);
                Interlocked.Exchange(ref _progress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
        }
    }

    /// <summary>
    /// Stages one change for every subscriber whose filter admits it (held while its reply is built, buffered while
    /// paging); later subscribers are also told the undo/redo <paramref name="cause"/> (0.1.0 frames never carry it).
    /// Called by the loop under <see cref="Gate"/> while it handles a committed batch; it enqueues what was staged
    /// at the batch's end (<see cref="SendStagedLocked"/>).
    /// </summary>
    protected void FanOut(long sequence, string @ref, string op, Row row, string? cause = null)
    {
        if (_subscribers.Count == 0)
        {
            return;
        }

        var outgoing = Format(row);
        if (outgoing is null)
        {
            return;
        }

        byte[]? frame = null;
        var notified = false;
        foreach (var s in _subscribers)
        {
            if (sequence <= s.SkipThrough || s.Later?.Topic is not null)
            {
                // Topic entries (subpub) are told by the service itself, from its topic view.
                continue;
            }

            byte[] mine;
            if (s.Later is { } later)
            {
                if (LaterUpdate(s, later, @ref, op, row, outgoing, cause) is not { } laterFrame)
                {
                    continue;
                }

                if (later.Paging is { } paging)
                {
                    paging.Buffer(laterFrame);
                    continue;
                }

                mine = laterFrame;
            }
            else if (!Admits(s, outgoing))
            {
                continue;
            }
            else
            {
                mine = frame ??= SubscriptionFrames.UpdateFrame(Name, @ref, op, outgoing);
            }

            var first = !notified;
            notified = true;
            if (s.Pending is { } held)
            {
                // Its subscribe reply is being built: the change follows the reply (F9). Held frames count
                // against the connection's byte bound like queued ones (F10): past it, the connection is
                // closed with 1013 at once (it resubscribes after reconnecting) and nothing more is held.
                if (!s.PendingOverflowed)
                {
                    s.PendingBytes += mine.Length;
                    if (s.PendingBytes > s.Session.MaxQueuedBytes)
                    {
                        s.PendingOverflowed = true;
                        held.Clear();
                        s.Session.CloseSlowConsumer(s.PendingBytes);
                    }
                    else
                    {
                        held.Add(mine);
                    }
                }
            }
            else
            {
                // Without a filter a subscriber gets every change of the batch: room for all at once. A filtered one may
                // get a few: a small array that grows (an array sized to the batch for each of many selective
                // subscribers would be cleared whole on return, and allocated once the pool runs dry).
                if (s.Stage(mine, s.Filter is null ? _stageExpected : Subscriber.FilteredStageStart))
                {
                    _staged.Add(s);
                }
            }

            if (first)
            {
                NotifyOut(mine);
            }
        }
    }

    /// <summary>Enqueues every subscriber's staged frames as one batch; removes the subscribers whose connection refused them. Under <see cref="Gate"/>.</summary>
    private void SendStagedLocked()
    {
        if (_staged.Count == 0)
        {
            return;
        }

        List<Subscriber>? dead = null;
        foreach (var s in _staged)
        {
            try
            {
                if (!s.Session.TrySend(s.TakeStaged(), Name))
                {
                    (dead ??= []).Add(s);
                }
            }
            catch (Exception ex)
            {
                // F6: one connection's failure never stops the loop or the other subscribers' updates. It missed
                // the batch, so it must not stay live: closed like a slow consumer, its client resumes by ref.
                Log.SendFailed(Logger, ex, Name, s.Session.Id);
                (dead ??= []).Add(s);
                try
                {
                    s.Session.CloseSlowConsumer(s.Session.MaxQueuedBytes);
                }
                catch (Exception closeFailure)
                {
                    Log.SendFailed(Logger, closeFailure, Name, s.Session.Id);
                }
            }
        }

        _staged.Clear();
        if (dead is not null)
        {
            foreach (var d in dead)
            {
                RemoveLocked(d.Session);
            }
        }
    }

    /// <summary>The outgoing row (publish formatter applied), or null when formatting fails (F1).</summary>
    protected Row? Format(Row row)
    {
        if (Model.Publish is null)
        {
            return row;
        }

        try
        {
            return Model.Publish.Format(row);
        }
        catch (Exception ex)
        {
            _publishErrors.Failed(this, ex);
            return null;
        }
    }

    /// <summary>
    /// Whether the subscriber's filter admits the outgoing row (F1: an error means no). A failing filter is
    /// logged once per subscription, without a stack trace (it is the client's error, not the server's),
    /// and every row it fails on is counted in <c>mkio.filter.errors</c>.
    /// </summary>
    protected bool Admits(Subscriber s, Row outgoing)
    {
        if (s.Filter is null)
        {
            return true;
        }

        try
        {
            return s.Filter.IsTruthy(outgoing);
        }
        catch (Exception ex)
        {
            Engine.Metrics.FilterFailed(Name);
            if (s.FirstFilterError())
            {
                var text = s.Filter.Text;
                Log.FilterFailed(Logger, Name, ex.Message, text.Length <= 200 ? text : string.Concat(text.AsSpan(0, 200), "…"));
            }

            return false;
        }
    }

    /// <summary>Formats and filters raw rows for one subscriber.</summary>
    protected List<Row> Outgoing(Subscriber s, IEnumerable<Row> rows)
    {
        var result = new List<Row>();
        foreach (var r in rows)
        {
            if (Format(r) is { } o && Admits(s, o))
            {
                result.Add(o);
            }
        }

        return result;
    }

    /// <summary>Formats and filters log entries for one subscriber (delta changes).</summary>
    protected List<(string Op, Row Row)> OutgoingChanges(Subscriber s, IEnumerable<LogEntry> entries)
    {
        var result = new List<(string, Row)>();
        foreach (var e in entries)
        {
            if (Format(e.Row) is { } o && Admits(s, o))
            {
                result.Add((e.Op, o));
            }
        }

        return result;
    }

    /// <summary>Registers a subscriber (replacing any earlier one of the same session, F4). Under <see cref="Gate"/>.</summary>
    protected void RegisterLocked(Subscriber s)
    {
        RemoveReplacedLocked(s);
        _subscribers.Add(s);
        Engine.Metrics.SubscriptionAdded(Name);
    }

    /// <summary>Sends a subscribe reply and forwards it to monitors.</summary>
    protected void SendReply(Subscriber s, ReadOnlyMemory<byte> frame)
    {
        s.Session.TrySend(frame, Name);
        NotifyOut(frame);
    }

    /// <summary>Removes the entries <paramref name="s"/> replaces (F4; with subids, only those of its group). Under <see cref="Gate"/>.</summary>
    protected void RemoveReplacedLocked(Subscriber s)
    {
        for (var i = _subscribers.Count - 1; i >= 0; i--)
        {
            if (ReferenceEquals(_subscribers[i].Session, s.Session) && LaterSubscription.Replaces(_subscribers[i].Later, s.Later))
            {
                _subscribers.RemoveAt(i);
                Engine.Metrics.SubscriptionRemoved(Name);
            }
        }
    }

    /// <summary>Removes every entry of <paramref name="session"/>. Under <see cref="Gate"/>.</summary>
    protected void RemoveLocked(MkioSession session)
    {
        for (var i = _subscribers.Count - 1; i >= 0; i--)
        {
            if (ReferenceEquals(_subscribers[i].Session, session))
            {
                _subscribers.RemoveAt(i);
                Engine.Metrics.SubscriptionRemoved(Name);
            }
        }
    }

    public override void Unsubscribe(MkioSession session)
    {
        lock (Gate)
        {
            RemoveLocked(session);
        }
    }

    public override async ValueTask SubscribeAsync(MkioSession session, Envelope envelope, CancellationToken cancellationToken)
    {
        if (envelope.RefKind == RefKind.String && envelope.Ref is { Length: > 0 })
        {
            // PostgreSQL cluster: the ref may come from another node; this node follows the journal that far
            // first (then the service applies what its tail published, below).
            await Engine.CatchUpAsync(cancellationToken).ConfigureAwait(false);
        }

        await CatchUpAsync(cancellationToken).ConfigureAwait(false);
        CompiledExpression? filter = null;
        var later = LaterSubscription.Parse(envelope.Root);
        if (later is not null && UnknownProjectedField(later) is { } unknown)
        {
            Reject(session, envelope, later, unknown);
            return;
        }

        if (later is not null && TrySubscribeTopics(session, envelope, later))
        {
            return;
        }

        if (later is not null && TooManySubscriptions(session, [later]) is { } tooMany)
        {
            Reject(session, envelope, later, tooMany);
            return;
        }

        if (Model.Filterable.Length > 0 && envelope.TryGet("filter"u8, out var f) && f.ValueKind == JsonValueKind.String && f.GetString() is { Length: > 0 } text)
        {
            string? rejection;
            try
            {
                // Static limits (length, depth, nodes, constants over the budget) are parse errors: a nack.
                filter = CompiledExpression.Compile(text, Engine.Functions, _filterLimits);
                rejection = UnknownField(filter);
            }
            catch (ExpressionException ex)
            {
                rejection = ex.Message;
            }

            if (rejection is not null)
            {
                Reject(session, envelope, later, rejection);
                return;
            }
        }

        var clientRef = envelope.RefKind == RefKind.String && envelope.Ref is { Length: > 0 } r && (later is null || LaterKeepsRef) ? r : null;
        var subscriber = new Subscriber(session, filter) { Later = later };
        await SubscribeCoreAsync(subscriber, clientRef, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The nack text when <paramref name="session"/> would hold more than <see cref="MkioOptions.MaxSubscriptionsPerService"/>
    /// subscriptions on this service once the entries <paramref name="adding"/> are registered (each has its own filter
    /// budget, so their number must be bounded), or null.
    /// </summary>
    protected string? TooManySubscriptions(MkioSession session, IReadOnlyCollection<LaterSubscription> adding)
    {
        var limit = Engine.Model.Options.MaxSubscriptionsPerService;
        var held = 0;
        lock (Gate)
        {
            foreach (var s in _subscribers)
            {
                if (ReferenceEquals(s.Session, session) && !adding.Any(a => LaterSubscription.Replaces(s.Later, a)))
                {
                    held++;
                }
            }
        }

        return held + adding.Count > limit
            ? $"Too many subscriptions: this connection already holds {held} on service '{Name}' (limit {limit}, Mkio:MaxSubscriptionsPerService)"
            : null;
    }

    /// <summary>F2: a nack (the later one echoing ref/txnid/subid), nothing registered, the entries it would replace ended.</summary>
    protected void Reject(MkioSession session, Envelope envelope, LaterSubscription? later, string rejection)
    {
        lock (Gate)
        {
            RemoveReplacedLocked(new Subscriber(session, null) { Later = later });
        }

        MkioTelemetry.FailCurrent(MkioTelemetry.SubscribeSpan, rejection);
        var nack = later is null
            ? Frames.NackReply(Name, rejection, envelope.RefKind == RefKind.String ? envelope.RefElement : default)
            : LaterProtocol.Nack(Name, rejection, envelope.Root);
        session.TrySend(nack, Name);
        NotifyOut(nack);
    }

    /// <summary>
    /// <c>Unknown field: stauts. Available fields: …. Did you mean 'status'?</c> for the first field the filter reads
    /// that is not a column of the rows it is evaluated on, or null when every field is one (or the columns cannot be
    /// known).
    /// </summary>
    private string? UnknownField(CompiledExpression filter)
    {
        if (filter.Fields.Count == 0 || FilterColumns() is not { } columns)
        {
            return null;
        }

        foreach (var (name, _) in filter.Fields)
        {
            if (!columns.Contains(name))
            {
                return "Unknown field: " + name + ModelCompiler.AvailableTail("fields", name, columns);
            }
        }

        return null;
    }

    /// <summary>
    /// The columns of the rows a client filter is evaluated on (PROTOCOL.md §7.1: after <c>publish</c>): the
    /// <c>publish</c> fields; otherwise the primary table's columns and <c>_mkio_ref</c> (live changes), plus what
    /// the service's SQL returns (snapshots; a custom query may rename or add columns). Null when the SQL's columns
    /// cannot be read (then nothing is rejected for an unknown field).
    /// </summary>
    private string[]? FilterColumns()
    {
        if (Volatile.Read(ref _filterColumns) is { } known)
        {
            return known.Length == 0 ? null : known;
        }

        string[] columns;
        if (Model.Publish is { } publish)
        {
            columns = publish.OutputSchema.Names;
        }
        else
        {
            var names = new List<string>(Model.PrimaryTable.Columns.Select(c => c.Name)) { MkioSchema.RefColumn };
            try
            {
                foreach (var n in Engine.Reads.ResultColumns($"SELECT * FROM ({Model.Sql}) AS _q LIMIT 0"))
                {
                    if (!names.Contains(n))
                    {
                        names.Add(n);
                    }
                }

                columns = [.. names];
            }
            catch (SqliteException)
            {
                columns = [];
            }
        }

        Volatile.Write(ref _filterColumns, columns);
        return columns.Length == 0 ? null : columns;
    }

    /// <summary>
    /// Subscribe flow (F9): under the lock, capture the reply's state and register the subscriber as pending, so
    /// changes from then on are held for it; build the (possibly large) frame outside the lock, so fan-out to
    /// everyone else goes on meanwhile; then, under the lock, send the frame and the held changes, in that
    /// order, and make the subscriber live. Query services override it to read the snapshot from SQLite.
    /// </summary>
    protected virtual ValueTask SubscribeCoreAsync(Subscriber subscriber, string? clientRef, CancellationToken cancellationToken)
    {
        Func<byte[]> build;
        lock (Gate)
        {
            build = CaptureReplyLocked(subscriber, clientRef);
            subscriber.Pending = [];
            RegisterLocked(subscriber);
        }

        byte[]? frame = null;
        try
        {
            frame = build();
        }
        finally
        {
            lock (Gate)
            {
                var held = subscriber.Pending ?? [];
                subscriber.Pending = null;
                if (frame is null || subscriber.PendingOverflowed)
                {
                    // The reply could not be built, or the changes held meanwhile outgrew the connection's
                    // bound: the subscription does not stand.
                    if (_subscribers.Contains(subscriber))
                    {
                        RemoveLocked(subscriber.Session);
                    }
                }
                else
                {
                    SendReply(subscriber, frame);
                    foreach (var f in held)
                    {
                        if (!subscriber.Session.TrySend(f, Name))
                        {
                            RemoveLocked(subscriber.Session);
                            break;
                        }
                    }
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public override ValueTask<PendingReply?> HandleMessageAsync(MkioSession session, Envelope envelope, JsonDocument document, CancellationToken cancellationToken)
    {
        var kind = Kind;
        string text;
        var type = envelope.Type;
        if (type.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null
            || (type.ValueKind == JsonValueKind.String && (type.ValueEquals(""u8) || type.ValueEquals("transaction"u8))))
        {
            text = $"Service '{Name}' is a {kind} service; it does not accept transactions";
        }
        else if (type.ValueKind == JsonValueKind.String && type.ValueEquals("check"u8))
        {
            text = $"Service '{Name}' is a {kind} service; check applies to transaction services only";
        }
        else
        {
            var shown = type.ValueKind == JsonValueKind.String ? PyRepr.OfString(type.GetString()!) : PyRepr.Compact(type);
            text = $"Unknown message type: {shown}. Valid types: subscribe, unsubscribe, monitor";
        }

        var frame = Frames.ErrorReply(text, envelope.RefElement, envelope.Echo);
        return ValueTask.FromResult<PendingReply?>(PendingReply.Ready(frame, this));
    }

    /// <summary>
    /// Seeds a change log from the journal entries of <paramref name="tables"/> (default: the watch
    /// tables), or — for a database written by the original — from <c>_mkio_ref</c> (SERVICES.md §11).
    /// </summary>
    protected void SeedLog(ChangeLog log, Func<Row, bool>? admit, IReadOnlyCollection<string>? tables = null)
    {
        var entries = Engine.Reads.ReadJournal(tables ?? Model.WatchTables, log.Capacity);
        if (entries.Count > 0)
        {
            foreach (var e in entries)
            {
                if (admit is null || admit(e.Row))
                {
                    log.Append(new LogEntry(e.Sequence, e.Ref, e.Op, e.Row));
                }
            }

            return;
        }

        var table = MkioSchema.Id(Model.PrimaryTable.Name);
        var rows = Engine.Reads.Query(
            $"SELECT * FROM (SELECT * FROM {table} WHERE _mkio_ref != '' ORDER BY _mkio_ref DESC LIMIT $p1) AS _q ORDER BY _mkio_ref ASC", log.Capacity);
        foreach (var row in rows)
        {
            if (row.TryGetValue(MkioSchema.RefColumn, out var rv) && rv is string { Length: > 0 } rs && (admit is null || admit(row)))
            {
                log.Append(new LogEntry(0, rs, "upsert", row));
            }
        }
    }

    /// <summary>Evaluates <c>where</c> on a raw row; an error means "does not pass" (F1).</summary>
    protected bool PassesWhere(Row row)
    {
        if (Model.Where is null)
        {
            return true;
        }

        try
        {
            return Model.Where.IsTruthy(row);
        }
        catch (Exception ex)
        {
            _whereErrors.Failed(this, ex);
            return false;
        }
    }

    /// <summary>
    /// Bounded logging of a config expression (<c>where</c>, <c>publish</c>) that fails per row: the first failure
    /// is logged, then at most one warning a minute with the number of rows it failed on meanwhile; every row is
    /// counted in <c>mkio.expression.errors</c>. An <see cref="ExpressionException"/> is logged without its stack
    /// trace (the config's error); anything else with it (a bug).
    /// </summary>
    private sealed class ExpressionErrorLog(string kind)
    {
        private const long IntervalMs = 60_000;
        private long _suppressed;
        private long _lastLogged = long.MinValue;

        public void Failed(ListenerService service, Exception ex)
        {
            service.Engine.Metrics.ExpressionFailed(service.Name, kind);
            var now = Environment.TickCount64;
            var last = Interlocked.Read(ref _lastLogged);
            if ((last != long.MinValue && now - last < IntervalMs) || Interlocked.CompareExchange(ref _lastLogged, now, last) != last)
            {
                Interlocked.Increment(ref _suppressed);
                return;
            }

            var more = Interlocked.Exchange(ref _suppressed, 0);
            var field = ex is ExpressionException { Field: { } f } ? " (field " + f + ")" : string.Empty;
            if (ex is ExpressionException)
            {
                Log.ExpressionFailed(service.Logger, service.Name, kind + field, ex.Message, more);
            }
            else
            {
                Log.ExpressionCrashed(service.Logger, ex, service.Name, kind + field, more);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Service {Service}: the {Kind} expression failed on a row, which is skipped: {Error} ({Suppressed} more failures since the last warning; all are counted in mkio.expression.errors).")]
        public static partial void ExpressionFailed(ILogger logger, string service, string kind, string error, long suppressed);

        [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "Service {Service}: a subscriber's filter failed on a row, which is skipped for that subscriber: {Error}. Filter: {Filter}. Logged once per subscription; every such row is counted in mkio.filter.errors.")]
        public static partial void FilterFailed(ILogger logger, string service, string error, string filter);

        [LoggerMessage(EventId = 3104, Level = LogLevel.Error, Message = "Service {Service}: the {Kind} expression threw an unexpected error on a row, which is skipped ({Suppressed} more failures since the last report).")]
        public static partial void ExpressionCrashed(ILogger logger, Exception exception, string service, string kind, long suppressed);

        [LoggerMessage(EventId = 3105, Level = LogLevel.Error, Message = "Service {Service}: handing connection {Session} the updates of a batch failed; the connection is closed with 1013 and its client resumes by ref.")]
        public static partial void SendFailed(ILogger logger, Exception exception, string service, long session);

        [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "Service {Service}: processing the change with ref {Ref} failed; the service keeps running.")]
        public static partial void ChangeFailed(ILogger logger, Exception exception, string service, string @ref);
    }
}

/// <summary>One subscription: the connection, its compiled filter, and (for query snapshots) the sequence already covered.</summary>
internal sealed class Subscriber(MkioSession session, CompiledExpression? filter)
{
    public MkioSession Session { get; } = session;

    /// <summary>What a later subscribe asked for (subid, fields, flags); null for a 0.1.0 subscription.</summary>
    public LaterSubscription? Later { get; init; }

    public CompiledExpression? Filter { get; } = filter;

    private int _filterErrorLogged;

    /// <summary>True the first time only: a subscription's filter error is logged once (snapshots are built outside the gate).</summary>
    public bool FirstFilterError() => Interlocked.Exchange(ref _filterErrorLogged, 1) == 0;

    /// <summary>Changes with a sequence at or below this are already in the subscriber's snapshot.</summary>
    public long SkipThrough { get; set; }

    /// <summary>
    /// While its subscribe reply is built outside the service lock: the update frames fanned out meanwhile,
    /// sent right after the reply. Null once the subscriber is live. Guarded by the service's gate.
    /// </summary>
    public List<byte[]>? Pending { get; set; }

    /// <summary>Bytes of the frames fanned out while the reply was built (held or, past the bound, dropped).</summary>
    public long PendingBytes { get; set; }

    /// <summary>The held frames outgrew the connection's bound: the connection was closed with 1013; the subscription ends with the build.</summary>
    public bool PendingOverflowed { get; set; }

    /// <summary>The room a filtered subscriber's staging array starts with (it doubles when full).</summary>
    public const int FilteredStageStart = 16;

    private ReadOnlyMemory<byte>[]? _staged;
    private int _stagedCount;
    private long _stagedBytes;

    /// <summary>
    /// Adds a frame to those staged for this subscriber during one inbox entry (guarded by the service's gate);
    /// true for the first one, when the service lists the subscriber for <see cref="TakeStaged"/>. The first frame rents
    /// room for <paramref name="expected"/> frames; a full array is replaced by one twice its size.
    /// </summary>
    public bool Stage(ReadOnlyMemory<byte> frame, int expected)
    {
        var pool = FrameBatch.Pool;
        if (_staged is null)
        {
            _staged = pool.Rent(expected);
        }
        else if (_stagedCount == _staged.Length)
        {
            var bigger = pool.Rent(_staged.Length * 2);
            _staged.AsSpan().CopyTo(bigger);
            pool.Return(_staged, clearArray: true);
            _staged = bigger;
        }

        _staged[_stagedCount++] = frame;
        _stagedBytes += frame.Length;
        return _stagedCount == 1;
    }

    /// <summary>The staged frames as one batch (the caller owns its array); the subscriber stages anew after it.</summary>
    public FrameBatch TakeStaged()
    {
        var batch = new FrameBatch(_staged!, _stagedCount, _stagedBytes);
        _staged = null;
        _stagedCount = 0;
        _stagedBytes = 0;
        return batch;
    }
}
