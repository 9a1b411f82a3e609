using Mkio.Data;
using Mkio.Model;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>Reads of the PostgreSQL journal (the tail, seeding) and snapshot reads that carry their journal position.</summary>
internal static class PostgresJournal
{
    /// <summary>
    /// The journal's head as one SQL expression: its newest position, or the high water kept when entries were
    /// pruned (the one definition the writer, snapshots and start-up all read).
    /// </summary>
    public const string HeadExpression = "GREATEST(COALESCE((SELECT max(seq) FROM " + ChangeJournal.TableName + "), 0), COALESCE((SELECT value FROM "
        + ChangeJournal.StateTableName + " WHERE key = '" + ChangeJournal.HighWaterKey + "'), 0))";

    private const string AfterSql = "SELECT seq, tbl, op, ref, row, cause, old FROM " + ChangeJournal.TableName + " WHERE seq > $1 AND seq < $3 ORDER BY seq LIMIT $2";

    private const string NewestSql = "SELECT seq, tbl, op, ref, row FROM (SELECT seq, tbl, op, ref, row FROM " + ChangeJournal.TableName
        + " WHERE tbl = ANY($1) ORDER BY seq DESC LIMIT $2) AS newest ORDER BY seq";

    private const string PositionSql = "SELECT " + HeadExpression;

    /// <summary>
    /// Up to <paramref name="limit"/> entries after <paramref name="position"/> and before <paramref name="before"/> (long.MaxValue: no bound),
    /// in position order, and the position of the last entry read (entries of tables this node does not configure
    /// are skipped but still passed).
    /// </summary>
    public static async Task<(List<JournalEntry> Entries, long Last)> ReadAfterAsync(NpgsqlConnection connection, MkioModel model, long position, long before, int limit, CancellationToken cancellationToken)
    {
        using var cmd = new NpgsqlCommand(AfterSql, connection);
        cmd.Parameters.Add(new NpgsqlParameter { Value = position });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (long)limit });
        cmd.Parameters.Add(new NpgsqlParameter { Value = before });
        var last = position;
        var entries = await ReadEntriesAsync(cmd, model, seq => last = seq == last + 1 ? seq : throw new JournalGapException(last, seq), cancellationToken).ConfigureAwait(false);
        return (entries, last);
    }

    /// <summary>The newest <paramref name="limit"/> entries of <paramref name="tables"/>, oldest first (change-log seeding).</summary>
    public static async Task<List<JournalEntry>> ReadNewestAsync(NpgsqlConnection connection, MkioModel model, IReadOnlyCollection<string> tables, int limit, CancellationToken cancellationToken)
    {
        using var cmd = new NpgsqlCommand(NewestSql, connection);
        cmd.Parameters.Add(new NpgsqlParameter { Value = tables.ToArray() });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (long)limit });
        return await ReadEntriesAsync(cmd, model, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The journal's position: its newest entry, or the high water kept when entries were pruned.</summary>
    public static async Task<long> PositionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        using var cmd = new NpgsqlCommand(PositionSql, connection, transaction);
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Rows of <paramref name="sql"/> (PostgreSQL text) and the journal position they include, read in one
    /// REPEATABLE READ snapshot: every change up to the position is in the rows, none after it.
    /// </summary>
    public static async Task<(List<Row> Rows, long Position)> SnapshotAsync(NpgsqlDataSource source, string sql, CancellationToken cancellationToken)
    {
        using var connection = await source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        List<Row> rows;
        using (var cmd = new NpgsqlCommand(sql, connection, tx))
        using (var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            rows = await PostgresValues.ReadRowsAsync(reader, cancellationToken).ConfigureAwait(false);
        }

        var position = await PositionAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (rows, position);
    }

    private static async Task<List<JournalEntry>> ReadEntriesAsync(NpgsqlCommand cmd, MkioModel model, Action<long>? seen, CancellationToken cancellationToken)
    {
        var result = new List<JournalEntry>();
        var schemas = new Dictionary<string, RowSchema>(StringComparer.Ordinal);
        using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            seen?.Invoke(r.GetInt64(0));
            if (model.TablesByName.TryGetValue(r.GetString(1), out var table))
            {
                // The tail's read also carries an undo/redo's cause and pre-image (seeding reads leave them out).
                var withCause = r.FieldCount > 5;
                result.Add(new JournalEntry(r.GetInt64(0), table, r.GetString(2), r.GetString(3), ChangeJournal.ParseRow(r.GetString(4), schemas))
                {
                    Cause = withCause && !r.IsDBNull(5) ? r.GetString(5) : null,
                    Old = withCause && !r.IsDBNull(6) ? ChangeJournal.ParseRow(r.GetString(6), schemas) : null,
                });
            }
        }

        return result;
    }
}

/// <summary>
/// The journal no longer holds the entries right after a node's position (pruned while the node lagged behind
/// the retention): the node cannot continue exactly and must be restarted (it then loads afresh).
/// </summary>
internal sealed class JournalGapException(long position, long found)
    : Exception($"the journal entries after position {position} were pruned before this node read them (next entry: {found}); restart this node")
{
    public long Position { get; } = position;

    public long Found { get; } = found;
}
