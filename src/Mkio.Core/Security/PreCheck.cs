using System.Globalization;
using Mkio.Storage;
using SQLitePCL;

namespace Mkio.Security;

/// <summary>
/// An SQL access check (the table form of <c>access</c>: right → SQL): <c>SELECT 1 FROM &lt;sql&gt; LIMIT 1</c> with every
/// named parameter the SQL uses bound from the caller's identity and request values — never spliced. Passes when it
/// returns a row; any SQL error fails it.
/// </summary>
internal sealed class PreCheck
{
    private readonly IReadOnlyDictionary<string, object?> _binds;

    public PreCheck(string sql, IReadOnlyDictionary<string, object?> binds)
    {
        Sql = sql;
        _binds = binds;
    }

    /// <summary>
    /// Binds of an SQL access check: the identity's <paramref name="values"/> (<c>user</c>, <c>role</c>, further user
    /// columns), then each <c>data</c> field of <paramref name="root"/> not already bound, then its raw <c>topic</c>.
    /// Values only — never spliced.
    /// </summary>
    public static Dictionary<string, object?> Binds(IReadOnlyDictionary<string, object?> values, System.Text.Json.JsonElement root)
    {
        var binds = new Dictionary<string, object?>(values, StringComparer.Ordinal);
        if (root.TryGetProperty("data", out var data) && data.ValueKind == System.Text.Json.JsonValueKind.Object)
        {
            foreach (var field in data.EnumerateObject())
            {
                binds.TryAdd(field.Name, RequestValues.FromJson(field.Value));
            }
        }

        if (root.TryGetProperty("topic", out var topic) && !binds.ContainsKey("topic"))
        {
            binds["topic"] = topic.ValueKind == System.Text.Json.JsonValueKind.String ? topic.GetString() : topic.GetRawText();
        }

        return binds;
    }

    /// <summary>The statement run: <c>SELECT 1 FROM &lt;fragment&gt; LIMIT 1</c>.</summary>
    public string Sql { get; }

    /// <summary>The values the statement's named parameters are bound from (name without its <c>:</c>/<c>@</c>/<c>$</c>).</summary>
    public IReadOnlyDictionary<string, object?> Values => _binds;

    /// <summary>The statement for a configured fragment.</summary>
    public static string StatementFor(string fragment) => $"SELECT 1 FROM {fragment} LIMIT 1";

    /// <summary>Compiles <paramref name="sql"/> on <paramref name="db"/> without running it: null when it is one valid statement, else the error.</summary>
    public static string? Validate(sqlite3 db, string sql)
    {
        var rc = raw.sqlite3_prepare_v2(db, sql, out var stmt, out string tail);
        using (stmt)
        {
            if (rc != raw.SQLITE_OK)
            {
                return SqliteErrors.LastMessage(db);
            }

            if (!string.IsNullOrWhiteSpace(tail))
            {
                return "only one statement is allowed (remove the ';' and what follows)";
            }

            return raw.sqlite3_stmt_readonly(stmt) == 0 ? "the check must only read" : null;
        }
    }

    /// <summary>Runs the check on <paramref name="db"/> (the write connection inside the request's savepoint, or a read connection).</summary>
    public bool Passes(sqlite3 db)
    {
        if (raw.sqlite3_prepare_v2(db, Sql, out var stmt, out string tail) != raw.SQLITE_OK || !string.IsNullOrWhiteSpace(tail))
        {
            stmt.Dispose();
            return false;
        }

        using (stmt)
        {
            if (raw.sqlite3_stmt_readonly(stmt) == 0)
            {
                return false;
            }

            var count = raw.sqlite3_bind_parameter_count(stmt);
            for (var i = 1; i <= count; i++)
            {
                var name = raw.sqlite3_bind_parameter_name(stmt, i).utf8_to_string();
                if (name is { Length: > 1 } && _binds.TryGetValue(name[1..], out var value) && SqliteBind.Value(stmt, i, value) != raw.SQLITE_OK)
                {
                    return false;
                }
            }

            var waited = 0;
            while (true)
            {
                var rc = raw.sqlite3_step(stmt);
                if (rc == raw.SQLITE_ROW)
                {
                    return true;
                }

                if (SqliteErrors.IsSharedCacheLock(rc) && SqliteErrors.BackOff(ref waited))
                {
                    raw.sqlite3_reset(stmt);
                    continue;
                }

                return false;
            }
        }
    }
}
