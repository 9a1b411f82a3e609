using System.Globalization;
using Mkio.Data;
using Mkio.Model;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary><see cref="IStoreReads"/> over PostgreSQL: SQLite text translated by <see cref="PostgresSql"/>, values as SQLite returns them.</summary>
internal sealed class PostgresReads(NpgsqlDataSource source, MkioModel model) : IStoreReads
{
    private const string CompleteSql = "SELECT COALESCE((SELECT min(seq) FROM " + ChangeJournal.TableName + ") = 1, false) AND NOT EXISTS (SELECT 1 FROM "
        + ChangeJournal.StateTableName + " WHERE key = '" + ChangeJournal.PrunedKey + "')";

    private const string RefAtOrBeforeSql = "SELECT ref FROM " + ChangeJournal.TableName + " WHERE seq <= $1 AND tbl = ANY($2) ORDER BY seq DESC LIMIT 1";

    /// <summary>The data source (reqrep requests run on their own read-only transactions).</summary>
    public NpgsqlDataSource Source => source;

    public List<Row> Query(string sql, params object?[] parameters)
    {
        using var connection = source.OpenConnection();
        using var cmd = Command(connection, null, sql, parameters);
        using var reader = cmd.ExecuteReader();
        return PostgresValues.ReadRowsAsync(reader, CancellationToken.None).GetAwaiter().GetResult();
    }

    public List<JournalEntry> ReadJournal(IReadOnlyCollection<string> tables, int limit)
    {
        using var connection = source.OpenConnection();
        return PostgresJournal.ReadNewestAsync(connection, model, tables, limit, CancellationToken.None).GetAwaiter().GetResult();
    }

    public bool JournalIsComplete()
    {
        using var connection = source.OpenConnection();
        using var cmd = new NpgsqlCommand(CompleteSql, connection);
        return (bool)cmd.ExecuteScalar()!;
    }

    public string[] ResultColumns(string sql)
    {
        using var connection = source.OpenConnection();
        using var cmd = Command(connection, null, sql, []);
        using var reader = cmd.ExecuteReader(System.Data.CommandBehavior.SchemaOnly);
        return SqliteReads.ColumnNames(reader);
    }

    /// <summary>
    /// A query snapshot: the rows of <paramref name="sql"/>, the journal position they include and the ref of the
    /// newest entry of <paramref name="tables"/> at or before it, in one REPEATABLE READ transaction.
    /// </summary>
    /// <param name="sql">The service's SQL (SQLite text).</param>
    /// <param name="tables">The tables whose newest ref the snapshot carries.</param>
    /// <param name="positionRead">Test hook, called once the position is read (as on SQLite, <c>QueryService.SnapshotPositionRead</c>).</param>
    public (List<Row> Rows, long Sequence, string? Ref) Snapshot(string sql, IReadOnlyCollection<string> tables, Action? positionRead = null)
    {
        using var connection = source.OpenConnection();
        using var tx = connection.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
        List<Row> rows;
        using (var cmd = Command(connection, tx, sql, []))
        using (var reader = cmd.ExecuteReader())
        {
            rows = PostgresValues.ReadRowsAsync(reader, CancellationToken.None).GetAwaiter().GetResult();
        }

        var sequence = PostgresJournal.PositionAsync(connection, tx, CancellationToken.None).GetAwaiter().GetResult();
        positionRead?.Invoke();
        string? @ref;
        using (var cmd = new NpgsqlCommand(RefAtOrBeforeSql, connection, tx))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = sequence });
            cmd.Parameters.Add(new NpgsqlParameter { Value = tables.ToArray() });
            @ref = cmd.ExecuteScalar() as string;
        }

        tx.Commit();
        return (rows, sequence, @ref);
    }

    /// <summary>
    /// Newest-first insertion order for stream loads (SQLite uses <c>rowid DESC</c>): the identity key when the
    /// table has one (ids grow with inserts), else <c>_mkio_ref</c>, which grows in commit order.
    /// </summary>
    public static string InsertionOrderDescending(TableModel table) =>
        table.PrimaryKey is [{ IsRowIdAlias: true } key] ? MkioSchema.Id(key.Name) + " DESC" : MkioSchema.RefColumn + " DESC";

    /// <summary>A command for SQLite text: <c>$pN</c> parameters take <paramref name="parameters"/>[N-1].</summary>
    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, object?[] parameters)
    {
        var cmd = new NpgsqlCommand(PostgresSql.Translate(sql, out var names), connection, tx);
        foreach (var name in names)
        {
            if (!name.StartsWith("$p", StringComparison.Ordinal) || !int.TryParse(name.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > parameters.Length)
            {
                cmd.Dispose();
                throw new PostgresDialectException($"parameter {name} has no value.");
            }

            cmd.Parameters.Add(new NpgsqlParameter { Value = parameters[n - 1] ?? DBNull.Value });
        }

        return cmd;
    }
}
