using System.Text;
using Mkio.Model;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Creates mkio's tables in PostgreSQL: every configured table under its TOML name with mapped columns
/// (<see cref="PostgresColumnMapper"/>) and <c>_mkio_ref TEXT DEFAULT ''</c> plus its index, the journal
/// <c>_mkio_journal</c> and <c>_mkio_journal_state</c>. Migration is additive: a configured column missing
/// from an existing table is added. Nodes starting together serialise this under an advisory lock.
/// </summary>
internal static class PostgresSchema
{
    /// <summary>Advisory lock key held while a node creates or migrates the schema.</summary>
    public const long SchemaLockKey = 0x6d6b696f_53434dL;

    /// <summary>The journal table (same layout as on SQLite; <c>row</c> is the row's wire JSON).</summary>
    public const string CreateJournalSql = "CREATE TABLE IF NOT EXISTS " + ChangeJournal.TableName + " (seq BIGINT PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, ref TEXT NOT NULL, row TEXT NOT NULL)";

    /// <summary>The journal's state (the high water mark kept when entries are pruned).</summary>
    public const string CreateStateSql = "CREATE TABLE IF NOT EXISTS " + ChangeJournal.StateTableName + " (key TEXT PRIMARY KEY, value BIGINT NOT NULL)";

    /// <summary>The statements that create (or complete) the schema of <paramref name="model"/>, in order.</summary>
    public static List<string> Statements(MkioModel model)
    {
        var list = new List<string>();
        foreach (var t in model.Tables)
        {
            list.AddRange(TableStatements(t));
        }

        list.Add(CreateJournalSql);
        list.Add("CREATE INDEX IF NOT EXISTS idx__mkio_journal_tbl ON " + ChangeJournal.TableName + " (tbl, seq)");
        list.Add(CreateStateSql);
        return list;
    }

    /// <summary>The statements that create (or complete) one configured table, its <c>_mkio_ref</c> column and index.</summary>
    public static List<string> TableStatements(TableModel t)
    {
        var list = new List<string>();
        var table = MkioSchema.Id(t.Name);
        var sb = new StringBuilder("CREATE TABLE IF NOT EXISTS ").Append(table).Append(" (");
        foreach (var c in t.Columns)
        {
            sb.Append(MkioSchema.Id(c.Name)).Append(' ').Append(PostgresColumnMapper.Map(c.Definition)).Append(", ");
        }

        sb.Append(MkioSchema.RefColumn).Append(" TEXT DEFAULT '')");
        list.Add(sb.ToString());
        foreach (var c in t.Columns)
        {
            list.Add($"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {MkioSchema.Id(c.Name)} {PostgresColumnMapper.Map(c.Definition)}");
        }

        list.Add($"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {MkioSchema.RefColumn} TEXT DEFAULT ''");
        list.Add($"CREATE INDEX IF NOT EXISTS {MkioSchema.Id(MkioSchema.RefIndexName(t.Name))} ON {table} ({MkioSchema.RefColumn})");
        return list;
    }

    /// <summary>
    /// Creates or completes the schema in one transaction, under <see cref="SchemaLockKey"/>; <paramref name="created"/>
    /// (seed files) runs in the same transaction with the configured tables this call created, so nodes starting
    /// together seed a table once, and a failed seed creates nothing.
    /// </summary>
    public static async Task EnsureCreatedAsync(NpgsqlConnection connection, MkioModel model, CancellationToken cancellationToken, Func<NpgsqlTransaction, IReadOnlyList<TableModel>, Task>? created = null)
    {
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(" + SchemaLockKey.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")", connection, tx))
        {
            await lockCmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var existing = created is null ? null : await PostgresSeeds.ExistingTablesAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        foreach (var sql in Statements(model))
        {
            using var cmd = new NpgsqlCommand(sql, connection, tx);
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (created is not null)
        {
            await created(tx, [.. model.Tables.Where(t => !existing!.Contains(t.Name))]).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
