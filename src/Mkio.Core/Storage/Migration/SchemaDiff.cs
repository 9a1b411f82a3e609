using Microsoft.Data.Sqlite;
using Mkio.Model;

namespace Mkio.Storage.Migration;

/// <summary>
/// Compares the live schema with the configured tables and lists the differences in the
/// reference's order, with its descriptions, levels and impacts (SERVICES.md §15.3). The
/// <c>_mkio_ref</c> column and mkio's internal tables are invisible to it.
/// </summary>
internal sealed class SchemaDiff
{
    /// <summary>Description of every new table.</summary>
    public const string CreateTableDescription = "Create new table";

    /// <summary>Impact of every column add (except NOT NULL without default).</summary>
    public const string AddImpact = "None — existing rows get default/NULL";

    private SchemaDiff(LiveSchema live, IReadOnlyList<TableModel> tables, IReadOnlyList<SchemaChange> changes)
    {
        Live = live;
        Tables = tables;
        Changes = changes;
    }

    /// <summary>The schema the diff was computed from.</summary>
    public LiveSchema Live { get; }

    /// <summary>The configured tables, in config order.</summary>
    public IReadOnlyList<TableModel> Tables { get; }

    /// <summary>The changes, in diff order.</summary>
    public IReadOnlyList<SchemaChange> Changes { get; }

    public bool IsEmpty => Changes.Count == 0;

    /// <summary>True when every change is safe (applied without asking).</summary>
    public bool OnlySafe => Changes.All(c => c.Level == ChangeLevel.Safe);

    /// <summary>The most severe level among the changes.</summary>
    public ChangeLevel MaxLevel => Changes.Count == 0 ? ChangeLevel.Safe : Changes.Max(c => c.Level);

    /// <summary>Reads the schema of <paramref name="connection"/> and diffs it (row counts of removed tables included).</summary>
    public static SchemaDiff Compute(SqliteConnection connection, IReadOnlyList<TableModel> tables)
    {
        var live = LiveSchema.Read(connection);
        return Compute(live, tables, t => LiveSchema.CountRows(connection, t));
    }

    /// <summary>Diffs <paramref name="live"/> against <paramref name="tables"/>.</summary>
    public static SchemaDiff Compute(LiveSchema live, IReadOnlyList<TableModel> tables, Func<string, long>? countRows = null)
    {
        var changes = new List<SchemaChange>();
        foreach (var table in tables)
        {
            var existing = live.Find(table.Name);
            if (existing is null)
            {
                changes.Add(new SchemaChange(table.Name, ChangeKind.CreateTable, CreateTableDescription, ChangeLevel.Safe, "None — new table", NeedsRecreate: false));
                continue;
            }

            DiffTable(table, existing, changes);
        }

        foreach (var existing in live.Tables)
        {
            if (!tables.Any(t => string.Equals(t.Name, existing.Name, StringComparison.OrdinalIgnoreCase)))
            {
                changes.Add(new SchemaChange(existing.Name, ChangeKind.RemoveTable, "Remove table", ChangeLevel.Destructive, "All data in table will be lost", NeedsRecreate: false)
                {
                    RowCount = countRows?.Invoke(existing.Name) ?? 0,
                });
            }
        }

        return new SchemaDiff(live, tables, changes);
    }

    /// <summary>
    /// True for a default the reference treats as non-constant: upper-cased and stripped of
    /// surrounding quotes, one of <c>CURRENT_TIMESTAMP</c>, <c>CURRENT_DATE</c>, <c>CURRENT_TIME</c>.
    /// </summary>
    public static bool IsNonConstantDefault(string? dflt) =>
        dflt is not null && dflt.ToUpperInvariant().Trim('\'', '"') is "CURRENT_TIMESTAMP" or "CURRENT_DATE" or "CURRENT_TIME";

    private static void DiffTable(TableModel table, LiveTable existing, List<SchemaChange> changes)
    {
        var t = table.Name;
        var liveColumns = existing.UserColumns.ToList();

        // 1. Columns in the config but not in the database.
        foreach (var c in table.Columns)
        {
            if (existing.Find(c.Name) is not null)
            {
                continue;
            }

            if (c.NotNull && c.Default is null && !c.PrimaryKey)
            {
                changes.Add(new SchemaChange(t, ChangeKind.AddColumn, $"Add NOT NULL column \"{c.Name}\" without default", ChangeLevel.PotentiallyDestructive,
                    "Existing rows cannot satisfy NOT NULL constraint — requires table recreate", NeedsRecreate: true, c.Name));
            }
            else if (IsNonConstantDefault(c.Default))
            {
                changes.Add(new SchemaChange(t, ChangeKind.AddColumn, $"Add column \"{c.Name}\" (non-constant default)", ChangeLevel.Safe, AddImpact, NeedsRecreate: true, c.Name));
            }
            else
            {
                changes.Add(new SchemaChange(t, ChangeKind.AddColumn, $"Add column \"{c.Name}\"", ChangeLevel.Safe, AddImpact, NeedsRecreate: false, c.Name));
            }
        }

        // 2. Columns in the database but not in the config.
        foreach (var l in liveColumns)
        {
            if (table.Columns.All(c => !string.Equals(c.Name, l.Name, StringComparison.OrdinalIgnoreCase)))
            {
                changes.Add(new SchemaChange(t, ChangeKind.RemoveColumn, $"Remove column \"{l.Name}\"", ChangeLevel.Destructive,
                    $"Data in column \"{l.Name}\" will be lost", NeedsRecreate: true, l.Name));
            }
        }

        // 3. Declared type changes.
        foreach (var c in table.Columns)
        {
            if (existing.Find(c.Name) is { } l && !LiveTable.IsRefColumn(l.Name) && !string.Equals(l.Type, c.Type, StringComparison.Ordinal))
            {
                changes.Add(new SchemaChange(t, ChangeKind.ChangeType, $"Change column \"{c.Name}\" type from {l.Type} to {c.Type}", ChangeLevel.PotentiallyDestructive,
                    "Values may not convert cleanly", NeedsRecreate: true, c.Name));
            }
        }

        // 4. Primary key changes (only when both sides have one — or, ours, when a table-level primary_key is added to a
        // table without a key: silently keeping it keyless would break the new key's uniqueness).
        var oldPk = existing.PrimaryKey.Select(c => c.Name).ToList();
        var newPk = table.PrimaryKey.Select(c => c.Name).ToList();
        if ((oldPk.Count > 0 || table.TableKey is not null) && newPk.Count > 0 && !oldPk.SequenceEqual(newPk, StringComparer.OrdinalIgnoreCase))
        {
            changes.Add(new SchemaChange(t, ChangeKind.ChangePrimaryKey, $"Change primary key {PyList(oldPk)} → {PyList(newPk)}", ChangeLevel.PotentiallyDestructive,
                "Duplicate rows under new PK may be dropped", NeedsRecreate: true));
        }
    }

    /// <summary>A Python list of strings as <c>repr</c> prints it: <c>['id', 'symbol']</c>.</summary>
    private static string PyList(IEnumerable<string> items) => "[" + string.Join(", ", items.Select(Protocol.PyRepr.OfString)) + "]";
}
