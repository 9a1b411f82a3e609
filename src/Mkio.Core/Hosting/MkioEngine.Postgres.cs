using Mkio.Storage;
using Mkio.Storage.Postgres;
using Npgsql;

namespace Mkio;

/// <summary>The engine's PostgreSQL side (<c>postgres</c> set): store, writer and journal tail instead of the SQLite file.</summary>
internal sealed partial class MkioEngine
{
    private NpgsqlDataSource? _pgSource;
    private PostgresWriter? _pgWriter;
    private PostgresJournalTail? _pgTail;
    private IStoreReads? _sqliteReads;

    /// <summary>PostgreSQL reads, or null on SQLite.</summary>
    public PostgresReads? PostgresReads { get; private set; }

    /// <summary>The listeners' reads, over whichever store is configured.</summary>
    public IStoreReads Reads => (IStoreReads?)PostgresReads ?? (_sqliteReads ??= new SqliteReads(Database, Model));

    /// <summary>Where transaction services send their requests.</summary>
    public IWriteQueue Writes => (IWriteQueue?)_pgWriter ?? Writer;

    /// <summary>
    /// The journal position this node's services have received: the SQLite writer's last commit, or on
    /// PostgreSQL the position of this node's journal tail.
    /// </summary>
    public long Position => _pgTail?.Position ?? Writer.Sequence;

    /// <summary>On PostgreSQL, the <c>_mkio</c> table-schema columns of <paramref name="table"/> (<see cref="PostgresTableInfo"/>); null on SQLite.</summary>
    public List<object?>? PostgresTableColumns(Model.TableModel table) => _pgSource is null ? null : PostgresTableInfo.Columns(_pgSource, table);

    /// <summary>True when the configuration sets <c>postgres</c>: the SQLite database and its <see cref="Writer"/> are never used.</summary>
    public bool UsesPostgres => Model.Options.Postgres is not null;

    /// <summary>The PostgreSQL writer (null on SQLite, and before a PostgreSQL start created it).</summary>
    internal PostgresWriter? PostgresWriter => _pgWriter;

    /// <summary>The configured writer: the SQLite one, or the PostgreSQL one once its start created it (null before).</summary>
    private IWriteQueue? ActiveWriter => UsesPostgres ? _pgWriter : Writer;

    /// <summary>Requests waiting in whichever writer is configured.</summary>
    public int WriteQueueLength => ActiveWriter?.QueueLength ?? 0;

    /// <summary>True once the configured writer stopped accepting requests (shutdown began).</summary>
    public bool IsWriterStopping => ActiveWriter?.IsStopping == true;

    /// <summary>
    /// The SQLite writer's last failed batch (<see cref="WriteBatcher.LastBatchError"/>, health reports Degraded), or null;
    /// always null on PostgreSQL, whose failures are <see cref="StorageFaultDescription"/>.
    /// </summary>
    public string? WriterBatchError => UsesPostgres ? null : Writer.LastBatchError;

    /// <summary>What the admin page shows as the database: the SQLite file, <c>:memory:</c>, or the PostgreSQL database's name.</summary>
    public string DatabaseDescription => UsesPostgres
        ? "PostgreSQL database " + PostgresMigration.DisplayName(Model.Options.Postgres!)
        : Database.FilePath ?? ":memory:";

    /// <summary>Test hook: parks whichever writer is configured between batches (see <see cref="WriteBatcher.HoldAsync"/>).</summary>
    internal Task<IDisposable> HoldWritesAsync(CancellationToken cancellationToken = default) =>
        (ActiveWriter ?? throw new InvalidOperationException("The PostgreSQL writer has not started.")).HoldAsync(cancellationToken);

    /// <summary>Why writes (or, on PostgreSQL, the journal tail) are failing, or null.</summary>
    public string? StorageFault => _pgSource is null ? Writer.Fault : _pgWriter?.Fault ?? _pgTail?.Fault;

    /// <summary>
    /// What is failing, as the health check says it, or null: the writer (<c>mkio stopped writing: …</c>) or, on
    /// PostgreSQL, this node's journal tail (<c>mkio stopped following the PostgreSQL journal (journal tail): …</c>:
    /// its subscribers get no changes until it reads again; after a gap it never does).
    /// </summary>
    public string? StorageFaultDescription => _pgSource is null
        ? Writer.Fault is { } f ? $"mkio stopped writing: {f}." : null
        : _pgWriter?.Fault is { } w ? $"mkio stopped writing: {w}."
        : _pgTail?.Fault is { } t ? $"mkio stopped following the PostgreSQL journal (journal tail): {t}." : null;

    /// <summary>Checks that the store answers (health).</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        if (_pgSource is not null)
        {
            using var cmd = _pgSource.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await Database.ReadAsync(static c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT 1";
            return cmd.ExecuteScalar();
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// On PostgreSQL, before a subscription resumes from a client's ref: waits (at most <see cref="CatchUpTimeout"/>)
    /// until this node's journal tail has published everything committed before now, so a client that saw a change
    /// on another node resumes here after it, and does not get it again as a live update. No-op on SQLite.
    /// </summary>
    public async ValueTask CatchUpAsync(CancellationToken cancellationToken)
    {
        if (_pgTail is null || _pgSource is null)
        {
            return;
        }

        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(CatchUpTimeout);
        try
        {
            long head;
            using (var cmd = _pgSource.CreateCommand("SELECT " + PostgresJournal.HeadExpression))
            {
                head = (long)(await cmd.ExecuteScalarAsync(bound.Token).ConfigureAwait(false))!;
            }

            await _pgTail.WaitForAsync(head, bound.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Bounded: the subscription goes ahead with what this node has.
        }
        catch (NpgsqlException)
        {
            // The database is unreachable: the subscription goes ahead with what this node has.
        }
    }

    /// <summary>The bound of <see cref="CatchUpAsync"/>.</summary>
    internal static TimeSpan CatchUpTimeout { get; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The user's connection string with automatic preparation on (unless it sets <c>Max Auto Prepare</c>
    /// itself): the writer's statements repeat on every request, so preparing them saves the server's parse
    /// and plan each time.
    /// </summary>
    internal static string PostgresConnectionString(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 64;
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// Migrates, creates or completes the schema, then loads every service with the journal held still: a session-level
    /// shared advisory lock on the journal key excludes every node's writer (each batch takes the same key
    /// exclusively), so the rows the services load and the journal position agree; the tail starts there.
    /// </summary>
    private async Task<long> StartPostgresAsync(CancellationToken cancellationToken)
    {
        _pgSource = NpgsqlDataSource.Create(PostgresConnectionString(Model.Options.Postgres!));
        PostgresReads = new PostgresReads(_pgSource, Model);
        var connection = await _pgSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Schema migration (auto_migrate decides; a node never asks), the additive schema and the seed files of the
            // tables this start created, in one transaction holding the schema and journal locks: other nodes' batches wait for it.
            await PostgresMigration.RunAtStartupAsync(connection, Model, MigrationOutput ?? Storage.Migration.SchemaMigration.LogOutput(Logger), cancellationToken, (tx, created) => PostgresSeeds.LoadAsync(this, connection, tx, created, cancellationToken)).ConfigureAwait(false);
            await StartPostgresAccessAsync(connection, cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, "SELECT pg_advisory_lock_shared(" + PostgresWriter.JournalLockKey.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")", cancellationToken).ConfigureAwait(false);
            var position = await PostgresJournal.PositionAsync(connection, null, cancellationToken).ConfigureAwait(false);
            _pgTail = new PostgresJournalTail(_pgSource, Model, Bus, Logger, TimeSpan.FromSeconds(1));
            _pgWriter = new PostgresWriter(_pgSource, null, Refs, Logger, Model.Options.BatchMaxSize) { Metrics = Metrics, Tail = _pgTail, Retention = ClusterRetention() };
            await StartServicesAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, "SELECT pg_advisory_unlock_shared(" + PostgresWriter.JournalLockKey.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")", cancellationToken).ConfigureAwait(false);
            _pgTail.Start(position);
            _pgWriter.Start(position);
            return position;
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Entries kept per table: as on SQLite, but every table keeps at least <see cref="ChangeJournal.MinimumKeep"/>
    /// (other nodes' tails still read entries of tables no service of this node watches).
    /// </summary>
    private Dictionary<string, int> ClusterRetention()
    {
        var keep = ChangeJournal.Retention(Model);
        foreach (var t in Model.TablesByName.Keys)
        {
            keep[t] = Math.Max(keep.GetValueOrDefault(t), ChangeJournal.MinimumKeep);
        }

        return keep;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops whichever writer is configured (new writes get the stopping error), draining within <paramref name="timeout"/>
    /// and answering what is left with the stopping error. On PostgreSQL the SQLite writer is never touched.
    /// </summary>
    internal Task StopWriterAsync(TimeSpan timeout) => ActiveWriter?.StopAsync(timeout) ?? Task.CompletedTask;

    private async Task DisposePostgresAsync()
    {
        if (_pgWriter is not null)
        {
            await _pgWriter.DisposeAsync().ConfigureAwait(false);
        }

        if (_pgTail is not null)
        {
            await _pgTail.DisposeAsync().ConfigureAwait(false);
        }

        if (_pgSource is not null)
        {
            await _pgSource.DisposeAsync().ConfigureAwait(false);
        }
    }
}
