using Npgsql;

namespace Mkio.TestUtilities;

/// <summary>
/// Independent reads and statements on a host's PostgreSQL database (the conformance run's counterpart of the
/// tests' direct SQLite reads): values come back as SQLite's storage classes would (integers as <see cref="long"/>,
/// floats as <see cref="double"/>, text, blobs as <see cref="byte"/> arrays; a whole <c>NUMERIC</c> as an integer).
/// </summary>
public static class PostgresQuery
{
    /// <summary>Rows of <paramref name="sql"/> as (column name, value) pairs in column order.</summary>
    public static List<KeyValuePair<string, object?>[]> Rows(string connectionString, string sql)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
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
