namespace Mkio.Model;

/// <summary>
/// A configured column with the facts CONFIG.md §3.2 derives from its definition string:
/// type = first word upper-cased; NOT NULL when both words occur (or primary key); primary key
/// when both PRIMARY and KEY occur; default = original-case words after the first DEFAULT.
/// </summary>
internal sealed class ColumnInfo
{
    /// <param name="name">The column name.</param>
    /// <param name="definition">Its definition string.</param>
    /// <param name="tableKey">A column of the table-level <c>primary_key</c>.</param>
    /// <param name="compositeKey">That key has several columns (so an <c>INTEGER</c> one is no rowid alias).</param>
    public ColumnInfo(string name, string definition, bool tableKey = false, bool compositeKey = false)
    {
        CompositeKey = compositeKey;
        Name = name;
        Definition = definition;
        var words = definition.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var upper = words.Select(w => w.ToUpperInvariant()).ToArray();
        Type = upper.Length > 0 ? upper[0] : string.Empty;
        PrimaryKey = tableKey || (upper.Contains("PRIMARY") && upper.Contains("KEY"));
        NotNull = (upper.Contains("NOT") && upper.Contains("NULL")) || PrimaryKey;
        var d = Array.IndexOf(upper, "DEFAULT");
        Default = d >= 0 && d + 1 < words.Length ? string.Join(' ', words[(d + 1)..]) : null;
        AutoIncrement = PrimaryKey && definition.Contains("AUTOINCREMENT", StringComparison.OrdinalIgnoreCase);
    }

    public string Name { get; }

    public string Definition { get; }

    /// <summary>Declared type: the first word, upper-cased (<c>DECIMAL(10,</c> for <c>DECIMAL(10, 2)</c>).</summary>
    public string Type { get; }

    public bool NotNull { get; }

    public bool PrimaryKey { get; }

    /// <summary>The default's original-case text (<c>'pending'</c>, <c>0</c>), or null.</summary>
    public string? Default { get; }

    public bool AutoIncrement { get; }

    /// <summary>Part of a composite table-level primary key.</summary>
    public bool CompositeKey { get; }

    /// <summary>An <c>INTEGER PRIMARY KEY</c>: SQLite assigns it (rowid alias).</summary>
    public bool IsRowIdAlias => PrimaryKey && !CompositeKey && Type == "INTEGER";

    /// <summary>
    /// Whether a non-key field of an op may be omitted (descriptor <c>required: false</c>, fixes F14/F16):
    /// it has a SQL default, or is nullable, or SQLite assigns it.
    /// </summary>
    public bool Optional => Default is not null || IsRowIdAlias || (!NotNull && !PrimaryKey);
}
