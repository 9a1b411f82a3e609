namespace Mkio.Model;

/// <summary>The table-level <c>primary_key = [cols]</c> (a possibly composite key).</summary>
internal sealed partial class ModelCompiler
{
    /// <summary>
    /// Validates <c>primary_key</c> and marks its columns in <paramref name="cols"/> (replaced in place); returns the key's
    /// column names in key order, or null when the table has none (or it is invalid: the error is recorded).
    /// </summary>
    private string[]? CompilePrimaryKey(MkioTableOptions t, string path, List<ColumnInfo> cols)
    {
        if (t.PrimaryKey is not { } key)
        {
            return null;
        }

        var kpath = $"{path}.primary_key";
        if (key.Count == 0)
        {
            Error(kpath, $"'primary_key' of table '{t.Name}' must name at least one column.");
            return null;
        }

        var ok = true;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in key)
        {
            if (!seen.Add(name))
            {
                Error(kpath, $"'primary_key' of table '{t.Name}' names column '{name}' twice.");
                ok = false;
            }
            else if (cols.Find(c => c.Name == name) is null)
            {
                Error(kpath, $"table '{t.Name}' has no column '{name}' for its primary_key{Suggest(name, cols.Select(c => c.Name))}.");
                ok = false;
            }
        }

        foreach (var c in cols.Where(c => c.PrimaryKey))
        {
            Error($"{path}.columns.{c.Name}", $"table '{t.Name}' has 'primary_key' and column '{c.Name}' declares PRIMARY KEY too; use one of them.");
            ok = false;
        }

        if (!ok)
        {
            return null;
        }

        var composite = key.Count > 1;
        for (var i = 0; i < cols.Count; i++)
        {
            if (seen.Contains(cols[i].Name))
            {
                cols[i] = new ColumnInfo(cols[i].Name, cols[i].Definition, tableKey: true, compositeKey: composite);
            }
        }

        return [.. key];
    }
}
