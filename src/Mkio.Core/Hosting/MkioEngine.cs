using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Mkio.Changes;
using Mkio.Diagnostics;
using Mkio.Model;
using Mkio.Services;
using Mkio.Sessions;
using Mkio.Storage;

namespace Mkio;

/// <summary>
/// One running mkio application: database, write batcher, change bus and services, started in the
/// order of SERVICES.md §2 and stopped in the order of §14 (with fix F19). Host-agnostic: the
/// ASP.NET Core layer and tests drive it; transports attach sessions to it.
/// </summary>
internal sealed partial class MkioEngine : IAsyncDisposable
{
    private readonly ConcurrentDictionary<long, MkioSession> _sessions = new();
    private readonly TimeProvider _time;
    private FrozenDictionary<string, MkioService> _services = FrozenDictionary<string, MkioService>.Empty;
    private ITimer? _checkpointTimer;
    private int _state; // 0 new, 1 started, 2 stopping, 3 stopped

    public MkioEngine(MkioModel model, ILoggerFactory loggerFactory, MkioMetrics metrics, TimeProvider time, Expressions.FunctionRegistry? functions = null)
    {
        Functions = functions;
        Model = model;
        _time = time;
        Logger = loggerFactory.CreateLogger("Mkio");
        Metrics = metrics;
        Refs = new MkioRefGenerator(time);
        Bus = new ChangeBus();
        Database = new MkioDatabase(model, loggerFactory.CreateLogger("Mkio.Storage"));
        Writer = new WriteBatcher(Database, Bus, Refs, time, loggerFactory.CreateLogger("Mkio.Writer"), metrics, model.Options.BatchMaxSize, model.Options.BatchMaxWaitMs);
    }

    public MkioModel Model { get; }

    /// <summary>The host's clock (timers of services, e.g. the idle timeout of paged queries; login delays).</summary>
    public TimeProvider Time => _time;

    /// <summary>This host's expression functions (client filters compile against them).</summary>
    public Expressions.FunctionRegistry? Functions { get; }

    private ChangeJournal? _journal;

    public ILogger Logger { get; }

    public MkioMetrics Metrics { get; }

    public MkioRefGenerator Refs { get; }

    public ChangeBus Bus { get; }

    public MkioDatabase Database { get; }

    /// <summary>Receives start-up migration messages (set before <see cref="StartAsync"/>); null logs them.</summary>
    public Action<string>? MigrationOutput
    {
        get => Database.MigrationOutput;
        set => Database.MigrationOutput = value;
    }

    /// <summary>Asks the operator to confirm risky schema changes (set before <see cref="StartAsync"/>); null: <c>auto_migrate</c> decides.</summary>
    public Func<string, bool>? ConfirmMigration
    {
        get => Database.ConfirmMigration;
        set => Database.ConfirmMigration = value;
    }

    public WriteBatcher Writer { get; }

    public IReadOnlyCollection<MkioService> Services => _services.Values;

    public bool IsStarted => Volatile.Read(ref _state) == 1;

    /// <summary>
    /// True from the start of the shutdown (<see cref="DrainWritesAsync"/>, or the configured writer stopped) until the
    /// engine is disposed: the writer — the PostgreSQL writer on PostgreSQL — refuses new requests and drains.
    /// </summary>
    public bool IsShuttingDown => Volatile.Read(ref _state) switch
    {
        2 => true,
        1 => IsWriterStopping,
        _ => false,
    };

    public bool TryGetService(string name, [MaybeNullWhen(false)] out MkioService service) => _services.TryGetValue(name, out service);

    public MkioService[] ServicesInOrder { get; private set; } = [];

    /// <summary>Opens the database, starts the writer and every service in config order.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            return;
        }

        if (Model.Options.Postgres is not null)
        {
            var at = await StartPostgresAsync(cancellationToken).ConfigureAwait(false);
            StartupSummary = $"database PostgreSQL (journal position {at}), {ServicesInOrder.Length} services";
            Log.Started(Logger, StartupSummary);
            return;
        }

        // Ownership first: nothing opens, creates or migrates the file before this process owns it.
        if (Database.FilePath is not null)
        {
            if (OwnershipLock is null || !string.Equals(OwnershipLock.DatabasePath, Database.FilePath, StringComparison.Ordinal))
            {
                OwnershipLock?.Dispose();
                OwnershipLock = DatabaseLock.Acquire(Database.FilePath);
            }
        }

        var existed = Database.FilePath is null || File.Exists(Database.FilePath);
        var seeds = Later.SeedLoader.TablesToSeed(this, existed);
        Database.Open();
        Later.SeedLoader.Load(this, seeds);
        Versioning.VersionedSchema.BaselineSeeded(Database.Writer, seeds);
        StartAccess();
        ChangeJournal.EnsureCreated(Database.Writer);
        _journal = new ChangeJournal(ChangeJournal.Retention(Model));
        _journal.Load(Database.Writer.Handle!);
        Writer.BeforeCommit = _journal.Append;
        var position = ChangeJournal.MaxSequence(Database.Writer);
        Writer.Start(position);
        var list = await StartServicesAsync(cancellationToken).ConfigureAwait(false);
        var interval = Model.Options.WalCheckpointIntervalS;
        if (!Model.InMemory && interval > 0)
        {
            var period = TimeSpan.FromSeconds(interval);
            _checkpointTimer = _time.CreateTimer(static state => ((MkioEngine)state!).ScheduleCheckpoint(), this, period, period);
        }

        if (!Model.InMemory)
        {
            var passive = TimeSpan.FromSeconds(1);
            _passiveTimer = _time.CreateTimer(static state => ((MkioEngine)state!).RunPassiveCheckpoint(), this, passive, passive);
        }

        StartupSummary = Database.FilePath is null
            ? $"database :memory: (in memory, not persisted), {list.Count} services"
            : $"database {Database.FilePath} ({(existed ? "opened" : "created")}, journal position {position}), {list.Count} services";
        Log.Started(Logger, StartupSummary);
    }

    /// <summary>Starts every service in config order (each loads its state from the store).</summary>
    private async Task<List<MkioService>> StartServicesAsync(CancellationToken cancellationToken)
    {
        var list = new List<MkioService>();
        foreach (var s in Model.Services)
        {
            MkioService service = s switch
            {
                TransactionServiceModel t => new TransactionService(t, Writes, Refs),
                ListenerServiceModel l => ServiceFactory.CreateListener(this, l),
                ReqRepServiceModel r => new Later.ReqRepService(this, r),
                _ => throw new MkioConfigurationException($"Unknown service type: '{s.Type}' for service '{s.Name}'"),
            };
            await service.StartAsync(cancellationToken).ConfigureAwait(false);
            list.Add(service);
        }

        ServicesInOrder = [.. list];
        _services = list.Append(new Later.IdentityService(this)).DistinctBy(s => s.Name, StringComparer.Ordinal).ToFrozenDictionary(s => s.Name, StringComparer.Ordinal);
        return list;
    }

    /// <summary>
    /// Ownership of the database file (<see cref="DatabaseLock"/>): set by a host that took it before
    /// anything else (<c>mkio serve</c> takes it before binding its port); otherwise taken by
    /// <see cref="StartAsync"/>. Released when the engine is disposed.
    /// </summary>
    public DatabaseLock? OwnershipLock { get; set; }

    /// <summary>After start: the absolute database path, whether it was created or opened, its journal position and the service count.</summary>
    public string? StartupSummary { get; private set; }

    private ITimer? _passiveTimer;

    private void RunPassiveCheckpoint()
    {
        try
        {
            Database.PassiveCheckpoint();
        }
        catch (Exception ex)
        {
            Log.CheckpointFailed(Logger, ex);
        }
    }

    private void ScheduleCheckpoint()
    {
        _ = Writer.RunMaintenanceAsync(static db => db.Checkpoint()).ContinueWith(
            static (t, s) => Log.CheckpointFailed(((MkioEngine)s!).Logger, t.Exception!),
            this,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted,
            TaskScheduler.Default);
    }

    /// <summary>Creates the protocol session of a new client connection.</summary>
    public MkioSession OpenSession(IMkioTransport transport, string? urlService)
    {
        var session = new MkioSession(this, transport, urlService);
        _sessions[session.Id] = session;
        return session;
    }

    public async ValueTask CloseSessionAsync(MkioSession session)
    {
        _sessions.TryRemove(session.Id, out _);
        await session.DisposeAsync().ConfigureAwait(false);
    }

    public int SessionCount => _sessions.Count;

    /// <summary>The open sessions (admin page; a snapshot-free view, safe to enumerate while they change).</summary>
    public IEnumerable<MkioSession> Sessions => _sessions.Values;

    /// <summary>
    /// Shutdown steps 1–2 of fix F19: refuse new writes, drain the queue (bounded by
    /// <c>shutdown_timeout</c>) and wait until every drained request's reply was queued on its
    /// connection. The transport closes the sockets afterwards, then calls <see cref="DisposeAsync"/>.
    /// </summary>
    public async Task DrainWritesAsync()
    {
        if (Interlocked.CompareExchange(ref _state, 2, 1) != 1)
        {
            return;
        }

        var timeout = TimeSpan.FromSeconds(Model.Options.ShutdownTimeout);
        try
        {
            await StopWriterAsync(timeout).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ShutdownStepFailed(Logger, ex, "drain writes");
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Max(1, Model.Options.ShutdownTimeout)), _time);
        foreach (var s in _sessions.Values)
        {
            try
            {
                await s.DrainAsync(cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or InvalidOperationException or System.Threading.Channels.ChannelClosedException)
            {
                // The session is closing or could not drain in time; its transport closes it.
            }
        }
    }

    /// <summary>Stops services, checkpoints WAL and closes the database. Never throws (fix F6).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 3) == 3)
        {
            return;
        }

        await DrainIfNeededAsync().ConfigureAwait(false);
        foreach (var s in _sessions.Values)
        {
            await CloseSessionAsync(s).ConfigureAwait(false);
        }

        if (_checkpointTimer is not null)
        {
            await _checkpointTimer.DisposeAsync().ConfigureAwait(false);
        }

        if (_passiveTimer is not null)
        {
            await _passiveTimer.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var s in ServicesInOrder.Reverse())
        {
            try
            {
                await s.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.ShutdownStepFailed(Logger, ex, $"stop service {s.Name}");
            }
        }

        _journal?.Dispose();
        if (_pgSource is not null)
        {
            await DisposePostgresAsync().ConfigureAwait(false);
            OwnershipLock?.Dispose();
            _logins?.Dispose();
            Log.Stopped(Logger);
            return;
        }

        try
        {
            Database.Checkpoint();
        }
        catch (Exception ex)
        {
            Log.ShutdownStepFailed(Logger, ex, "WAL checkpoint");
        }

        try
        {
            await Database.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ShutdownStepFailed(Logger, ex, "close database");
        }

        OwnershipLock?.Dispose();
        _logins?.Dispose();
        Log.Stopped(Logger);
    }

    private async Task DrainIfNeededAsync()
    {
        if (!IsWriterStopping)
        {
            try
            {
                await StopWriterAsync(TimeSpan.FromSeconds(Model.Options.ShutdownTimeout)).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.ShutdownStepFailed(Logger, ex, "drain writes");
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "mkio started: {Summary}.")]
        public static partial void Started(ILogger logger, string summary);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "mkio stopped.")]
        public static partial void Stopped(ILogger logger);

        [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Shutdown step '{Step}' failed; the remaining steps still run.")]
        public static partial void ShutdownStepFailed(ILogger logger, Exception exception, string step);

        [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Periodic WAL checkpoint failed.")]
        public static partial void CheckpointFailed(ILogger logger, Exception exception);
    }
}
