using System.Globalization;
using System.Text;
using Mkio.Model;
using Mkio.Storage.Migration;
using Mkio.Versioning;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Schema migration on PostgreSQL (SERVICES.md §15, as on SQLite): the live schema is read from
/// <c>pg_catalog</c> (column definitions as configured come from <c>_mkio_columns</c>), diffed and classified by
/// <see cref="SchemaDiff"/>, and applied in one transaction that holds the schema lock and the journal lock,
/// so every node's write batches wait for it. Changes are made in place with <c>ALTER TABLE</c> (PostgreSQL
/// changes types, keys and columns without a rebuild), so rows keep their <c>_mkio_ref</c> and the journal
/// stays valid. Only tables mkio created (or the configuration names) are considered: other tables of the
/// database are left alone.
/// </summary>
internal static class PostgresMigration
{
    private static readonly string[] ConstraintWords = [" GENERATED ", " PRIMARY KEY", " NOT NULL", " NULL", " UNIQUE", " CHECK ", " CHECK(", " REFERENCES ", " DEFAULT "];

    /// <summary>The name reports use for the database (its name, never the connection string).</summary>
    public static string DisplayName(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString).Database is { Length: > 0 } db ? db : "postgres";

    /// <summary>
    /// Test hook: awaited by <see cref="RunAtStartupAsync"/> right before its COMMIT, with the schema and journal locks
    /// held and the migration applied (internal, process-wide: a hook should act only on its own database, e.g. by
    /// <see cref="NpgsqlConnection.Database"/>).
    /// </summary>
    internal static Func<NpgsqlConnection, Task>? BeforeCommit { get; set; }

    /// <summary>Takes the schema lock and the journal lock for <paramref name="tx"/>: other nodes' batches and starts wait.</summary>
    public static async Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        using var cmd = new NpgsqlCommand(LockSql, connection, tx);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string LockSql =>
        "SELECT pg_advisory_xact_lock(" + PostgresSchema.SchemaLockKey.ToString(CultureInfo.InvariantCulture) + "), pg_advisory_xact_lock("
        + PostgresWriter.JournalLockKey.ToString(CultureInfo.InvariantCulture) + ")";

    /// <summary>
    /// A starting node: migrates as <c>auto_migrate</c> allows (a node never asks: it would hold the cluster's journal
    /// lock while waiting), then creates or completes the schema, all in one transaction. Throws when refused.
    /// </summary>
    /// <param name="connection">An open connection, not in a transaction.</param>
    /// <param name="model">The configuration.</param>
    /// <param name="output">Where the migration report goes.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <param name="created">Runs in the same transaction, last, with the configured tables this call created (seed files).</param>
    public static async Task RunAtStartupAsync(NpgsqlConnection connection, MkioModel model, Action<string> output, CancellationToken cancellationToken, Func<NpgsqlTransaction, IReadOnlyList<TableModel>, Task>? created = null)
    {
        using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockAsync(connection, tx, cancellationToken).ConfigureAwait(false);
        var tables = TableNames(connection, tx);
        var diff = Diff(connection, tx, model, tables);
        if (!diff.OnlySafe && model.Options.BackupOnStartup)
        {
            output(MigrationReport.NoPostgresBackup);
        }

        SchemaMigration.Run(diff, model.Options.AutoMigrate, DisplayName(model.Options.Postgres!), output, null, d => Apply(connection, tx, Steps(d)), MigrationReport.RunDbUpdate);
        await CompleteAsync(connection, tx, model, cancellationToken).ConfigureAwait(false);
        if (created is not null)
        {
            await created(tx, [.. model.Tables.Where(t => !tables.Contains(t.Name))]).ConfigureAwait(false);
        }

        if (BeforeCommit is { } hook)
        {
            await hook(connection).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>After a migration (or none): the additive schema, baseline history, recorded definitions; forgets removed tables.</summary>
    public static async Task CompleteAsync(NpgsqlConnection connection, NpgsqlTransaction tx, MkioModel model, CancellationToken cancellationToken)
    {
        await PostgresSchema.EnsureCreatedAsync(connection, tx, model, cancellationToken).ConfigureAwait(false);
        using var cmd = new NpgsqlCommand("DELETE FROM " + PostgresSchema.ColumnsTable + " WHERE NOT (tbl = ANY($1))", connection, tx);
        cmd.Parameters.Add(new NpgsqlParameter { Value = model.Tables.Select(t => t.Name).ToArray() });
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the live schema and diffs it with the configuration (row counts of removed tables included).</summary>
    /// <param name="connection">An open connection.</param>
    /// <param name="tx">The transaction, or null.</param>
    /// <param name="model">The configuration.</param>
    /// <param name="tables">The current schema's tables when the caller read them already (<see cref="TableNames"/>).</param>
    public static SchemaDiff Diff(NpgsqlConnection connection, NpgsqlTransaction? tx, MkioModel model, List<string>? tables = null)
    {
        var live = ReadLive(connection, tx, model, tables);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var t in live.Tables.Where(t => !model.TablesByName.ContainsKey(t.Name)))
        {
            using var cmd = new NpgsqlCommand($"SELECT count(*) FROM {Sql.Quoted(t.Name)}", connection, tx);
            counts[t.Name] = (long)cmd.ExecuteScalar()!;
        }

        return SchemaDiff.Compute(live, model.Tables, name => counts.GetValueOrDefault(name));
    }

    /// <summary>The tables of the connection's current schema, in creation order.</summary>
    public static List<string> TableNames(NpgsqlConnection connection, NpgsqlTransaction? tx)
    {
        var names = new List<string>();
        using var cmd = new NpgsqlCommand("SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relnamespace = current_schema()::regnamespace ORDER BY oid", connection, tx);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            names.Add(r.GetString(0));
        }

        return names;
    }

    /// <summary>
    /// The live schema: mkio's tables of the current schema (those recorded in <c>_mkio_columns</c> or configured),
    /// in creation order, each column with its configured definition when recorded, else a type derived from
    /// PostgreSQL's (a column whose configured definition maps to the same PostgreSQL type counts as unchanged).
    /// </summary>
    public static LiveSchema ReadLive(NpgsqlConnection connection, NpgsqlTransaction? tx, MkioModel model, List<string>? tableNames = null)
    {
        var names = tableNames ?? TableNames(connection, tx);

        var recorded = new Dictionary<(string, string), string>();
        if (names.Contains(PostgresSchema.ColumnsTable))
        {
            using var cmd = new NpgsqlCommand("SELECT tbl, col, definition FROM " + PostgresSchema.ColumnsTable, connection, tx);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                recorded[(r.GetString(0), r.GetString(1))] = r.GetString(2);
            }
        }

        var known = recorded.Keys.Select(k => k.Item1).ToHashSet(StringComparer.Ordinal);
        var tables = new List<LiveTable>();
        foreach (var name in names)
        {
            if (LiveSchema.IsInternal(name) || (!known.Contains(name) && !model.TablesByName.ContainsKey(name)))
            {
                continue;
            }

            model.TablesByName.TryGetValue(name, out var configured);
            tables.Add(new LiveTable(name, null, ReadColumns(connection, tx, name, configured, recorded), [], null));
        }

        return LiveSchema.Create(tables, names.ToHashSet(StringComparer.OrdinalIgnoreCase), names.Contains(ChangeJournal.TableName));
    }

    private static List<LiveColumn> ReadColumns(NpgsqlConnection connection, NpgsqlTransaction? tx, string table, TableModel? configured, Dictionary<(string, string), string> recorded)
    {
        const string sql = "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), "
            + "COALESCE(array_position(ARRAY(SELECT unnest(i.indkey::int2[])), a.attnum), 0) "
            + "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            + "LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary "
            + "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
        var columns = new List<LiveColumn>();
        using var cmd = new NpgsqlCommand(sql, connection, tx);
        cmd.Parameters.Add(new NpgsqlParameter { Value = Sql.Quoted(table) });
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var name = r.GetString(0);
            var pgType = r.GetString(1);
            string declared;
            if (recorded.TryGetValue((table, name), out var definition))
            {
                declared = definition.ToUpperInvariant();
            }
            else if (configured?.Find(name) is { } c && SameBaseType(BaseType(PostgresColumnMapper.Map(c.Definition)), pgType))
            {
                declared = c.Definition.ToUpperInvariant();
            }
            else
            {
                declared = SqliteType(pgType);
            }

            columns.Add(new LiveColumn(name, declared, r.GetBoolean(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetInt32(4)));
        }

        return columns;
    }

    private static bool SameBaseType(string mapped, string pgType) =>
        string.Equals(mapped.Split('(')[0].Trim(), pgType.Split('(')[0].Trim(), StringComparison.OrdinalIgnoreCase);

    /// <summary>A SQLite name for a PostgreSQL type (columns mkio has no definition of).</summary>
    private static string SqliteType(string pgType) => pgType.Split('(')[0].Trim().ToLowerInvariant() switch
    {
        "bigint" or "integer" or "smallint" => "INTEGER",
        "text" or "character varying" or "character" => "TEXT",
        "double precision" or "real" => "REAL",
        "numeric" => "NUMERIC",
        "bytea" => "BLOB",
        var other => other.ToUpperInvariant(),
    };

    /// <summary>The type of a mapped definition, without identity and constraints (<c>NUMERIC(10, 2) NOT NULL</c> → <c>NUMERIC(10, 2)</c>).</summary>
    internal static string BaseType(string mapped) => mapped[..ClauseStart(mapped, 0, includeDefault: true)].Trim();

    /// <summary>The default expression of a mapped definition, or null.</summary>
    internal static string? DefaultOf(string mapped)
    {
        var at = IndexOutside(mapped, " DEFAULT ", 0);
        if (at < 0)
        {
            return null;
        }

        var start = at + " DEFAULT ".Length;
        return mapped[start..ClauseStart(mapped, start, includeDefault: false)].Trim();
    }

    private static int ClauseStart(string mapped, int from, bool includeDefault)
    {
        var end = mapped.Length;
        foreach (var word in ConstraintWords)
        {
            if (!includeDefault && word == " DEFAULT ")
            {
                continue;
            }

            var at = IndexOutside(mapped, word, from);
            if (at >= 0 && at < end)
            {
                end = at;
            }
        }

        return end;
    }

    /// <summary>The first index of <paramref name="word"/> (case-insensitive) outside quotes and parentheses, or -1.</summary>
    private static int IndexOutside(string text, string word, int from)
    {
        var depth = 0;
        var quoted = false;
        for (var i = from; i < text.Length; i++)
        {
            var ch = text[i];
            if (ch == '\'')
            {
                quoted = !quoted;
            }
            else if (!quoted && ch == '(')
            {
                depth++;
            }
            else if (!quoted && ch == ')')
            {
                depth--;
            }
            else if (!quoted && depth == 0 && string.Compare(text, i, word, 0, word.Length, StringComparison.OrdinalIgnoreCase) == 0)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// The statements that make the database match the configuration, per table in config order, then the drops:
    /// <c>CREATE TABLE</c>; <c>ADD COLUMN</c>; <c>DROP COLUMN</c>; a type change as <c>ALTER COLUMN … TYPE … USING</c>
    /// with the new default and NOT NULL; a key change drops the old key, removes rows that collide under the new one
    /// (keeping the first stored) and adds it.
    /// </summary>
    public static List<MigrationStep> Steps(SchemaDiff diff)
    {
        var steps = new List<MigrationStep>();
        foreach (var table in diff.Tables)
        {
            var t = table.Name;
            var changes = diff.Changes.Where(c => c.Kind != ChangeKind.RemoveTable && string.Equals(c.Table, t, StringComparison.Ordinal)).ToList();
            if (changes.Count == 0)
            {
                continue;
            }

            if (changes.Any(c => c.Kind == ChangeKind.CreateTable))
            {
                steps.Add(new MigrationStep(t, PostgresSchema.CreateTableSql(table)));
                continue;
            }

            var live = diff.Live.Find(t)!;
            var keyChange = changes.Any(c => c.Kind == ChangeKind.ChangePrimaryKey);
            var keyAdded = false;
            if (keyChange && live.PrimaryKey.Any())
            {
                steps.Add(new MigrationStep(t, $"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {t}_pkey"));
            }

            foreach (var c in changes)
            {
                var column = c.Column is null ? null : table.Find(c.Column);
                switch (c.Kind)
                {
                    case ChangeKind.AddColumn:
                        var mapped = PostgresColumnMapper.Map(column!.Definition);
                        keyAdded |= column.PrimaryKey && table.TableKey is null;
                        steps.Add(new MigrationStep(t, $"ALTER TABLE {t} ADD COLUMN {column.Name} {mapped}"));
                        break;
                    case ChangeKind.RemoveColumn:
                        steps.Add(new MigrationStep(t, $"ALTER TABLE {t} DROP COLUMN {Sql.Identifier(c.Column!)}"));
                        break;
                    case ChangeKind.ChangeType:
                        var map = PostgresColumnMapper.Map(column!.Definition);
                        var type = BaseType(map);
                        if (live.Find(column.Name)?.Default is not null)
                        {
                            steps.Add(new MigrationStep(t, $"ALTER TABLE {t} ALTER COLUMN {column.Name} DROP DEFAULT"));
                        }

                        steps.Add(new MigrationStep(t, $"ALTER TABLE {t} ALTER COLUMN {column.Name} TYPE {type} USING {column.Name}::{type}"));
                        if (DefaultOf(map) is { } dflt)
                        {
                            steps.Add(new MigrationStep(t, $"ALTER TABLE {t} ALTER COLUMN {column.Name} SET DEFAULT {dflt}"));
                        }

                        if (!column.PrimaryKey)
                        {
                            steps.Add(new MigrationStep(t, $"ALTER TABLE {t} ALTER COLUMN {column.Name} {(column.NotNull ? "SET" : "DROP")} NOT NULL"));
                        }

                        break;
                }
            }

            if (keyChange && !keyAdded)
            {
                var key = table.PrimaryKey.Select(k => k.Name).ToArray();
                var same = string.Join(" AND ", key.Select(k => $"a.{k} = b.{k}"));
                steps.Add(new MigrationStep(t, $"DELETE FROM {t} a USING {t} b WHERE {same} AND a.ctid > b.ctid", StepKind.DeduplicatingCopy));
                steps.Add(new MigrationStep(t, $"ALTER TABLE {t} ADD PRIMARY KEY ({string.Join(", ", key)})"));
            }
        }

        foreach (var c in diff.Changes.Where(c => c.Kind == ChangeKind.RemoveTable))
        {
            steps.Add(new MigrationStep(c.Table, $"DROP TABLE {Sql.Identifier(c.Table)}"));
        }

        return steps;
    }

    /// <summary>Runs <paramref name="steps"/> in <paramref name="tx"/>; returns the rows removed as duplicates under a new key.</summary>
    public static long Apply(NpgsqlConnection connection, NpgsqlTransaction tx, List<MigrationStep> steps)
    {
        long deduplicated = 0;
        foreach (var step in steps)
        {
            using var cmd = new NpgsqlCommand(step.Sql, connection, tx);
            var n = cmd.ExecuteNonQuery();
            if (step.Kind == StepKind.DeduplicatingCopy)
            {
                deduplicated += n;
            }
        }

        return deduplicated;
    }

    /// <summary>The numbered steps, as <c>mkio dbupdate --dry-run</c> prints them.</summary>
    public static string Describe(List<MigrationStep> steps)
    {
        var sb = new StringBuilder("  SQL steps (one transaction):");
        for (var i = 0; i < steps.Count; i++)
        {
            sb.Append(Environment.NewLine).Append(CultureInfo.InvariantCulture, $"    {i + 1,3}. {steps[i].Sql}");
        }

        return sb.ToString();
    }

    /// <summary>
    /// <c>mkio dbupdate</c>'s history maintenance (as <see cref="HistoryMaintenance"/> on SQLite): redo state discarded
    /// unless <paramref name="keepRedo"/>; with <paramref name="dropHistory"/>, history of tables no longer versioned dropped.
    /// </summary>
    public static List<string> MaintainHistory(NpgsqlConnection connection, NpgsqlTransaction tx, MkioModel model, bool dropHistory, bool keepRedo)
    {
        var lines = new List<string>();
        int Exec(string sql)
        {
            using var cmd = new NpgsqlCommand(sql, connection, tx);
            return cmd.ExecuteNonQuery();
        }

        if (!keepRedo)
        {
            foreach (var table in model.Tables.Where(t => t.Versioned))
            {
                var (h, t, pk, v) = (table.History!.Name, table.Name, VersionedSchema.KeyJoin(table, table.Name, table.History!.Name), VersionedSchema.VersionColumn);
                var orphans = Exec($"DELETE FROM {h} WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {pk})");
                var above = Exec($"DELETE FROM {h} WHERE {v} > (SELECT {t}.{v} FROM {t} WHERE {pk})");
                if (orphans + above > 0)
                {
                    lines.Add(string.Create(CultureInfo.InvariantCulture,
                        $"  Discarded redo history from {h}: {above} undone version(s), {orphans} version(s) of rows undone past their first version"));
                }
            }

            if (lines.Count > 0)
            {
                lines.Add(HistoryMaintenance.NoLongerRedoable);
            }
        }

        if (dropHistory)
        {
            var keep = model.Tables.Where(t => t.Versioned).Select(t => t.History!.Name).ToHashSet(StringComparer.Ordinal);
            var existing = new List<string>();
            using (var cmd = new NpgsqlCommand("SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace AND relname LIKE '%\\_\\_history' ORDER BY relname", connection, tx))
            using (var r = cmd.ExecuteReader())
            {
                while (r.Read())
                {
                    existing.Add(r.GetString(0));
                }
            }

            foreach (var name in existing.Where(n => !keep.Contains(n)))
            {
                Exec($"DROP TABLE {Sql.Quoted(name)}");
                lines.Add($"  Dropped history table {name}");
            }
        }

        return lines;
    }
}
