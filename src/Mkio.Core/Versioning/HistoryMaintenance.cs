using System.Globalization;
using Microsoft.Data.Sqlite;
using Mkio.Model;

namespace Mkio.Versioning;

/// <summary>
/// What <c>mkio dbupdate</c> does to history after migrating (LATER.md §7.4, §8): discard redo state (keys undone past
/// their first version, versions above a row's cursor) unless <c>--keep-redo</c>, and with <c>--drop-history</c> drop
/// the history tables of tables that are no longer versioned. Returns the lines to print.
/// </summary>
internal static class HistoryMaintenance
{
    public const string NoLongerRedoable = "  These are no longer redo-able. Use --keep-redo to keep them.";

    public static List<string> Run(SqliteConnection connection, MkioModel model, bool dropHistory, bool keepRedo)
    {
        var lines = new List<string>();
        using var tx = connection.BeginTransaction();
        if (!keepRedo)
        {
            foreach (var table in model.Tables.Where(t => t.Versioned))
            {
                var (h, t, pk, v) = (table.History!.Name, table.Name, VersionedSchema.KeyJoin(table, table.Name, table.History!.Name), VersionedSchema.VersionColumn);
                var orphans = Exec(connection, tx, $"DELETE FROM {h} WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {pk})");
                var above = Exec(connection, tx, $"DELETE FROM {h} WHERE {v} > (SELECT {t}.{v} FROM {t} WHERE {pk})");
                if (orphans + above > 0)
                {
                    lines.Add(string.Create(CultureInfo.InvariantCulture,
                        $"  Discarded redo history from {h}: {above} undone version(s), {orphans} version(s) of rows undone past their first version"));
                }
            }

            if (lines.Count > 0)
            {
                lines.Add(NoLongerRedoable);
            }
        }

        if (dropHistory)
        {
            var keep = model.Tables.Where(t => t.Versioned).Select(t => t.History!.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (var name in HistoryTables(connection, tx).Where(n => !keep.Contains(n)))
            {
                Exec(connection, tx, $"DROP TABLE {Storage.Migration.Sql.Quoted(name)}");
                lines.Add($"  Dropped history table {name}");
            }
        }

        tx.Commit();
        return lines;
    }

    /// <summary>Every <c>*__history</c> table of the database.</summary>
    public static List<string> HistoryTables(SqliteConnection connection, SqliteTransaction? tx)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%{VersionedSchema.HistorySuffix.Replace("_", "\\_", StringComparison.Ordinal)}' ESCAPE '\\' ORDER BY name";
        using var r = cmd.ExecuteReader();
        var names = new List<string>();
        while (r.Read())
        {
            names.Add(r.GetString(0));
        }

        return names;
    }

    private static int Exec(SqliteConnection c, SqliteTransaction tx, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return cmd.ExecuteNonQuery();
    }
}
