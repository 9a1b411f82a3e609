using System.Text;
using Microsoft.Data.Sqlite;
using Mkio.Model;

namespace Mkio.Versioning;

/// <summary>
/// Names and DDL of versioned tables: the <c>_mkio_version</c> cursor of a base table and its
/// <c>&lt;table&gt;__history</c> table (same database file) with <c>_mkio_version</c>, <c>_mkio_op</c>,
/// <c>_mkio_ref</c>, <c>_mkio_user</c>, <c>_mkio_service</c> and the recorded columns (type only), keyed by
/// (primary key, version). History is additive: columns are only ever added, never dropped or retyped.
/// </summary>
internal static class VersionedSchema
{
    public const string HistorySuffix = "__history";
    public const string VersionColumn = "_mkio_version";
    public const string OpColumn = "_mkio_op";
    public const string UserColumn = "_mkio_user";
    public const string ServiceColumn = "_mkio_service";
    public const string BaselineOp = "baseline";

    /// <summary>The columns every history row starts with, in table order.</summary>
    public static readonly string[] MetaColumns = [VersionColumn, OpColumn, MkioSchema.RefColumn, UserColumn, ServiceColumn];

    private static readonly HashSet<string> ConstraintWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "PRIMARY", "NOT", "NULL", "DEFAULT", "UNIQUE", "CHECK", "REFERENCES", "COLLATE", "GENERATED", "AS", "CONSTRAINT",
    };

    public static string HistoryName(string table) => table + HistorySuffix;

    /// <summary>The declared type of a definition without its constraints (<c>DECIMAL(10, 2) NOT NULL</c> → <c>DECIMAL(10, 2)</c>).</summary>
    public static string TypeOnly(string definition)
    {
        var words = definition.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return string.Join(' ', words.TakeWhile(w => !ConstraintWords.Contains(w)));
    }

    /// <summary>The history table's columns as a model (the <c>_mkio_ref</c> column is implicit, as for every table).</summary>
    public static List<ColumnInfo> HistoryColumns(IEnumerable<ColumnInfo> recorded) =>
    [
        new(VersionColumn, "INTEGER NOT NULL"),
        new(OpColumn, "TEXT NOT NULL"),
        new(UserColumn, "TEXT"),
        new(ServiceColumn, "TEXT"),
        .. recorded.Select(c => new ColumnInfo(c.Name, TypeOnly(c.Definition))),
    ];

    public static string CreateHistorySql(TableModel table)
    {
        var sb = new StringBuilder("CREATE TABLE IF NOT EXISTS ").Append(table.History!.Name).Append(" (")
            .Append(VersionColumn).Append(" INTEGER NOT NULL, ")
            .Append(OpColumn).Append(" TEXT NOT NULL, ")
            .Append(MkioSchema.RefColumn).Append(" TEXT NOT NULL, ")
            .Append(UserColumn).Append(" TEXT, ")
            .Append(ServiceColumn).Append(" TEXT");
        foreach (var c in table.Recorded)
        {
            sb.Append(", ").Append(c.Name);
            var type = TypeOnly(c.Definition);
            if (type.Length > 0)
            {
                sb.Append(' ').Append(type);
            }
        }

        return sb.Append(", PRIMARY KEY (").AppendJoin(", ", table.PrimaryKey.Select(c => c.Name)).Append(", ").Append(VersionColumn).Append(")) WITHOUT ROWID").ToString();
    }

    public static string RefIndexSql(TableModel table) =>
        $"CREATE INDEX IF NOT EXISTS idx_{table.History!.Name}_ref ON {table.History.Name}({MkioSchema.RefColumn})";

    /// <summary>
    /// Makes every versioned table complete, inside <paramref name="tx"/>: the <c>_mkio_version</c> column, the history
    /// table and its ref index, history columns for recorded columns added since (type only), and a <c>baseline</c>
    /// history row for each row without history (rows present before the table became versioned, seeded rows).
    /// </summary>
    public static void Apply(SqliteConnection connection, SqliteTransaction tx, MkioModel model, string migrationRef)
    {
        foreach (var table in model.Tables)
        {
            if (!table.Versioned)
            {
                continue;
            }

            if (!ColumnNames(connection, tx, table.Name).Contains(VersionColumn))
            {
                Exec(connection, tx, $"ALTER TABLE {table.Name} ADD COLUMN {VersionColumn} INTEGER NOT NULL DEFAULT 1");
            }

            var history = table.History!.Name;
            var existing = ColumnNames(connection, tx, history);
            if (existing.Count == 0)
            {
                Exec(connection, tx, CreateHistorySql(table));
            }
            else
            {
                foreach (var c in table.Recorded)
                {
                    if (!existing.Contains(c.Name))
                    {
                        Exec(connection, tx, $"ALTER TABLE {history} ADD COLUMN {c.Name} {TypeOnly(c.Definition)}");
                    }
                }
            }

            Exec(connection, tx, RefIndexSql(table));
            Baseline(connection, tx, table, migrationRef);
        }
    }

    /// <summary>Seeded rows of versioned tables get <c>baseline</c> history (each with its own seed ref).</summary>
    public static void BaselineSeeded(SqliteConnection connection, List<TableModel> seeded)
    {
        foreach (var table in seeded.Where(t => t.Versioned))
        {
            Baseline(connection, null, table, string.Empty);
        }
    }

    /// <summary><c>a = ? AND b = ?</c> over the primary key of <paramref name="table"/>, in key order.</summary>
    public static string KeyWhere(TableModel table) => string.Join(" AND ", table.PrimaryKey.Select(c => c.Name + " = ?"));

    /// <summary><c>x.a = y.a AND x.b = y.b</c> over the primary key of <paramref name="table"/>.</summary>
    public static string KeyJoin(TableModel table, string left, string right) =>
        string.Join(" AND ", table.PrimaryKey.Select(c => $"{left}.{c.Name} = {right}.{c.Name}"));

    /// <summary>Adds version-<c>cursor</c> <c>baseline</c> history for every row of <paramref name="table"/> that has no history.</summary>
    public static int Baseline(SqliteConnection connection, SqliteTransaction? tx, TableModel table, string migrationRef)
    {
        var h = table.History!.Name;
        var cols = string.Join(", ", table.Recorded.Select(c => c.Name));
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText =
            $"INSERT INTO {h} ({string.Join(", ", MetaColumns)}, {cols}) " +
            $"SELECT {VersionColumn}, '{BaselineOp}', CASE WHEN COALESCE({MkioSchema.RefColumn}, '') = '' THEN $ref ELSE {MkioSchema.RefColumn} END, NULL, NULL, {cols} " +
            $"FROM {table.Name} AS b WHERE NOT EXISTS (SELECT 1 FROM {h} AS x WHERE {KeyJoin(table, "x", "b")})";
        cmd.Parameters.AddWithValue("$ref", migrationRef);
        return cmd.ExecuteNonQuery();
    }

    /// <summary>Column names of a table (empty when it does not exist).</summary>
    public static HashSet<string> ColumnNames(SqliteConnection connection, SqliteTransaction? tx, string table)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"PRAGMA table_info({Storage.Migration.Sql.Quoted(table)})";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            names.Add(r.GetString(1));
        }

        return names;
    }

    private static void Exec(SqliteConnection c, SqliteTransaction? tx, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
