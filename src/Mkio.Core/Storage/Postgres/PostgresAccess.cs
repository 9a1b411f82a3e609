using System.Collections.Concurrent;
using System.Globalization;
using Mkio.Security;
using Npgsql;
using NpgsqlTypes;

namespace Mkio.Storage.Postgres;

/// <summary>
/// SQL access checks (<see cref="PreCheck"/>) on PostgreSQL: the SQLite text translated by <see cref="PostgresSql"/>,
/// every named parameter (<c>:name</c>, <c>@name</c>, <c>$name</c>) bound from the check's values — never spliced —
/// and an unknown name bound to NULL, as SQLite leaves it. Text values travel untyped so PostgreSQL gives them the
/// type of what they are compared with (as SQLite's affinity would). Passes when the statement returns a row; any
/// SQL error fails it.
/// </summary>
internal static class PostgresAccess
{
    private static readonly ConcurrentDictionary<string, (string Sql, IReadOnlyList<string> Names)> Translated = new(StringComparer.Ordinal);

    /// <summary>
    /// Compiles <paramref name="sql"/> (a check's statement) on the server without running it: null when it is one
    /// valid statement, else the error.
    /// </summary>
    public static async Task<string?> ValidateAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        string text;
        IReadOnlyList<string> names;
        try
        {
            (text, names) = Translate(sql);
        }
        catch (PostgresDialectException e)
        {
            return e.Message;
        }

        if (HasSecondStatement(text))
        {
            return "only one statement is allowed (remove the ';' and what follows)";
        }

        using var cmd = new NpgsqlCommand(text, connection);
        foreach (var _ in names)
        {
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Unknown, Value = DBNull.Value });
        }

        try
        {
            using var reader = await cmd.ExecuteReaderAsync(System.Data.CommandBehavior.SchemaOnly, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (PostgresException e)
        {
            return e.MessageText;
        }
    }

    /// <summary>Runs <paramref name="check"/> outside any write, in a read-only transaction of its own.</summary>
    public static async Task<bool> PassesAsync(NpgsqlDataSource source, PreCheck check, CancellationToken cancellationToken)
    {
        try
        {
            using var connection = await source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            using var batch = new NpgsqlBatch(connection, tx);
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SET TRANSACTION READ ONLY"));
            if (Command(check) is not { } cmd)
            {
                return false;
            }

            batch.BatchCommands.Add(cmd);
            bool passes;
            using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                passes = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            return passes;
        }
        catch (NpgsqlException)
        {
            return false;
        }
    }

    /// <summary>
    /// The check as a batch command (translated, its parameters bound), or null when it cannot run: SQL that is not
    /// portable or holds a second statement, or a value PostgreSQL cannot take (an integer beyond 64 bits, a list).
    /// </summary>
    public static NpgsqlBatchCommand? Command(PreCheck check)
    {
        string text;
        IReadOnlyList<string> names;
        try
        {
            (text, names) = Translate(check.Sql);
        }
        catch (PostgresDialectException)
        {
            return null;
        }

        if (HasSecondStatement(text))
        {
            return null;
        }

        var cmd = new NpgsqlBatchCommand(text);
        foreach (var name in names)
        {
            var value = name.Length > 1 && name[0] is ':' or '@' or '$' && check.Values.TryGetValue(name[1..], out var v) ? v : null;
            if (Parameter(value) is not { } parameter)
            {
                return null;
            }

            cmd.Parameters.Add(parameter);
        }

        return cmd;
    }

    private static NpgsqlParameter? Parameter(object? value) => value switch
    {
        null or DBNull => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Unknown, Value = DBNull.Value },
        string s => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Unknown, Value = s },
        long l => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = l },
        int i => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = (long)i },
        bool b => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = b ? 1L : 0L },
        double d => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Double, Value = d },
        byte[] bytes => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = bytes },
        TooLargeInteger or UnbindableValue => null,
        _ => new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Unknown, Value = Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty },
    };

    private static (string Sql, IReadOnlyList<string> Names) Translate(string sql)
    {
        if (Translated.TryGetValue(sql, out var t))
        {
            return t;
        }

        var text = PostgresSql.Translate(sql, out var names);
        return Translated[sql] = (text, names);
    }

    /// <summary>True when <paramref name="sql"/> has a <c>;</c> outside literals, quoted names and comments with more after it.</summary>
    internal static bool HasSecondStatement(string sql)
    {
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c is '\'' or '"')
            {
                var end = sql.IndexOf(c, i + 1);
                while (end >= 0 && end + 1 < sql.Length && sql[end + 1] == c)
                {
                    end = sql.IndexOf(c, end + 2);
                }

                i = end < 0 ? sql.Length : end + 1;
                continue;
            }

            if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                var end = sql.IndexOf('\n', i);
                i = end < 0 ? sql.Length : end;
                continue;
            }

            if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                var end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? sql.Length : end + 2;
                continue;
            }

            if (c == ';')
            {
                return !string.IsNullOrWhiteSpace(sql[(i + 1)..]);
            }

            i++;
        }

        return false;
    }
}
