using System.Globalization;
using Mkio.Data;
using Npgsql;
using NpgsqlTypes;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Values between mkio and PostgreSQL. SQLite stores what it is given (type affinity converts where it can);
/// PostgreSQL columns are typed, so a request value is converted to the column's kind the way SQLite's affinity
/// would, and a value SQLite would have kept in another type (e.g. <c>'abc'</c> in an INTEGER column) is a
/// clear write error. Values read back become what SQLite returns: long, double, string, byte[] or null.
/// </summary>
internal static class PostgresValues
{
    /// <summary>A parameter for a value bound to a column of <paramref name="kind"/>.</summary>
    /// <param name="value">The request value.</param>
    /// <param name="kind">The column's kind.</param>
    /// <param name="column"><c>table.column</c>, for errors.</param>
    /// <param name="position">The parameter's 1-based position in its statement (named in binding errors, as on SQLite), or 0.</param>
    public static NpgsqlParameter Parameter(object? value, PostgresColumnKind kind, string column, int position = 0)
    {
        var v = Coerce(value, kind, column, position);
        return kind switch
        {
            PostgresColumnKind.Integer or PostgresColumnKind.Boolean => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = v ?? DBNull.Value },
            PostgresColumnKind.Real => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Double, Value = v ?? DBNull.Value },
            PostgresColumnKind.Numeric => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Numeric, Value = v ?? DBNull.Value },
            PostgresColumnKind.Blob => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = v ?? DBNull.Value },
            _ => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = v ?? DBNull.Value },
        };
    }

    /// <summary>
    /// Converts <paramref name="value"/> as SQLite's affinity for <paramref name="kind"/> would. As SQLite's binding
    /// does, a NaN becomes NULL, and an integer beyond 64 bits or an object/array value fails with SQLite's text.
    /// </summary>
    public static object? Coerce(object? value, PostgresColumnKind kind, string column, int position = 0)
    {
        if (value is null or DBNull || value is double.NaN)
        {
            return null;
        }

        if (value is UnbindableValue u)
        {
            throw new MkioWriteException(position > 0
                ? $"Error binding parameter {position.ToString(CultureInfo.InvariantCulture)}: type '{u.PythonType}' is not supported"
                : $"Error binding parameter: type '{u.PythonType}' is not supported");
        }

        if (value is TooLargeInteger)
        {
            throw new MkioWriteException("Python int too large to convert to SQLite INTEGER");
        }

        switch (kind)
        {
            case PostgresColumnKind.Integer or PostgresColumnKind.Boolean:
                switch (value)
                {
                    case long l:
                        return l;
                    case int i:
                        return (long)i;
                    case bool b:
                        return b ? 1L : 0L;
                    case double d when d == Math.Floor(d) && d >= long.MinValue && d <= long.MaxValue:
                        return (long)d;
                    case string s when long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed):
                        return parsed;
                    case string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var pd) && pd == Math.Floor(pd) && Math.Abs(pd) < 9e18:
                        return (long)pd;
                }

                break;
            case PostgresColumnKind.Real:
                switch (value)
                {
                    case double d:
                        return d;
                    case long l:
                        return (double)l;
                    case bool b:
                        return b ? 1.0 : 0.0;
                    case int i:
                        return (double)i;
                    case string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed):
                        return parsed;
                }

                break;
            case PostgresColumnKind.Numeric:
                switch (value)
                {
                    case long l:
                        return (decimal)l;
                    case bool b:
                        return b ? 1m : 0m;
                    case double d when double.IsFinite(d):
                        return (decimal)d;
                    case string s when decimal.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed):
                        return parsed;
                }

                break;
            case PostgresColumnKind.Blob:
                return value switch
                {
                    byte[] bytes => bytes,
                    string s => System.Text.Encoding.UTF8.GetBytes(s),
                    _ => throw Mismatch(value, column, "BLOB"),
                };
            default:
                return value switch
                {
                    string s => s,
                    long l => l.ToString(CultureInfo.InvariantCulture),
                    bool b => b ? "1" : "0", // SQLite binds a boolean as the integer 1 or 0
                    double d => RealText(d),
                    _ => value.ToString(),
                };
        }

        throw Mismatch(value, column, kind.ToString().ToUpperInvariant());
    }

    /// <summary>A float as SQLite's TEXT affinity writes it (<c>%!.15g</c>: 15 significant digits, a whole number keeps <c>.0</c>).</summary>
    internal static string RealText(double d)
    {
        if (!double.IsFinite(d))
        {
            return d > 0 ? "Inf" : d < 0 ? "-Inf" : "NaN";
        }

        var text = d.ToString("G15", CultureInfo.InvariantCulture);
        var e = text.IndexOf('E', StringComparison.Ordinal);
        var mantissa = e < 0 ? text : text[..e];
        if (!mantissa.Contains('.', StringComparison.Ordinal))
        {
            mantissa += ".0";
        }

        return e < 0 ? mantissa : mantissa + "e" + text[(e + 1)..];
    }

    private static MkioWriteException Mismatch(object value, string column, string type) =>
        new($"datatype mismatch: {column} is {type} in PostgreSQL and cannot store {Describe(value)}");

    private static string Describe(object value) => value switch
    {
        string s => "'" + (s.Length > 40 ? s[..40] + "…" : s) + "'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.GetType().Name,
    };

    /// <summary>A value read from PostgreSQL as SQLite would return it.</summary>
    public static object? FromDatabase(object? value) => value switch
    {
        null or DBNull => null,
        // (object) on the integer side: a conditional of long and double would be a double, and a whole NUMERIC must read as an integer.
        decimal m => m == decimal.Truncate(m) && m >= long.MinValue && m <= long.MaxValue ? (object)(long)m : (double)m,
        int i => (long)i,
        short s => (long)s,
        float f => (double)f,
        bool b => b ? 1L : 0L,
        _ => value,
    };

    /// <summary>Reads every row of <paramref name="reader"/>, the schema shared by the rows; a row past <paramref name="limit"/> throws <paramref name="tooMany"/>'s exception.</summary>
    public static async Task<List<Row>> ReadRowsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken, int limit = int.MaxValue, Func<Exception>? tooMany = null)
    {
        var names = SqliteReads.ColumnNames(reader);
        var schema = new RowSchema(names);
        var rows = new List<Row>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (rows.Count == limit)
            {
                throw tooMany?.Invoke() ?? new InvalidOperationException($"more than {limit} rows");
            }

            var values = new object?[names.Length];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = FromDatabase(reader.GetValue(i));
            }

            rows.Add(new Row(schema, values));
        }

        return rows;
    }
}
