namespace Mkio.Model;

/// <summary>Rules of a table's row archive (<c>archive = {cutoff, format, group, with}</c>).</summary>
internal sealed partial class ModelCompiler
{
    /// <summary>The group name that <c>mkio archive --all</c> stands for, refused as a <c>group</c>.</summary>
    public const string AllGroup = "all";

    private void CheckArchives(List<TableModel> tables)
    {
        var byName = tables.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var t in _options.Tables)
        {
            if (t.Archive is not { } a || !byName.TryGetValue(t.Name, out var table))
            {
                continue;
            }

            var path = $"tables.{t.Name}.archive";
            if (table.PrimaryKey.Length == 0)
            {
                Error(path, $"archived table '{t.Name}' needs a primary key (a column declared PRIMARY KEY).");
                continue;
            }

            if (table.PrimaryKey.Length > 1)
            {
                Error(path, $"row-mode archive does not support the composite primary key of table '{t.Name}' ({string.Join(", ", table.PrimaryKey.Select(c => c.Name))}).");
                continue;
            }

            if (a.Cutoff is not null && !table.Columns.Any(c => c.Name == a.Cutoff))
            {
                Error($"{path}.cutoff", $"table '{t.Name}' has no column '{a.Cutoff}'{Suggest(a.Cutoff, table.Columns.Select(c => c.Name))}.");
            }

            if (string.IsNullOrWhiteSpace(a.Group) || a.Group == AllGroup)
            {
                Error($"{path}.group", $"'{a.Group}' cannot be a group name (--all selects every archived table).");
            }

            if (string.IsNullOrEmpty(a.Format))
            {
                Error($"{path}.format", "must not be empty.");
            }

            var key = table.PrimaryKey[0].Name;
            foreach (var w in a.With)
            {
                if (!byName.TryGetValue(w, out var companion))
                {
                    Error($"{path}.with", $"unknown table '{w}'{Suggest(w, byName.Keys)}.");
                }
                else if (w == t.Name)
                {
                    Error($"{path}.with", $"table '{w}' cannot be its own companion.");
                }
                else if (!companion.Columns.Any(c => c.Name == key))
                {
                    Error($"{path}.with", $"companion table '{w}' has no column '{key}' (the key of '{t.Name}').");
                }
            }
        }
    }
}
