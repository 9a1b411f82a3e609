using System.Text;
using Mkio.Model;
using Mkio.Versioning;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Creates mkio's tables in PostgreSQL: every configured table under its TOML name with mapped columns
/// (<see cref="PostgresColumnMapper"/>) and <c>_mkio_ref TEXT DEFAULT ''</c> plus its index, the journal
/// <c>_mkio_journal</c>, <c>_mkio_journal_state</c> and <c>_mkio_columns</c>. Schema changes beyond that are
/// <see cref="PostgresMigration"/>'s; nodes starting together serialise both under an advisory lock.
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
        list.Add("ALTER TABLE " + ChangeJournal.TableName + " ADD COLUMN IF NOT EXISTS cause TEXT");
        list.Add("ALTER TABLE " + ChangeJournal.TableName + " ADD COLUMN IF NOT EXISTS old TEXT");
        list.Add("CREATE INDEX IF NOT EXISTS idx__mkio_journal_tbl ON " + ChangeJournal.TableName + " (tbl, seq)");
        list.Add(CreateStateSql);
        list.Add(CreateColumnsSql);
        return list;
    }

    /// <summary>
    /// The statements that create (or complete) one configured table: the table, columns added since, its
    /// <c>_mkio_ref</c> column and index, and a versioned table's history. Names are quoted where PostgreSQL needs it
    /// (<see cref="MkioSchema.Id"/>).
    /// </summary>
    public static List<string> TableStatements(TableModel t)
    {
        var table = MkioSchema.Id(t.Name);
        var list = new List<string> { CreateTableSql(t) };
        foreach (var c in t.Columns)
        {
            list.Add($"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {MkioSchema.Id(c.Name)} {PostgresColumnMapper.Map(c.Definition)}");
        }

        list.Add($"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {MkioSchema.RefColumn} TEXT DEFAULT ''");
        list.Add($"CREATE INDEX IF NOT EXISTS {MkioSchema.Id(MkioSchema.RefIndexName(t.Name))} ON {table} ({MkioSchema.RefColumn})");
        if (t.Versioned)
        {
            list.AddRange(VersionedStatements(t));
        }

        return list;
    }

    /// <summary>
    /// The SQLite-level definition of every column mkio created (<c>_mkio_columns</c>): what migration compares the
    /// configuration with (PostgreSQL's own types are the mapped ones), and which tables are mkio's.
    /// </summary>
    public const string CreateColumnsSql = "CREATE TABLE IF NOT EXISTS " + ColumnsTable + " (tbl TEXT NOT NULL, col TEXT NOT NULL, definition TEXT NOT NULL, PRIMARY KEY (tbl, col))";

    /// <summary>The table of <see cref="CreateColumnsSql"/>.</summary>
    public const string ColumnsTable = "_mkio_columns";

    /// <summary><c>CREATE TABLE IF NOT EXISTS</c> for one configured table (mapped columns, <c>_mkio_ref</c>, a table-level key).</summary>
    public static string CreateTableSql(TableModel t)
    {
        var sb = new StringBuilder("CREATE TABLE IF NOT EXISTS ").Append(MkioSchema.Id(t.Name)).Append(" (");
        foreach (var c in t.Columns)
        {
            sb.Append(MkioSchema.Id(c.Name)).Append(' ').Append(PostgresColumnMapper.Map(c.Definition)).Append(", ");
        }

        sb.Append(MkioSchema.RefColumn).Append(" TEXT DEFAULT ''");
        if (t.TableKey is { } key)
        {
            sb.Append(", PRIMARY KEY (").AppendJoin(", ", key.Select(MkioSchema.Id)).Append(')');
        }

        return sb.Append(')').ToString();
    }

    /// <summary>Records the configured definition of every column (the schema now matches the configuration).</summary>
    public static async Task RecordColumnsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, MkioModel model, CancellationToken cancellationToken)
    {
        var tables = new List<string>();
        var columns = new List<string>();
        var definitions = new List<string>();
        foreach (var t in model.Tables)
        {
            foreach (var c in t.Columns)
            {
                tables.Add(t.Name);
                columns.Add(c.Name);
                definitions.Add(c.Definition);
            }
        }

        using var batch = new NpgsqlBatch(connection, tx);
        var delete = new NpgsqlBatchCommand("DELETE FROM " + ColumnsTable + " WHERE tbl = ANY($1)");
        delete.Parameters.Add(new NpgsqlParameter { Value = model.Tables.Select(t => t.Name).ToArray() });
        batch.BatchCommands.Add(delete);
        var insert = new NpgsqlBatchCommand("INSERT INTO " + ColumnsTable + " (tbl, col, definition) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])");
        insert.Parameters.Add(new NpgsqlParameter { Value = tables.ToArray() });
        insert.Parameters.Add(new NpgsqlParameter { Value = columns.ToArray() });
        insert.Parameters.Add(new NpgsqlParameter { Value = definitions.ToArray() });
        batch.BatchCommands.Add(insert);
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A versioned table's <c>_mkio_version</c> cursor, its history table (meta columns, then the recorded columns'
    /// mapped types without constraints, keyed by primary key and version), history columns for recorded columns
    /// added since, and the history's ref index — the same layout as on SQLite.
    /// </summary>
    public static IEnumerable<string> VersionedStatements(TableModel t)
    {
        var h = MkioSchema.Id(t.History!.Name);
        yield return $"ALTER TABLE {MkioSchema.Id(t.Name)} ADD COLUMN IF NOT EXISTS {VersionedSchema.VersionColumn} BIGINT NOT NULL DEFAULT 1";
        var sb = new StringBuilder("CREATE TABLE IF NOT EXISTS ").Append(h).Append(" (")
            .Append(VersionedSchema.VersionColumn).Append(" BIGINT NOT NULL, ")
            .Append(VersionedSchema.OpColumn).Append(" TEXT NOT NULL, ")
            .Append(MkioSchema.RefColumn).Append(" TEXT NOT NULL, ")
            .Append(VersionedSchema.UserColumn).Append(" TEXT, ")
            .Append(VersionedSchema.ServiceColumn).Append(" TEXT");
        foreach (var c in t.Recorded)
        {
            sb.Append(", ").Append(MkioSchema.Id(c.Name)).Append(' ').Append(HistoryType(c));
        }

        yield return sb.Append(", PRIMARY KEY (").AppendJoin(", ", t.PrimaryKey.Select(c => MkioSchema.Id(c.Name))).Append(", ").Append(VersionedSchema.VersionColumn).Append("))").ToString();
        foreach (var c in t.Recorded)
        {
            yield return $"ALTER TABLE {h} ADD COLUMN IF NOT EXISTS {MkioSchema.Id(c.Name)} {HistoryType(c)}";
        }

        yield return $"CREATE INDEX IF NOT EXISTS {MkioSchema.Id("idx_" + t.History.Name + "_ref")} ON {h} ({MkioSchema.RefColumn})";
    }

    /// <summary>The history column type of a recorded column: its mapped type without identity or constraints.</summary>
    public static string HistoryType(ColumnInfo column) => PostgresColumnMapper.KindOf(column.Definition) switch
    {
        PostgresColumnKind.Integer or PostgresColumnKind.Boolean => "BIGINT",
        PostgresColumnKind.Real => "DOUBLE PRECISION",
        PostgresColumnKind.Numeric => "NUMERIC",
        PostgresColumnKind.Blob => "BYTEA",
        _ => "TEXT",
    };

    /// <summary>
    /// Adds a <c>baseline</c> history row (at the row's cursor) for every row of a versioned table that has none:
    /// rows present before the table became versioned. Rows without a ref get <paramref name="migrationRef"/>.
    /// </summary>
    public static async Task BaselineAsync(NpgsqlConnection connection, NpgsqlTransaction tx, MkioModel model, string migrationRef, CancellationToken cancellationToken)
    {
        foreach (var t in model.Tables.Where(t => t.Versioned))
        {
            var h = t.History!.Name;
            var cols = string.Join(", ", t.Recorded.Select(c => c.Name));
            var sql = $"INSERT INTO {h} ({string.Join(", ", VersionedSchema.MetaColumns)}, {cols}) "
                + $"SELECT {VersionedSchema.VersionColumn}, '{VersionedSchema.BaselineOp}', CASE WHEN COALESCE({MkioSchema.RefColumn}, '') = '' THEN $1 ELSE {MkioSchema.RefColumn} END, NULL, NULL, {cols} "
                + $"FROM {t.Name} AS b WHERE NOT EXISTS (SELECT 1 FROM {h} AS x WHERE {VersionedSchema.KeyJoin(t, "x", "b")})";
            using var cmd = new NpgsqlCommand(sql, connection, tx);
            cmd.Parameters.Add(new NpgsqlParameter { Value = migrationRef });
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Creates or completes the schema in its own transaction, under <see cref="SchemaLockKey"/> (no migration).</summary>
    public static async Task EnsureCreatedAsync(NpgsqlConnection connection, MkioModel model, CancellationToken cancellationToken)
    {
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await PostgresMigration.LockAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        await EnsureCreatedAsync(connection, tx, model, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates or completes the schema inside <paramref name="tx"/> (which holds <see cref="SchemaLockKey"/>):
    /// every statement of <see cref="Statements"/>, baseline history and the recorded column definitions.
    /// </summary>
    public static async Task EnsureCreatedAsync(NpgsqlConnection connection, NpgsqlTransaction tx, MkioModel model, CancellationToken cancellationToken)
    {
        foreach (var sql in Statements(model))
        {
            using var cmd = new NpgsqlCommand(sql, connection, tx);
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await BaselineAsync(connection, tx, model, new MkioRefGenerator(TimeProvider.System).Next(), cancellationToken).ConfigureAwait(false);
        await RecordColumnsAsync(connection, tx, model, cancellationToken).ConfigureAwait(false);
    }
}
