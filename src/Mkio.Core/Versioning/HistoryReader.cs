using System.Text;
using System.Text.Json;
using Mkio.Data;
using Mkio.Model;
using Mkio.Storage;

namespace Mkio.Versioning;

/// <summary>
/// Reads the history of a versioned table (LATER.md §7.5): by base or history name, optionally one key and a ref
/// window (<c>_mkio_ref &gt;= since</c>, <c>&lt; until</c>), ordered by key then version (descending when newest first).
/// </summary>
internal static class HistoryReader
{
    /// <summary>The history table of <paramref name="table"/> (a base or history name), or an <see cref="ArgumentException"/> naming the versioned tables.</summary>
    public static TableModel Resolve(MkioModel model, string table)
    {
        if (model.TablesByName.TryGetValue(table, out var t))
        {
            if (t.History is { } h)
            {
                return h;
            }

            if (t.HistoryOf is not null)
            {
                return t;
            }
        }

        throw new ArgumentException(NotVersioned(model, table), nameof(table));
    }

    public static string NotVersioned(MkioModel model, string table) =>
        $"Table '{table}' is not versioned. Versioned tables: {string.Join(", ", model.Tables.Where(x => x.Versioned).Select(x => x.Name))}";

    /// <summary>
    /// The key filter's values in primary-key order: the value itself for a one-column key; for a composite key an array
    /// (any non-string sequence, or a JSON array) with one value per key column. Anything else is an
    /// <see cref="ArgumentException"/> naming the key.
    /// </summary>
    internal static object?[] KeyValues(TableModel table, object key)
    {
        var pk = table.PrimaryKey;
        if (pk.Length == 1)
        {
            return [key is JsonElement e ? RequestValues.FromJson(e) : key];
        }

        object?[]? values = key switch
        {
            JsonElement { ValueKind: JsonValueKind.Array } a => [.. a.EnumerateArray().Select(v => RequestValues.FromJson(v))],
            string or byte[] or JsonElement => null,
            System.Collections.IEnumerable list => [.. list.Cast<object?>()],
            _ => null,
        };
        if (values is null || values.Length != pk.Length)
        {
            throw new ArgumentException(
                $"Table '{table.Name}' has a composite primary key ({string.Join(", ", pk.Select(c => c.Name))}): pass the key as an array of {pk.Length} values in that order.",
                nameof(key));
        }

        return values;
    }

    public static List<Row> Read(Microsoft.Data.Sqlite.SqliteConnection connection, TableModel history, object? key, string? since, string? until, int limit, bool newestFirst)
    {
        var (sql, args) = Select(history, key, since, until, limit, newestFirst);
        return MkioDatabase.Query(connection, sql, args);
    }

    /// <summary>The history read as SQLite text with <c>$pN</c> parameters (PostgreSQL translates it).</summary>
    public static (string Sql, object?[] Args) Select(TableModel history, object? key, string? since, string? until, int limit, bool newestFirst)
    {
        var pk = history.HistoryOf!.PrimaryKey.Select(c => c.Name).ToArray();
        var sql = new StringBuilder("SELECT * FROM ").Append(history.Name).Append(" WHERE 1 = 1");
        var args = new List<object?>();
        void Filter(string condition, object? value)
        {
            args.Add(value);
            sql.Append(" AND ").Append(condition).Append(" $p").Append(args.Count);
        }

        if (key is not null)
        {
            var values = KeyValues(history.HistoryOf, key);
            for (var i = 0; i < pk.Length; i++)
            {
                Filter(pk[i] + " =", values[i]);
            }
        }

        if (since is not null)
        {
            Filter(MkioSchema.RefColumn + " >=", since);
        }

        if (until is not null)
        {
            Filter(MkioSchema.RefColumn + " <", until);
        }

        var order = newestFirst ? " DESC" : string.Empty;
        sql.Append(" ORDER BY ").AppendJoin(", ", pk.Select(k => k + order)).Append(", ").Append(VersionedSchema.VersionColumn).Append(order);
        args.Add((long)Math.Max(0, limit));
        sql.Append(" LIMIT $p").Append(args.Count);
        return (sql.ToString(), [.. args]);
    }
}
