using Microsoft.Data.Sqlite;
using Mkio.Data;
using Mkio.Protocol;
using Mkio.Storage;
using SQLitePCL;

namespace Mkio.Services.Listeners;

/// <summary>
/// A query snapshot encoded straight from the SQLite statement into its wire bytes: one row object is refilled for
/// every row and written at once, so a 100,000-row read builds no 100,000 rows (nor keeps their values alive while
/// it serialises). Used when the service has no <c>publish</c> formatter; the bytes are those of
/// <see cref="SerializedRows"/> over <see cref="MkioDatabase.QueryAll"/>'s rows, as the same writer writes them.
/// Filters of subscribers sharing the read are evaluated on rows rebuilt from the bytes
/// (<see cref="SerializedRows.RowAt"/>), which is exact for the values this reader accepts.
/// </summary>
internal static class DirectSnapshot
{
    /// <summary>
    /// Reads and serialises <paramref name="sql"/> on <paramref name="connection"/> (inside the caller's read transaction),
    /// or returns null — having read nothing the caller must keep — when a row could not be rebuilt exactly from
    /// its bytes (a blob, a non-finite float, duplicate column names): the caller then reads rows as before.
    /// </summary>
    /// <param name="connection">An open connection in a read transaction.</param>
    /// <param name="sql">The service's validated query.</param>
    /// <param name="expectedRows">The row count of the previous read, or -1 (unknown: the rows are counted first, so that
    /// the buffer is allocated once instead of growing through a chain of large-object copies).</param>
    public static SerializedRows? TryRead(SqliteConnection connection, string sql, int expectedRows)
    {
        var db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        if (expectedRows < 0)
        {
            expectedRows = Count(connection, sql);
        }

        using (var stmt = MkioDatabase.PrepareRead(connection, sql, out var names))
        {
            var count = names.Length;
            var schema = new RowSchema(names);
            for (var i = 0; i < count; i++)
            {
                if (schema.IndexOf(names[i]) != i)
                {
                    return null;
                }
            }

            var values = new object?[count];
            var last = new string?[count];
            var scratch = new Row(schema, values);
            var exact = true;
            var rc = MkioDatabase.FirstStep(stmt, connection.DefaultTimeout);

            IEnumerable<Row> Rows()
            {
                for (; rc == raw.SQLITE_ROW && exact; rc = raw.sqlite3_step(stmt))
                {
                    for (var i = 0; i < count; i++)
                    {
                        switch (raw.sqlite3_column_type(stmt, i))
                        {
                            case raw.SQLITE_INTEGER:
                                values[i] = raw.sqlite3_column_int64(stmt, i);
                                break;
                            case raw.SQLITE_FLOAT:
                                var d = raw.sqlite3_column_double(stmt, i);
                                exact &= double.IsFinite(d);
                                values[i] = d;
                                break;
                            case raw.SQLITE_NULL:
                                values[i] = null;
                                break;
                            case raw.SQLITE_TEXT:
                                values[i] = MkioDatabase.Text(raw.sqlite3_column_blob(stmt, i), ref last[i]);
                                break;
                            default:
                                exact = false;
                                values[i] = raw.sqlite3_column_blob(stmt, i).ToArray();
                                break;
                        }
                    }

                    yield return scratch;
                }
            }

            var serialized = new SerializedRows(Rows(), expectedRows, schema);
            if (!exact)
            {
                return null;
            }

            MkioDatabase.Check(db, rc);
            return serialized;
        }
    }

    /// <summary>The query's row count (at most a million), or 0 when it cannot be counted as a subquery (e.g. a trailing <c>;</c>).</summary>
    private static int Count(SqliteConnection connection, string sql)
    {
        try
        {
            using var counting = MkioDatabase.PrepareRead(connection, "SELECT count(*) FROM (" + sql + ")", out _);
            return MkioDatabase.FirstStep(counting, connection.DefaultTimeout) == raw.SQLITE_ROW
                ? (int)Math.Min(raw.sqlite3_column_int64(counting, 0), 1_000_000)
                : 0;
        }
        catch (SqliteException)
        {
            return 0;
        }
    }
}
