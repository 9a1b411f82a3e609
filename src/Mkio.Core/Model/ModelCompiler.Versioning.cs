using System.Collections.Frozen;
using Mkio.Versioning;

namespace Mkio.Model;

/// <summary>Rules of versioned tables (<c>versioned</c>, <c>unversioned</c>, the <c>undo</c>/<c>redo</c> op types).</summary>
internal sealed partial class ModelCompiler
{
    /// <summary>The table model, with its history table when <c>versioned = true</c> (and the table is valid for it).</summary>
    private TableModel CompileVersioning(MkioTableOptions t, string path, List<ColumnInfo> cols, string[]? tableKey)
    {
        if (!t.Versioned)
        {
            if (t.Unversioned.Count > 0)
            {
                Error($"{path}.unversioned", $"'unversioned' needs 'versioned = true' on table '{t.Name}'.");
            }

            return new TableModel(t.Name, cols, t.AppendOnly, tableKey);
        }

        var ok = true;
        if (!cols.Any(c => c.PrimaryKey))
        {
            Error($"{path}.versioned", $"versioned table '{t.Name}' needs a primary key (a column declared PRIMARY KEY, or 'primary_key = [columns]').");
            ok = false;
        }

        foreach (var u in t.Unversioned)
        {
            var col = cols.Find(c => c.Name == u);
            if (col is null)
            {
                Error($"{path}.unversioned", $"table '{t.Name}' has no column '{u}'{Suggest(u, cols.Select(c => c.Name))}.");
                ok = false;
            }
            else if (col.PrimaryKey)
            {
                Error($"{path}.unversioned", $"the primary key '{u}' of table '{t.Name}' is always recorded.");
                ok = false;
            }
        }

        if (!ok)
        {
            return new TableModel(t.Name, cols, t.AppendOnly, tableKey);
        }

        var recorded = cols.Where(c => !t.Unversioned.Contains(c.Name)).ToArray();
        var table = new TableModel(t.Name, cols, t.AppendOnly, tableKey) { Recorded = recorded };
        table.History = new TableModel(VersionedSchema.HistoryName(t.Name), VersionedSchema.HistoryColumns(recorded), appendOnly: false) { HistoryOf = table };
        return table;
    }

    /// <summary><c>undo</c>/<c>redo</c> ops: a versioned table, addressed by its primary key, no fields.</summary>
    private bool CheckUndoRedo(MkioOpOptions o, string path, TableModel table)
    {
        if (!table.Versioned)
        {
            Error($"{path}.op_type", $"'{o.OpType}' needs a versioned table; table '{table.Name}' is not versioned.");
            return false;
        }

        var pk = table.PrimaryKey.Select(c => c.Name).ToArray();
        if (!o.Key.SequenceEqual(pk, StringComparer.Ordinal))
        {
            Error($"{path}.key", $"an {o.OpType} op needs 'key' = the primary key of '{table.Name}' ([{string.Join(", ", pk)}]).");
            return false;
        }

        if (o.Defaults.Count > 0 || o.Bind.Keys.Any(k => !pk.Contains(k)))
        {
            Error(path, $"an {o.OpType} op takes only its key.");
            return false;
        }

        return true;
    }

    /// <summary>History tables some listener or custom service follows publish their changes (<see cref="TableModel.Watched"/>).</summary>
    private static void MarkWatchedHistory(List<ServiceModel> services, FrozenDictionary<string, TableModel> tables)
    {
        foreach (var s in services)
        {
            var watched = s switch
            {
                ListenerServiceModel l => l.WatchTables,
                CustomServiceModel c => c.WatchTables,
                _ => [],
            };
            foreach (var name in watched)
            {
                if (tables.TryGetValue(name, out var t) && t.HistoryOf is not null)
                {
                    t.Watched = true;
                }
            }
        }
    }

    /// <summary>The error for a <c>&lt;t&gt;__history</c> name that is not a history table, or null for other names.</summary>
    private static string? HistoryTableError(string name, FrozenDictionary<string, TableModel> tables)
    {
        if (!name.EndsWith(VersionedSchema.HistorySuffix, StringComparison.Ordinal))
        {
            return null;
        }

        var baseName = name[..^VersionedSchema.HistorySuffix.Length];
        return tables.ContainsKey(baseName) ? $"table '{baseName}' is not versioned" : $"no table '{baseName}'";
    }
}
