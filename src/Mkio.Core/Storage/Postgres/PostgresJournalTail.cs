using Microsoft.Extensions.Logging;
using Mkio.Changes;
using Mkio.Model;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Feeds one node's listeners from the PostgreSQL journal: every committed entry, of every node (this one
/// included), in position order, exactly once. <c>LISTEN mkio_journal</c> wakes it at once after a commit;
/// a poll every <see cref="PollInterval"/> is the fallback for a lost notification. A write is acknowledged
/// to its client only after this node's tail has passed it (<see cref="WaitForAsync"/>), so a subscribe
/// after a transaction sees it, on this node as on SQLite.
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
    private Task? _loop;
    private long _position;
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

    /// <summary>Starts tailing after <paramref name="position"/> (what the node's services were loaded at).</summary>
    public void Start(long position)
    {
        _position = position;
        _loop = Task.Run(RunAsync);
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
                using (var listen = new NpgsqlCommand("LISTEN " + PostgresWriter.NotifyChannel, connection))
                {
                    await listen.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }

                Volatile.Write(ref _fault, null);

                while (!ct.IsCancellationRequested)
                {
                    // Read until caught up, then sleep until a notification or the poll interval.
                    while (await ReadOnceAsync(connection, ct).ConfigureAwait(false))
                    {
                    }

                    await connection.WaitAsync(PollInterval, ct).ConfigureAwait(false);
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

    /// <summary>Publishes one read's worth of entries; false when there was nothing new.</summary>
    private async Task<bool> ReadOnceAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var (entries, last) = await PostgresJournal.ReadAfterAsync(connection, _model, Position, ReadLimit, ct).ConfigureAwait(false);
        if (last == Position)
        {
            return false;
        }

        if (entries.Count > 0)
        {
            var events = new List<ChangeEvent>(entries.Count);
            foreach (var e in entries)
            {
                events.Add(new ChangeEvent(e.Table, e.Op, e.Row, e.Ref, e.Sequence, e.Cause, e.Old));
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

        Interlocked.Exchange(ref _position, last);
        Release(last);
        return true;
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
