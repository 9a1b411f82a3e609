using Mkio.Model;

namespace Mkio.Versioning;

/// <summary>What the <c>_mkio</c> identity service adds when tables are versioned (LATER.md §4, protocol level 1.1).</summary>
internal static class VersionedIdentity
{
    /// <summary>The protocol level of a server with versioned tables.</summary>
    public const string ProtocolLevel = "1.1";

    /// <summary>
    /// With versioned tables: <c>protocol</c> becomes 1.1 and <c>versioned</c> (the versioned base tables) and
    /// <c>history_suffix</c> follow <c>tables</c>. Without, the row keeps the 1.0 shape.
    /// </summary>
    public static void Add(OrderedDictionary<string, object?> row, MkioModel model)
    {
        var versioned = model.Tables.Where(t => t.Versioned).Select(t => (object?)t.Name).ToList();
        if (versioned.Count == 0)
        {
            return;
        }

        row["protocol"] = ProtocolLevel;
        var at = row.IndexOf("tables") + 1;
        row.Insert(at, "versioned", versioned);
        row.Insert(at + 1, "history_suffix", VersionedSchema.HistorySuffix);
    }

    /// <summary>A versioned base adds <c>"versioned":true,"history_table":…</c>; a history table adds <c>"history_of":…</c>.</summary>
    public static void AddSchema(OrderedDictionary<string, object?> row, TableModel table)
    {
        if (table.History is { } history)
        {
            row["versioned"] = true;
            row["history_table"] = history.Name;
        }
        else if (table.HistoryOf is { } baseTable)
        {
            row["history_of"] = baseTable.Name;
        }
    }
}
