using System.Text;
using Mkio.Data;
using Mkio.Model;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>
/// The <c>_mkio</c> table-schema answer on PostgreSQL: the table's live columns (PostgreSQL's catalog, in column
/// order) described as SQLite's <c>PRAGMA table_info</c> describes them — a configured column by its SQLite
/// definition (declared type, <c>NOT NULL</c>, primary key, default text), so a client sees the same schema on both
/// stores; a column the database has beyond the configuration by its PostgreSQL type mapped back.
/// </summary>
internal static class PostgresTableInfo
{
    private const string ColumnsSql = "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
        + "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position";

    private static readonly string[] ConstraintWords = ["PRIMARY", "NOT", "NULL", "UNIQUE", "DEFAULT", "CHECK", "COLLATE", "REFERENCES", "CONSTRAINT", "ON", "GENERATED", "AS"];

    /// <summary>One entry per column: <c>name</c>, <c>type</c>, <c>notnull</c>, <c>pk</c>, <c>dflt_value</c>.</summary>
    public static List<object?> Columns(NpgsqlDataSource source, TableModel table)
    {
        using var connection = source.OpenConnection();
        using var cmd = new NpgsqlCommand(ColumnsSql, connection);
        cmd.Parameters.Add(new NpgsqlParameter { Value = table.Name });
        using var reader = cmd.ExecuteReader();
        var list = new List<object?>();
        while (reader.Read())
        {
            var name = reader.GetString(0);
            if (table.Find(name) is { } configured)
            {
                list.Add(Describe(configured));
            }
            else if (name == MkioSchema.RefColumn)
            {
                list.Add(Entry(name, "TEXT", notNull: false, pk: false, "''"));
            }
            else
            {
                list.Add(Entry(name, SqliteType(reader.GetString(1)), reader.GetString(2) == "NO", pk: false, reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
        }

        return list;
    }

    /// <summary>A configured column as <c>PRAGMA table_info</c> reports it.</summary>
    internal static OrderedDictionary<string, object?> Describe(ColumnInfo column)
    {
        var tokens = PostgresColumnMapper.Tokenize(column.Definition);
        var type = new StringBuilder();
        var i = 0;
        for (; i < tokens.Count && !IsConstraintWord(tokens[i]); i++)
        {
            if (type.Length > 0 && tokens[i][0] != '(')
            {
                type.Append(' ');
            }

            type.Append(tokens[i]);
        }

        var notNull = false;
        var pk = column.PrimaryKey;
        string? dflt = null;
        for (; i < tokens.Count; i++)
        {
            var word = tokens[i].ToUpperInvariant();
            if (word == "NOT" && i + 1 < tokens.Count && tokens[i + 1].Equals("NULL", StringComparison.OrdinalIgnoreCase))
            {
                notNull = true;
                i++;
            }
            else if (word == "DEFAULT" && i + 1 < tokens.Count)
            {
                var value = tokens[++i];
                if (value is "-" or "+" && i + 1 < tokens.Count)
                {
                    value += tokens[++i];
                }

                // SQLite reports a parenthesised default without its outer parentheses.
                dflt = value.Length >= 2 && value[0] == '(' && value[^1] == ')' ? value[1..^1] : value;
            }
        }

        return Entry(column.Name, type.ToString(), notNull, pk, dflt);
    }

    private static bool IsConstraintWord(string token) => ConstraintWords.Contains(token.ToUpperInvariant());

    private static OrderedDictionary<string, object?> Entry(string name, string type, bool notNull, bool pk, string? dflt) => new(StringComparer.Ordinal)
    {
        ["name"] = name,
        ["type"] = type,
        ["notnull"] = notNull,
        ["pk"] = pk,
        ["dflt_value"] = dflt,
    };

    private static string SqliteType(string postgresType) => postgresType switch
    {
        "bigint" or "integer" or "smallint" => "INTEGER",
        "double precision" or "real" => "REAL",
        "numeric" => "NUMERIC",
        "bytea" => "BLOB",
        "text" or "character varying" or "character" => "TEXT",
        _ => postgresType.ToUpperInvariant(),
    };
}
