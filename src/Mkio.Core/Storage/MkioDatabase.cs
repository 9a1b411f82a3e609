using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Mkio.Data;
using Mkio.Model;
using SQLitePCL;

namespace Mkio.Storage;

/// <summary>
/// The SQLite database of one mkio application (SERVICES.md §3): one write connection, owned by the
/// write batcher, and a small pool of read connections. WAL mode lets reads run during writes. For
/// <c>:memory:</c> a named shared-cache database is used so every connection sees the same data.
/// </summary>
internal sealed partial class MkioDatabase : IAsyncDisposable
{
    private const int MaxReaders = 4;

    /// <summary>Page cache of each read connection (and of every connection to an in-memory database), in KiB.</summary>
    private const int ReadCacheKib = 64_000;

    private readonly MkioModel _model;
    private readonly ILogger _logger;
    private readonly string _connectionString;
    private readonly SemaphoreSlim _readerGate = new(MaxReaders, MaxReaders);
    private readonly Stack<SqliteConnection> _idleReaders = new();
    private readonly Lock _readerLock = new();
    private readonly List<SqliteConnection> _allReaders = [];
    private SqliteConnection? _writer;
    private int _disposed;

    public MkioDatabase(MkioModel model, ILogger logger)
    {
        _model = model;
        _logger = logger;
        if (model.Options.Postgres is not null)
        {
            // PostgreSQL mode: no SQLite file is named, created or opened (Open and every connection refuse).
            _connectionString = string.Empty;
            DisplayName = "PostgreSQL";
        }
        else if (model.InMemory)
        {
            var name = "mkio_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            _connectionString = new SqliteConnectionStringBuilder { DataSource = name, Mode = SqliteOpenMode.Memory, Cache = SqliteCacheMode.Shared, Pooling = false }.ToString();
            DisplayName = ":memory:";
        }
        else
        {
            var full = Path.GetFullPath(model.Options.DbPath);
            _connectionString = new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadWriteCreate, Cache = SqliteCacheMode.Private, Pooling = false }.ToString();
            DisplayName = model.Options.DbPath;
            FilePath = full;
        }
    }

    public string DisplayName { get; }

    /// <summary>The database file, or null for <c>:memory:</c>.</summary>
    public string? FilePath { get; }

    /// <summary>The write connection. Only the write batcher (and start-up DDL) may use it.</summary>
    public SqliteConnection Writer => _writer ?? throw new InvalidOperationException("The database is not open.");

    /// <summary>Receives start-up migration messages (SERVICES.md §15.4); null logs them.</summary>
    public Action<string>? MigrationOutput { get; set; }

    /// <summary>Asks the operator to confirm risky schema changes; null when nobody can answer.</summary>
    public Func<string, bool>? ConfirmMigration { get; set; }

    /// <summary>
    /// Opens the connections, applies pragmas and makes the schema match the config: for a file,
    /// backup and schema migration first (SERVICES.md §3.1, §15), on their own short-lived connection.
    /// </summary>
    public void Open()
    {
        ThrowIfPostgres();
        if (FilePath is not null)
        {
            var dir = Path.GetDirectoryName(FilePath);
            if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
            {
                throw new MkioConfigurationException($"db_path: the directory of '{_model.Options.DbPath}' does not exist ({dir}).");
            }

            Migration.SchemaMigration.RunAtStartup(_connectionString, FilePath, _model, MigrationOutput, ConfirmMigration, _logger);
        }

        // A file database's writer has a page cache of its own size (MkioOptions.WriterCacheSizeKib: after a page
        // split renumbered pages, SQLite walks the writer's whole cache at the next COMMIT).
        _writer = OpenConnection(FilePath is null ? ReadCacheKib : _model.Options.WriterCacheSizeKib);
        if (FilePath is not null)
        {
            // Checkpoints never run inside the writer's commits (their fsync would stall a batch):
            // a background connection runs passive checkpoints instead (see PassiveCheckpoint).
            using var cmd = _writer.CreateCommand();
            cmd.CommandText = "PRAGMA wal_autocheckpoint=0;";
            cmd.ExecuteNonQuery();
        }

        SchemaManager.Apply(_writer, _model, _logger);
    }

    /// <summary>
    /// In PostgreSQL mode (<c>postgres</c> set) nothing may open a SQLite database: a code path that would has a bug,
    /// and failing here keeps it from silently creating a <c>mkio.db</c> next to the process.
    /// </summary>
    private void ThrowIfPostgres()
    {
        if (_model.Options.Postgres is not null)
        {
            throw new InvalidOperationException("This mkio stores its data in PostgreSQL (postgres is set): the SQLite database is not used.");
        }
    }

    private SqliteConnection? _checkpointer;
    private int _checkpointing;

    /// <summary>
    /// Copies committed WAL pages into the database from a separate connection without blocking the
    /// writer (<c>wal_checkpoint(PASSIVE)</c>). Called periodically by the engine; file databases only.
    /// </summary>
    public void PassiveCheckpoint()
    {
        if (FilePath is null || Volatile.Read(ref _disposed) != 0 || Interlocked.Exchange(ref _checkpointing, 1) != 0)
        {
            return;
        }

        try
        {
            _checkpointer ??= OpenConnection();
            using var cmd = _checkpointer.CreateCommand();
            cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
            cmd.ExecuteNonQuery();
        }
        finally
        {
            Volatile.Write(ref _checkpointing, 0);
        }
    }

    /// <summary>Opens a connection with the pragmas of a read connection (SERVICES.md §3.1).</summary>
    public SqliteConnection OpenConnection() => OpenConnection(ReadCacheKib);

    private SqliteConnection OpenConnection(int cacheKib)
    {
        ThrowIfPostgres();
        var c = new SqliteConnection(_connectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        var cache = "PRAGMA cache_size=-" + cacheKib.ToString(CultureInfo.InvariantCulture) + ";";
        cmd.CommandText = _model.InMemory
            ? "PRAGMA synchronous=NORMAL; " + cache
            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; " + cache + " PRAGMA busy_timeout=5000; PRAGMA mmap_size=" + ((long)_model.Options.MmapSizeMib << 20).ToString(CultureInfo.InvariantCulture) + ";";
        cmd.ExecuteNonQuery();
        return c;
    }

    /// <summary>Runs a read on a pooled read connection.</summary>
    public async ValueTask<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _readerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return WithReader(read);
    }

    /// <summary>Runs a read synchronously on a pooled read connection (callers may hold a service lock).</summary>
    public T Read<T>(Func<SqliteConnection, T> read)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        _readerGate.Wait();
        return WithReader(read);
    }

    /// <summary>Rents a reader (the gate is already taken), runs <paramref name="read"/>, returns both.</summary>
    private T WithReader<T>(Func<SqliteConnection, T> read)
    {
        SqliteConnection? c = null;
        try
        {
            lock (_readerLock)
            {
                _idleReaders.TryPop(out c);
            }

            if (c is null)
            {
                c = OpenConnection();
                lock (_readerLock)
                {
                    _allReaders.Add(c);
                }
            }

            return read(c);
        }
        finally
        {
            if (c is not null)
            {
                lock (_readerLock)
                {
                    _idleReaders.Push(c);
                }
            }

            _readerGate.Release();
        }
    }

    /// <summary>Reads every row of <paramref name="sql"/> with values in their storage classes.</summary>
    public static List<Row> Query(SqliteConnection connection, string sql, params object?[] parameters) => Query(connection, sql, null, parameters);

    /// <summary>Reads every row of <paramref name="sql"/> inside <paramref name="transaction"/>.</summary>
    public static List<Row> Query(SqliteConnection connection, string sql, SqliteTransaction? transaction, params object?[] parameters)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = sql;
        for (var i = 0; i < parameters.Length; i++)
        {
            cmd.Parameters.AddWithValue("$p" + (i + 1).ToString(CultureInfo.InvariantCulture), parameters[i] ?? DBNull.Value);
        }

        using var reader = cmd.ExecuteReader();
        return ReadRows(reader);
    }

    /// <summary>
    /// Every row of the parameterless <paramref name="sql"/>, read inside whatever transaction is open on
    /// <paramref name="connection"/>, with the values <see cref="ReadRows"/> gives (storage classes). It steps the
    /// statement through SQLite's own API instead of <see cref="SqliteDataReader.GetValue"/>, which costs
    /// several times more per value: large query snapshots read this way. Repeated text values of a column
    /// (a status, a symbol) share one string.
    /// </summary>
    public static List<Row> QueryAll(SqliteConnection connection, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        using (var stmt = PrepareRead(connection, sql, out var names))
        {
            var count = names.Length;
            var schema = new RowSchema(names);
            var last = new string?[count];
            var rows = new List<Row>();
            var rc = FirstStep(stmt, connection.DefaultTimeout);
            for (; rc == raw.SQLITE_ROW; rc = raw.sqlite3_step(stmt))
            {
                var values = new object?[count];
                for (var i = 0; i < count; i++)
                {
                    values[i] = Value(stmt, i, ref last[i]);
                }

                rows.Add(new Row(schema, values));
            }

            Check(db, rc);
            return rows;
        }
    }

    /// <summary>
    /// Column <paramref name="column"/> of the statement's current row by storage class: INTEGER (−128…1023 in shared
    /// boxes), REAL, NULL, BLOB, and TEXT as a string that is <paramref name="previous"/> (the column's last text) or one
    /// of <paramref name="reuse"/> when it holds the same ASCII text, else a new one, which becomes <paramref name="previous"/>.
    /// </summary>
    internal static object? Value(sqlite3_stmt stmt, int column, ref string? previous, ReadOnlySpan<string?> reuse = default) =>
        raw.sqlite3_column_type(stmt, column) switch
        {
            raw.SQLITE_INTEGER => BoxedInt64.Of(raw.sqlite3_column_int64(stmt, column)),
            raw.SQLITE_FLOAT => raw.sqlite3_column_double(stmt, column),
            raw.SQLITE_NULL => null,
            raw.SQLITE_TEXT => Text(raw.sqlite3_column_blob(stmt, column), ref previous, reuse),
            _ => raw.sqlite3_column_blob(stmt, column).ToArray(),
        };

    private static string Text(ReadOnlySpan<byte> utf8, ref string? previous, ReadOnlySpan<string?> reuse)
    {
        if (SameAscii(utf8, previous))
        {
            return previous!;
        }

        foreach (var candidate in reuse)
        {
            if (SameAscii(utf8, candidate))
            {
                return previous = candidate!;
            }
        }

        return previous = System.Text.Encoding.UTF8.GetString(utf8);
    }

    private static bool SameAscii(ReadOnlySpan<byte> utf8, string? text) =>
        text is not null && text.Length == utf8.Length && System.Text.Ascii.Equals(utf8, text);

    /// <summary>Prepares a read on <paramref name="connection"/> and gives its result column names.</summary>
    internal static sqlite3_stmt PrepareRead(SqliteConnection connection, string sql, out string[] names)
    {
        var db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        Check(db, raw.sqlite3_prepare_v2(db, sql, out var stmt));
        names = new string[raw.sqlite3_column_count(stmt)];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = raw.sqlite3_column_name(stmt, i).utf8_to_string();
        }

        return stmt;
    }

    /// <summary>Throws the <see cref="SqliteException"/> of a failed step or prepare.</summary>
    internal static void Check(sqlite3 db, int rc)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_DONE or raw.SQLITE_ROW))
        {
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(db));
        }
    }

    /// <summary>
    /// The first step of a read, retried while the database is locked (a shared-cache in-memory database
    /// answers SQLITE_LOCKED rather than waiting, as <see cref="SqliteCommand"/> retries until its timeout).
    /// </summary>
    internal static int FirstStep(sqlite3_stmt stmt, int timeoutSeconds)
    {
        var started = Environment.TickCount64;
        while (true)
        {
            var rc = raw.sqlite3_step(stmt);
            if (rc is not (raw.SQLITE_BUSY or raw.SQLITE_LOCKED or raw.SQLITE_LOCKED_SHAREDCACHE)
                || (timeoutSeconds > 0 && Environment.TickCount64 - started >= timeoutSeconds * 1000L))
            {
                return rc;
            }

            raw.sqlite3_reset(stmt);
            Thread.Sleep(1);
        }
    }

    /// <summary>
    /// Every row of <paramref name="reader"/> with values in their storage classes; past <paramref name="limit"/> rows
    /// the exception of <paramref name="tooMany"/> is thrown.
    /// </summary>
    public static List<Row> ReadRows(SqliteDataReader reader, int limit = int.MaxValue, Func<Exception>? tooMany = null)
    {
        var names = new string[reader.FieldCount];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = reader.GetName(i);
        }

        var schema = new RowSchema(names);
        var rows = new List<Row>();
        while (reader.Read())
        {
            if (rows.Count >= limit)
            {
                throw tooMany?.Invoke() ?? new InvalidOperationException($"more than {limit} rows");
            }

            var values = new object?[names.Length];
            for (var i = 0; i < values.Length; i++)
            {
                var v = reader.GetValue(i);
                values[i] = v is DBNull ? null : v;
            }

            rows.Add(new Row(schema, values));
        }

        return rows;
    }

    /// <summary>Runs <c>PRAGMA wal_checkpoint(TRUNCATE)</c> on the write connection (file databases).</summary>
    public void Checkpoint()
    {
        if (FilePath is null || _writer is null)
        {
            return;
        }

        using var cmd = _writer.CreateCommand();
        cmd.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
        cmd.ExecuteNonQuery();
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        lock (_readerLock)
        {
            foreach (var r in _allReaders)
            {
                r.Dispose();
            }

            _allReaders.Clear();
            _idleReaders.Clear();
        }

        SpinWait.SpinUntil(() => Volatile.Read(ref _checkpointing) == 0, 5000);
        _checkpointer?.Dispose();
        _checkpointer = null;
        _writer?.Dispose();
        _writer = null;
        _readerGate.Dispose();
        return ValueTask.CompletedTask;
    }
}
