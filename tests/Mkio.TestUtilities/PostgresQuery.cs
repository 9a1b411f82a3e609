using Npgsql;

namespace Mkio.TestUtilities;

/// <summary>
/// Independent reads and statements on a host's PostgreSQL database (the conformance run's counterpart of the
/// tests' direct SQLite reads): values come back as SQLite's storage classes would (integers as <see cref="long"/>,
/// floats as <see cref="double"/>, text, blobs as <see cref="byte"/> arrays; a whole <c>NUMERIC</c> as an integer).
/// The tests' SQLite-flavoured checks keep working: <c>rowid</c> reads as <c>ctid</c> (both are the table's scan
/// order) and each test database gets a <c>typeof(v)</c> function answering SQLite's storage class
/// (<see cref="InstallSqliteShims"/>) — test helpers only; the product refuses both words in configured SQL.
/// </summary>
public static partial class PostgresQuery
{
    private const string TypeofSql = """
        CREATE FUNCTION typeof(v anyelement) RETURNS text LANGUAGE sql IMMUTABLE AS $$
          SELECT CASE
            WHEN v IS NULL THEN 'null'
            WHEN pg_typeof(v) IN ('bigint'::regtype, 'integer'::regtype, 'smallint'::regtype) THEN 'integer'
            WHEN pg_typeof(v) IN ('double precision'::regtype, 'real'::regtype) THEN 'real'
            WHEN pg_typeof(v) = 'numeric'::regtype THEN CASE WHEN v::text ~ '^-?[0-9]+$' THEN 'integer' ELSE 'real' END
            WHEN pg_typeof(v) = 'bytea'::regtype THEN 'blob'
            ELSE 'text' END
        $$
        """;

    /// <summary>Adds the tests' <c>typeof(v)</c> to a fresh test database.</summary>
    public static void InstallSqliteShims(string connectionString) => Execute(connectionString, TypeofSql);

    [System.Text.RegularExpressions.GeneratedRegex(@"\browid\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex RowId();

    [System.Text.RegularExpressions.GeneratedRegex(@"\$p([0-9]+)\b")]
    private static partial System.Text.RegularExpressions.Regex SqliteParameter();

    /// <summary>Rows of <paramref name="sql"/> as (column name, value) pairs in column order.</summary>
    public static List<KeyValuePair<string, object?>[]> Rows(string connectionString, string sql) => Rows(connectionString, sql, []);

    /// <summary>
    /// Rows of <paramref name="sql"/> as (column name, value) pairs in column order, with <paramref name="parameters"/>
    /// bound to the SQLite-style <c>$p1</c>, <c>$p2</c>, … of the text (PostgreSQL's <c>$1</c>, <c>$2</c>, …).
    /// </summary>
    public static List<KeyValuePair<string, object?>[]> Rows(string connectionString, string sql, object?[] parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(SqliteParameter().Replace(RowId().Replace(sql, "ctid"), "$$$1"), connection);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p ?? DBNull.Value });
        }

        using var reader = command.ExecuteReader();
        var rows = new List<KeyValuePair<string, object?>[]>();
        while (reader.Read())
        {
            var row = new KeyValuePair<string, object?>[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = new(reader.GetName(i), reader.IsDBNull(i) ? null : StorageClass(reader.GetValue(i)));
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Runs one statement.</summary>
    public static void Execute(string connectionString, string sql)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private static object StorageClass(object value) => value switch
    {
        int i => (long)i,
        short s => (long)s,
        float f => (double)f,
        decimal d when d == decimal.Truncate(d) && d >= long.MinValue && d <= long.MaxValue => (long)d,
        decimal d => (double)d,
        bool b => b ? 1L : 0L,
        _ => value,
    };
}
