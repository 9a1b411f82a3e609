using Microsoft.Extensions.Logging;
using Mkio.Changes;
using Mkio.Model;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Feeds one node's listeners from the PostgreSQL journal: every committed entry, of every node (this one
/// included), in position order, exactly once. <c>LISTEN mkio_journal</c> wakes it at once after another
/// node's commit; a poll every <see cref="PollInterval"/> is the fallback for a lost notification. A write is
/// acknowledged to its client only after this node's tail has passed it (<see cref="WaitForAsync"/>), so a
/// subscribe after a transaction sees it, on this node as on SQLite.
/// <para>
/// The node's own commits are not read back: the writer hands each committed batch (its events and positions)
/// to <see cref="PublishOwn"/>. A batch that follows the tail's position directly is published at once, on the
/// writer's thread; one that other nodes' entries precede waits until the tail has read those (its reads stop
/// right before the batch), so delivery stays in journal order. One lock orders the two publishers; entries
/// at or below the position are never published twice, whichever side got them first.
/// </para>
/// </summary>
internal sealed partial class PostgresJournalTail : IAsyncDisposable
{
    private const int ReadLimit = 5000;
    private readonly NpgsqlDataSource _source;
    private readonly MkioModel _model;
    private readonly ChangeBus _bus;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _waitersLock = new();
    private readonly List<(long Position, TaskCompletionSource Done)> _waiters = [];
    private readonly Lock _publishLock = new();
    private readonly SortedList<long, (long Last, List<ChangeEvent> Events)> _handed = [];
    private Task? _loop;
    private long _position;
    private long _notified;
    private int _ownBackend;
    private long _handedOff;
    private long _readBack;
    private string? _fault;

    public PostgresJournalTail(NpgsqlDataSource source, MkioModel model, ChangeBus bus, ILogger logger, TimeSpan pollInterval)
    {
        _source = source;
        _model = model;
        _bus = bus;
        _logger = logger;
        PollInterval = pollInterval;
    }

    /// <summary>How long the tail waits for a notification before it reads anyway.</summary>
    public TimeSpan PollInterval { get; }

    /// <summary>The position of the last entry this node has published.</summary>
    public long Position => Interlocked.Read(ref _position);

    /// <summary>The last connection failure (cleared once the tail reads again), or null.</summary>
    public string? Fault => Volatile.Read(ref _fault);

    /// <summary>Entries published from batches the writer handed over (not read back from the journal).</summary>
    public long HandedOff => Interlocked.Read(ref _handedOff);

    /// <summary>Entries published from journal reads (other nodes' commits, or own ones the tail read first).</summary>
    public long ReadBack => Interlocked.Read(ref _readBack);

    /// <summary>
    /// The backend process id of this node's writer connection: its own notifications do not wake the tail
    /// (the writer hands those batches over).
    /// </summary>
    public int OwnBackend
    {
        get => Volatile.Read(ref _ownBackend);
        set => Volatile.Write(ref _ownBackend, value);
    }

    /// <summary>Starts tailing after <paramref name="position"/> (what the node's services were loaded at).</summary>
    public void Start(long position)
    {
        _position = position;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>
    /// A batch this node's writer committed (events with their journal positions, contiguous): published at once
    /// when it follows the tail's position, otherwise after the tail has read the other nodes' entries before it.
    /// </summary>
    public void PublishOwn(List<ChangeEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        long published;
        lock (_publishLock)
        {
            var first = events[0].Sequence;
            var last = events[^1].Sequence;
            if (last <= _position)
            {
                // The tail read the batch back first (a poll or another node's notification raced the hand-over).
                return;
            }

            if (first > _position + 1)
            {
                _handed[first] = (last, events);
                return;
            }

            PublishLocked(events);
            DrainHandedLocked();
            published = _position;
        }

        Release(published);
    }

    /// <summary>Completes once the tail has published position <paramref name="position"/>.</summary>
    public Task WaitForAsync(long position, CancellationToken cancellationToken = default)
    {
        if (Position >= position)
        {
            return Task.CompletedTask;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waitersLock)
        {
            _waiters.Add((position, done));
        }

        if (Position >= position)
        {
            Release(Position);
        }

        return done.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }

        lock (_waitersLock)
        {
            foreach (var (_, done) in _waiters)
            {
                done.TrySetCanceled();
            }

            _waiters.Clear();
        }

        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var connection = await _source.OpenConnectionAsync(ct).ConfigureAwait(false);
                connection.Notification += OnNotification;
                using (var listen = new NpgsqlCommand("LISTEN " + PostgresWriter.NotifyChannel, connection))
                {
                    await listen.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }

                Volatile.Write(ref _fault, null);

                while (!ct.IsCancellationRequested)
                {
                    // Read until caught up, then sleep until another node's notification, a batch of this node
                    // waiting for others' entries, or the poll interval.
                    var notified = Interlocked.Read(ref _notified);
                    while (await ReadOnceAsync(connection, ct).ConfigureAwait(false))
                    {
                    }

                    // A notification past what the journal held (or an unreadable payload) must not keep waking reads.
                    Interlocked.CompareExchange(ref _notified, Math.Min(notified, Position), notified);

                    while (!ReadNeeded() && await connection.WaitAsync(PollInterval, ct).ConfigureAwait(false))
                    {
                    }
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (JournalGapException gap)
            {
                // Publishing past a gap would lose changes silently: the node stops following and reports unhealthy.
                Volatile.Write(ref _fault, gap.Message);
                Log.Gap(_logger, gap.Position, gap.Found);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                Volatile.Write(ref _fault, "database unavailable: " + ex.Message);
                Log.TailFailed(_logger, ex);
                await Task.Delay(PollInterval, ct).ConfigureAwait(false);
            }
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (e.PID == OwnBackend)
        {
            return;
        }

        if (!long.TryParse(e.Payload, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var position))
        {
            position = long.MaxValue;
        }

        long seen;
        do
        {
            seen = Interlocked.Read(ref _notified);
        }
        while (position > seen && Interlocked.CompareExchange(ref _notified, position, seen) != seen);
    }

    private bool ReadNeeded()
    {
        if (Interlocked.Read(ref _notified) > Position)
        {
            return true;
        }

        lock (_publishLock)
        {
            return _handed.Count > 0;
        }
    }

    /// <summary>Publishes one read's worth of entries; false when there was nothing new.</summary>
    private async Task<bool> ReadOnceAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        long from;
        long before;
        lock (_publishLock)
        {
            from = _position;
            before = _handed.Count > 0 ? _handed.Keys[0] : long.MaxValue;
        }

        if (before == from + 1)
        {
            // The next entries are this node's own, handed over: nothing to read before them.
            lock (_publishLock)
            {
                DrainHandedLocked();
            }

            Release(Position);
            return false;
        }

        var (entries, last) = await PostgresJournal.ReadAfterAsync(connection, _model, from, before, ReadLimit, ct).ConfigureAwait(false);
        if (before != long.MaxValue && last - from < ReadLimit && last < before - 1)
        {
            // Other nodes' entries committed before this node's batch, so they are visible: missing ones were pruned.
            throw new JournalGapException(last, before);
        }

        if (last == from)
        {
            return false;
        }

        long published;
        lock (_publishLock)
        {
            if (last > _position)
            {
                var events = new List<ChangeEvent>(entries.Count);
                foreach (var e in entries)
                {
                    if (e.Sequence > _position)
                    {
                        events.Add(new ChangeEvent(e.Table, e.Op, e.Row, e.Ref, e.Sequence, e.Cause, e.Old));
                    }
                }

                Publish(events);
                Interlocked.Add(ref _readBack, events.Count);
                Interlocked.Exchange(ref _position, last);
            }

            DrainHandedLocked();
            published = _position;
        }

        Release(published);
        return true;
    }

    /// <summary>Publishes a handed-over batch's events past the position (under the publish lock).</summary>
    private void PublishLocked(List<ChangeEvent> events)
    {
        var position = _position;
        if (events[0].Sequence <= position)
        {
            var rest = new List<ChangeEvent>(events.Count);
            foreach (var e in events)
            {
                if (e.Sequence > position)
                {
                    rest.Add(e);
                }
            }

            events = rest;
        }

        Publish(events);
        Interlocked.Add(ref _handedOff, events.Count);
        Interlocked.Exchange(ref _position, events[^1].Sequence);
    }

    /// <summary>Publishes the handed-over batches that now follow the position, drops those already passed.</summary>
    private void DrainHandedLocked()
    {
        while (_handed.Count > 0)
        {
            var first = _handed.Keys[0];
            if (first > _position + 1)
            {
                return;
            }

            var (last, events) = _handed.Values[0];
            _handed.RemoveAt(0);
            if (last > _position)
            {
                PublishLocked(events);
            }
        }
    }

    private void Publish(List<ChangeEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        try
        {
            _bus.Publish(events);
        }
        catch (Exception ex)
        {
            Log.PublishFailed(_logger, ex);
        }
    }

    private void Release(long position)
    {
        lock (_waitersLock)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Position <= position)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2122, Level = LogLevel.Warning, Message = "The PostgreSQL journal tail lost its connection; it reconnects and resumes from its position")]
        public static partial void TailFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 2124, Level = LogLevel.Critical, Message = "The PostgreSQL journal was pruned past this node's position {Position} (next entry {Found}); the node stopped following it and must be restarted")]
        public static partial void Gap(ILogger logger, long position, long found);

        [LoggerMessage(EventId = 2123, Level = LogLevel.Error, Message = "Publishing journal entries from PostgreSQL failed")]
        public static partial void PublishFailed(ILogger logger, Exception exception);
    }
}
