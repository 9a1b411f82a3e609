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

    /// <summary>Why writes (or, on PostgreSQL, the journal tail) are failing, or null.</summary>
    public string? StorageFault => _pgSource is null ? Writer.Fault : _pgWriter?.Fault ?? _pgTail?.Fault;

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

    /// <summary>Creates or completes the schema and the writer; returns the journal position services load at.</summary>
    private async Task<long> StartPostgresAsync(CancellationToken cancellationToken)
    {
        _pgSource = NpgsqlDataSource.Create(Model.Options.Postgres!);
        PostgresReads = new PostgresReads(_pgSource, Model);
        long position;
        using (var connection = await _pgSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            await PostgresSchema.EnsureCreatedAsync(connection, Model, cancellationToken).ConfigureAwait(false);
            position = await PostgresJournal.PositionAsync(connection, null, cancellationToken).ConfigureAwait(false);
        }

        _pgTail = new PostgresJournalTail(_pgSource, Model, Bus, Logger, TimeSpan.FromSeconds(1));
        _pgWriter = new PostgresWriter(_pgSource, null, Refs, Logger, Model.Options.BatchMaxSize) { AcknowledgeAfter = p => _pgTail.WaitForAsync(p) };
        _pgWriter.Start(position);
        return position;
    }

    /// <summary>Stops the PostgreSQL writer (draining within the shutdown timeout).</summary>
    private async Task StopPostgresWriterAsync()
    {
        if (_pgWriter is not null)
        {
            await _pgWriter.StopAsync(TimeSpan.FromSeconds(Model.Options.ShutdownTimeout)).ConfigureAwait(false);
        }
    }

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
