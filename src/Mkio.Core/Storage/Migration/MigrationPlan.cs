using System.Text;
using System.Text.RegularExpressions;
using Mkio.Model;

namespace Mkio.Storage.Migration;

/// <summary>How <see cref="Migrator"/> runs a step.</summary>
internal enum StepKind
{
    /// <summary>Run the statement.</summary>
    Execute,

    /// <summary>The row copy of a primary-key change: rows colliding under the new key are skipped and counted.</summary>
    DeduplicatingCopy,
}

/// <summary>One SQL statement of a migration.</summary>
/// <param name="Table">The table it belongs to.</param>
/// <param name="Sql">The statement.</param>
/// <param name="Kind">How it runs.</param>
internal sealed record MigrationStep(string Table, string Sql, StepKind Kind = StepKind.Execute)
{
    /// <summary>For <see cref="StepKind.DeduplicatingCopy"/>: the renamed source table.</summary>
    public string? SourceTable { get; init; }
}

/// <summary>
/// The statements that make the database match the config (SERVICES.md §15.3 with fix F5): per
/// configured table, in config order, either <c>CREATE TABLE</c>, plain <c>ALTER TABLE … ADD COLUMN</c>s,
/// or exactly one rebuild covering every change of that table; then <c>DROP TABLE</c> for tables
/// no longer configured. A rebuild is used whenever some change needs it or some added column is
/// one <c>ALTER TABLE ADD COLUMN</c> cannot add (NOT NULL without a usable default, PRIMARY KEY,
/// UNIQUE, a non-constant or parenthesised default, a stored generated column). A rebuild keeps
/// every row that converts, in rowid order with the same rowids, their <c>_mkio_ref</c> values, the
/// AUTOINCREMENT counter and the explicit indexes whose columns survive.
/// </summary>
internal sealed partial class MigrationPlan
{
    private MigrationPlan(SchemaDiff diff, IReadOnlyList<MigrationStep> steps, IReadOnlyList<string> rebuiltTables)
    {
        Diff = diff;
        Steps = steps;
        RebuiltTables = rebuiltTables;
    }

    public SchemaDiff Diff { get; }

    /// <summary>The statements, in execution order.</summary>
    public IReadOnlyList<MigrationStep> Steps { get; }

    /// <summary>Tables the plan rebuilds (each exactly once).</summary>
    public IReadOnlyList<string> RebuiltTables { get; }

    public IReadOnlyList<SchemaChange> Changes => Diff.Changes;

    public static MigrationPlan Create(SchemaDiff diff)
    {
        var steps = new List<MigrationStep>();
        var rebuilt = new List<string>();
        var taken = new HashSet<string>(diff.Live.ObjectNames, StringComparer.OrdinalIgnoreCase);
        taken.UnionWith(diff.Tables.Select(t => t.Name));
        foreach (var table in diff.Tables)
        {
            var changes = diff.Changes.Where(c => c.Kind != ChangeKind.RemoveTable && string.Equals(c.Table, table.Name, StringComparison.Ordinal)).ToList();
            if (changes.Count == 0)
            {
                continue;
            }

            if (changes.Any(c => c.Kind == ChangeKind.CreateTable))
            {
                steps.Add(new MigrationStep(table.Name, SchemaManager.CreateTableSql(table)));
                continue;
            }

            var live = diff.Live.Find(table.Name)!;
            var rebuild = changes.Any(c => c.NeedsRecreate || (c.Kind == ChangeKind.AddColumn && !CanAlterAdd(table.Find(c.Column!)!)));
            if (rebuild)
            {
                rebuilt.Add(table.Name);
                AddRebuild(steps, table, live, changes, taken);
            }
            else
            {
                foreach (var c in changes)
                {
                    var column = table.Find(c.Column!)!;
                    steps.Add(new MigrationStep(table.Name, $"ALTER TABLE {table.Name} ADD COLUMN {column.Name} {column.Definition}"));
                }
            }
        }

        var highWaterSaved = false;
        foreach (var c in diff.Changes.Where(c => c.Kind == ChangeKind.RemoveTable))
        {
            steps.Add(new MigrationStep(c.Table, $"DROP TABLE {Sql.Identifier(c.Table)}"));
            if (diff.Live.HasJournal)
            {
                if (!highWaterSaved)
                {
                    // The deleted entries may include the newest: the high-water mark keeps the next
                    // commit sequence above every one already handed out.
                    steps.Add(new MigrationStep(c.Table, ChangeJournal.CreateStateSql));
                    steps.Add(new MigrationStep(c.Table, ChangeJournal.SaveHighWaterSql));
                    highWaterSaved = true;
                }

                // Journal entries of a dropped table must not resurface if a table of that name comes back
                // (SQLite keeps them in per-batch records; PostgreSQL and older SQLite journals one row per change).
                var journal = diff.Live.ObjectNames.Contains(ChangeJournal.BatchTableName) ? ChangeJournal.BatchTableName : ChangeJournal.TableName;
                steps.Add(new MigrationStep(c.Table, $"DELETE FROM {journal} WHERE tbl = {Sql.Literal(c.Table)}"));
            }
        }

        return new MigrationPlan(diff, steps, rebuilt);
    }

    /// <summary>
    /// Whether <c>ALTER TABLE ADD COLUMN</c> can add <paramref name="column"/> to a table with rows
    /// (sqlite.org/lang_altertable.html): no PRIMARY KEY or UNIQUE, no CURRENT_* or parenthesised
    /// default, NOT NULL only with a non-NULL default, no STORED generated column.
    /// </summary>
    public static bool CanAlterAdd(ColumnInfo column)
    {
        var words = column.Definition.ToUpperInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (column.PrimaryKey || words.Contains("UNIQUE") || words.Contains("STORED"))
        {
            return false;
        }

        var first = column.Default?.Split(' ', 2)[0];
        if (first is not null && (first.StartsWith('(') || SchemaDiff.IsNonConstantDefault(first)))
        {
            return false;
        }

        // "DEFAULT(x)" without a space is one word: it is still an expression default.
        if (words.Any(w => w.StartsWith("DEFAULT(", StringComparison.Ordinal)))
        {
            return false;
        }

        return !column.NotNull || (first is not null && !string.Equals(first, "NULL", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>A generated column: <c>[GENERATED ALWAYS] AS (expr) [VIRTUAL|STORED]</c>.</summary>
    public static bool IsGenerated(ColumnInfo column) => GeneratedClause().IsMatch(column.Definition);

    [GeneratedRegex(@"\bAS\s*\(", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex GeneratedClause();

    private static void AddRebuild(List<MigrationStep> steps, TableModel table, LiveTable live, List<SchemaChange> changes, HashSet<string> taken)
    {
        var t = table.Name;
        var old = t + "_old";
        for (var i = 2; taken.Contains(old); i++)
        {
            old = $"{t}_old{i}";
        }

        taken.Add(old);
        steps.Add(new MigrationStep(t, $"ALTER TABLE {t} RENAME TO {old}"));

        var extra = new StringBuilder();
        extra.Append(", ").Append(MkioSchema.RefColumn).Append(" TEXT DEFAULT ''");
        if (live.HasVersionColumn || table.Versioned)
        {
            // A versioned table's cursor survives the rebuild (its history is keyed by it).
            extra.Append(", ").Append(Versioning.VersionedSchema.VersionColumn).Append(" INTEGER NOT NULL DEFAULT 1");
        }

        steps.Add(new MigrationStep(t, SchemaManager.CreateTableSql(table, ifNotExists: false, extra.ToString())));

        // Columns present on both sides, sorted by name as the reference does, then what F5 carries over.
        // Generated columns of the new table compute their own values and cannot be inserted into.
        var shared = table.Columns.Where(c => live.Find(c.Name) is not null && !IsGenerated(c)).Select(c => c.Name).Order(StringComparer.Ordinal).ToList();
        var targets = new List<string>(shared);
        var sources = new List<string>(shared);
        if (live.HasRefColumn)
        {
            targets.Add(MkioSchema.RefColumn);
            sources.Add(live.Find(MkioSchema.RefColumn)!.Name);
        }

        if (live.HasVersionColumn)
        {
            targets.Add(Versioning.VersionedSchema.VersionColumn);
            sources.Add(live.Find(Versioning.VersionedSchema.VersionColumn)!.Name);
        }

        if (live.HasRowId)
        {
            // Keep rowids (stream buffers and resume are seeded in rowid order): into the rowid, or
            // into a new INTEGER PRIMARY KEY column, which is the rowid; a kept one keeps its values.
            var alias = table.Columns.FirstOrDefault(c => c.IsRowIdAlias);
            if (alias is null)
            {
                targets.Insert(0, "rowid");
                sources.Insert(0, "rowid");
            }
            else if (!shared.Contains(alias.Name))
            {
                targets.Insert(0, alias.Name);
                sources.Insert(0, "rowid");
            }
        }

        if (targets.Count > 0)
        {
            var order = live.HasRowId ? " ORDER BY rowid" : string.Empty;
            var insert = $"INSERT INTO {t} ({string.Join(", ", targets)}) SELECT {string.Join(", ", sources)} FROM {old}";
            steps.Add(changes.Any(c => c.Kind == ChangeKind.ChangePrimaryKey)
                ? new MigrationStep(t, $"{insert} WHERE true{order} ON CONFLICT DO NOTHING", StepKind.DeduplicatingCopy) { SourceTable = old }
                : new MigrationStep(t, insert + order));
        }

        if (live.AutoIncrementSequence is not null && table.Columns.Any(c => c.AutoIncrement))
        {
            // Carry the AUTOINCREMENT counter over, so ids of deleted rows are never reused.
            steps.Add(new MigrationStep(t, $"INSERT INTO sqlite_sequence (name, seq) SELECT '{t}', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = '{t}')"));
            steps.Add(new MigrationStep(t, $"UPDATE sqlite_sequence SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{old}'), 0)) WHERE name = '{t}'"));
        }

        steps.Add(new MigrationStep(t, $"DROP TABLE {old}"));

        // Explicit indexes (the _mkio_ref index included) come back when all their columns still exist.
        foreach (var index in live.Indexes)
        {
            if (index.Columns is { } cols && cols.All(c => LiveTable.IsRefColumn(c) || table.Columns.Any(x => string.Equals(x.Name, c, StringComparison.OrdinalIgnoreCase))))
            {
                steps.Add(new MigrationStep(t, index.Sql));
            }
        }
    }
}
