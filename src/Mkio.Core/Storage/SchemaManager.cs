using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Mkio.Model;

namespace Mkio.Storage;

/// <summary>
/// Makes the database schema match the config at start-up: creates missing tables, adds the
/// <c>_mkio_ref</c> column and index to every configured table (SERVICES.md §3.3), and refuses to
/// start when an existing table differs from its declaration (migration is a separate step).
/// </summary>
internal static partial class SchemaManager
{
    public static string CreateTableSql(TableModel table, bool ifNotExists = true)
    {
        var sb = new StringBuilder("CREATE TABLE ");
        if (ifNotExists)
        {
            sb.Append("IF NOT EXISTS ");
        }

        sb.Append(table.Name).Append(" (");
        for (var i = 0; i < table.Columns.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            sb.Append(table.Columns[i].Name).Append(' ').Append(table.Columns[i].Definition);
        }

        return sb.Append(')').ToString();
    }

    public static void Apply(SqliteConnection connection, MkioModel model, ILogger logger)
    {
        var existing = ReadTables(connection);
        var problems = new List<string>();
        using var tx = connection.BeginTransaction();
        foreach (var table in model.Tables)
        {
            if (!existing.TryGetValue(table.Name, out var live))
            {
                Exec(connection, tx, CreateTableSql(table));
                if (!model.InMemory)
                {
                    Log.TableCreated(logger, table.Name);
                }

                continue;
            }

            problems.AddRange(Diff(table, live));
        }

        if (problems.Count > 0)
        {
            tx.Rollback();
            throw new MkioConfigurationException(
                $"The database '{model.Options.DbPath}' does not match the config:{Environment.NewLine}  "
                + string.Join(Environment.NewLine + "  ", problems)
                + $"{Environment.NewLine}Schema migration of existing tables is not available in this version; "
                + "use a new database file or align the config with the existing tables.");
        }

        foreach (var table in model.Tables)
        {
            var cols = existing.TryGetValue(table.Name, out var live) ? live : [];
            if (!cols.Any(c => c.Name == MkioSchema.RefColumn))
            {
                Exec(connection, tx, $"ALTER TABLE {table.Name} ADD COLUMN {MkioSchema.RefColumn} TEXT DEFAULT ''");
            }

            Exec(connection, tx, $"CREATE INDEX IF NOT EXISTS {MkioSchema.RefIndexName(table.Name)} ON {table.Name}({MkioSchema.RefColumn})");
        }

        foreach (var name in existing.Keys)
        {
            if (!model.TablesByName.ContainsKey(name) && !name.StartsWith("_mkio", StringComparison.Ordinal))
            {
                Log.UnconfiguredTable(logger, name);
            }
        }

        tx.Commit();
    }

    private static IEnumerable<string> Diff(TableModel table, List<LiveColumn> live)
    {
        var liveCols = live.Where(c => c.Name != MkioSchema.RefColumn).ToList();
        foreach (var c in table.Columns)
        {
            var l = liveCols.FirstOrDefault(x => x.Name == c.Name);
            if (l is null)
            {
                yield return $"table '{table.Name}': column '{c.Name}' is in the config but not in the database.";
                continue;
            }

            if (!string.Equals(l.Type, c.Type, StringComparison.OrdinalIgnoreCase))
            {
                yield return $"table '{table.Name}': column '{c.Name}' is {l.Type} in the database but {c.Type} in the config.";
            }

            if (l.Pk != c.PrimaryKey)
            {
                yield return $"table '{table.Name}': column '{c.Name}' is {(l.Pk ? string.Empty : "not ")}the primary key in the database but {(c.PrimaryKey ? string.Empty : "not ")}in the config.";
            }
        }

        foreach (var l in liveCols)
        {
            if (table.Find(l.Name) is null)
            {
                yield return $"table '{table.Name}': column '{l.Name}' is in the database but not in the config.";
            }
        }
    }

    internal sealed record LiveColumn(string Name, string Type, bool NotNull, string? Default, bool Pk);

    internal static Dictionary<string, List<LiveColumn>> ReadTables(SqliteConnection connection)
    {
        var tables = new List<string>();
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                tables.Add(r.GetString(0));
            }
        }

        var result = new Dictionary<string, List<LiveColumn>>(StringComparer.Ordinal);
        foreach (var t in tables)
        {
            var cols = new List<LiveColumn>();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = $"PRAGMA table_info(\"{t.Replace("\"", "\"\"", StringComparison.Ordinal)}\")";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                cols.Add(new LiveColumn(r.GetString(1), r.GetString(2).ToUpperInvariant().Split(' ', 2)[0], r.GetInt64(3) != 0, r.IsDBNull(4) ? null : r.GetString(4), r.GetInt64(5) > 0));
            }

            result[t] = cols;
        }

        return result;
    }

    private static void Exec(SqliteConnection c, SqliteTransaction tx, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Created table {Table}.")]
        public static partial void TableCreated(ILogger logger, string table);

        [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Table {Table} exists in the database but not in the config; mkio leaves it alone.")]
        public static partial void UnconfiguredTable(ILogger logger, string table);
    }
}
