using System.Globalization;
using Mkio.Data;
using Mkio.Storage;
using Mkio.Storage.Postgres;
using Npgsql;
using NpgsqlTypes;

namespace Mkio.Later;

/// <summary>
/// A reqrep request on PostgreSQL: the SQL translated by <see cref="PostgresSql"/> (checked at start-up), run in a
/// read-only transaction of its own with <c>SET LOCAL statement_timeout</c> = <see cref="MkioOptions.ReqRepTimeoutMs"/>,
/// at most <see cref="MkioOptions.ReqRepMaxRows"/> rows. The errors mkio words itself are the SQLite ones (missing value,
/// too many rows, interrupted, writing refused); other SQL errors carry PostgreSQL's text.
/// </summary>
internal partial class ReqRepService
{
    /// <summary>SQLite's wording for a write on the read-only connection.</summary>
    private const string ReadOnlyMessage = "attempt to write a readonly database";

    private (string Sql, IReadOnlyList<string> Names)? _pgSql;

    private List<Row> RunPostgres(PostgresReads reads, string sql, Dictionary<string, object?> binds)
    {
        var maxRows = Engine.Model.Options.ReqRepMaxRows;
        var timeoutMs = Engine.Model.Options.ReqRepTimeoutMs;
        var (text, names) = _pgSql ??= (PostgresSql.Translate(sql, out var n), n);
        using var connection = reads.Source.OpenConnection();
        using var tx = connection.BeginTransaction();
        using var batch = new NpgsqlBatch(connection, tx);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET TRANSACTION READ ONLY"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL statement_timeout = " + Math.Max(1, timeoutMs).ToString(CultureInfo.InvariantCulture)));
        var cmd = new NpgsqlBatchCommand(text);
        foreach (var name in names)
        {
            // SQLite binds :name from the request; any other parameter form stays unbound (NULL).
            var value = name.StartsWith(':') && binds.TryGetValue(name[1..], out var v) ? ToSqlite(name[1..], v) : DBNull.Value;
            cmd.Parameters.Add(value switch
            {
                string or DBNull => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Unknown, Value = value },
                _ => new NpgsqlParameter { Value = value },
            });
        }

        batch.BatchCommands.Add(cmd);
        try
        {
            List<Row> rows;
            using (var reader = batch.ExecuteReader())
            {
                // A synchronous reader: the awaited reads complete at once (as PostgresReads reads).
                rows = PostgresValues.ReadRowsAsync(reader, CancellationToken.None, maxRows, () => new ReqRepException(
                    string.Create(CultureInfo.InvariantCulture, $"Service '{Name}': the result has more than {maxRows} rows (ReqRepMaxRows)"))).GetAwaiter().GetResult();
            }

            tx.Commit();
            return rows;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.QueryCanceled)
        {
            throw new ReqRepException(string.Create(CultureInfo.InvariantCulture, $"Service '{Name}': the query was interrupted after {timeoutMs} ms (ReqRepTimeoutMs)"));
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ReadOnlySqlTransaction)
        {
            throw new ReqRepException(ReadOnlyMessage);
        }
    }
}
