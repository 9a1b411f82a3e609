using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Translates SQL text written for SQLite (configured service <c>sql</c>, mkio's own reads) to what
/// Npgsql sends: named and numbered parameters (<c>:name</c>, <c>@name</c>, <c>$name</c>, <c>$p1</c>,
/// <c>?</c>, <c>?NNN</c>) become positional <c>$1</c>, <c>$2</c>, …; string literals, quoted identifiers,
/// comments and PostgreSQL <c>::</c> casts pass through untouched. Functions and syntax that exist only
/// in SQLite are refused with a <see cref="PostgresDialectException"/> naming them.
/// </summary>
internal static class PostgresSql
{
    /// <summary>SQLite-only functions and keywords (lower case) with no identical PostgreSQL meaning.</summary>
    private static readonly FrozenSet<string> SqliteOnlyFunctions = FrozenSet.Create(
        StringComparer.Ordinal,
        "typeof", "ifnull", "iif", "instr", "glob", "julianday", "strftime", "datetime", "date", "time", "unixepoch",
        "randomblob", "zeroblob", "hex", "unhex", "printf", "format", "total", "group_concat", "likelihood", "likely",
        "unlikely", "unicode", "char", "quote", "changes", "last_insert_rowid", "total_changes", "sqlite_version",
        "json_extract", "json_each", "json_tree", "json_group_array", "json_group_object", "soundex", "substring_index");

    private static readonly FrozenSet<string> SqliteOnlyKeywords = FrozenSet.Create(
        StringComparer.Ordinal, "glob", "rowid", "_rowid_", "oid", "pragma", "autoincrement", "indexed", "regexp");

    /// <summary>
    /// Translates <paramref name="sql"/>; <paramref name="parameters"/> receives the source parameter
    /// names in positional order (<c>$1</c> is the first; a name used twice maps to one position).
    /// </summary>
    public static string Translate(string sql, out IReadOnlyList<string> parameters)
    {
        var names = new List<string>();
        var sb = new StringBuilder(sql.Length + 8);
        Scan(sql, sb, names);
        parameters = names;
        return sb.ToString();
    }

    /// <summary>Translates SQL that takes no parameters (checks portability); returns it unchanged otherwise.</summary>
    public static string CheckPortable(string sql)
    {
        var translated = Translate(sql, out var parameters);
        return parameters.Count == 0 ? translated : throw new PostgresDialectException("parameters are not allowed here.");
    }

    /// <summary>
    /// SQLite accepts a subquery in FROM without an alias; PostgreSQL 15 does not. mkio's own wrappers
    /// (<c>SELECT * FROM (&lt;sql&gt;) LIMIT …</c>) name it with this alias.
    /// </summary>
    public const string SubqueryAlias = "_mkio_q";

    private static void Scan(string s, StringBuilder sb, List<string> names)
    {
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i];
            switch (c)
            {
                case '\'':
                case '"':
                    {
                        var end = SkipQuoted(s, i, c);
                        sb.Append(s, i, end - i);
                        i = end;
                        continue;
                    }

                case '`':
                case '[':
                    throw new PostgresDialectException($"identifiers quoted with {c} are SQLite/MySQL syntax; use \"double quotes\".");
                case '-' when i + 1 < s.Length && s[i + 1] == '-':
                    {
                        var end = s.IndexOf('\n', i);
                        end = end < 0 ? s.Length : end;
                        sb.Append(s, i, end - i);
                        i = end;
                        continue;
                    }

                case '/' when i + 1 < s.Length && s[i + 1] == '*':
                    {
                        var end = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
                        end = end < 0 ? throw new PostgresDialectException("unterminated comment.") : end + 2;
                        sb.Append(s, i, end - i);
                        i = end;
                        continue;
                    }

                case ':' when i + 1 < s.Length && s[i + 1] == ':':
                    sb.Append("::");
                    i += 2;
                    continue;
                case ':' or '@' or '$' when i + 1 < s.Length && IsNameStart(s[i + 1]):
                    {
                        var end = i + 1;
                        while (end < s.Length && IsNamePart(s[end]))
                        {
                            end++;
                        }

                        Parameter(sb, names, s[i..end]);
                        i = end;
                        continue;
                    }

                case '$' when i + 1 < s.Length && char.IsAsciiDigit(s[i + 1]):
                    throw new PostgresDialectException("positional $N parameters are PostgreSQL syntax; write :name or $p1 as for SQLite.");
                case '?':
                    {
                        var end = i + 1;
                        while (end < s.Length && char.IsAsciiDigit(s[end]))
                        {
                            end++;
                        }

                        Parameter(sb, names, end == i + 1 ? "?" + (names.Count + 1).ToString(CultureInfo.InvariantCulture) : s[i..end]);
                        i = end;
                        continue;
                    }

                case '=' when i + 1 < s.Length && s[i + 1] == '=':
                    sb.Append('=');
                    i += 2;
                    continue;
                default:
                    if (IsNameStart(c) && (i == 0 || !IsNamePart(s[i - 1])))
                    {
                        var end = i + 1;
                        while (end < s.Length && IsNamePart(s[end]))
                        {
                            end++;
                        }

                        var word = s[i..end].ToLowerInvariant();
                        var next = end;
                        while (next < s.Length && char.IsWhiteSpace(s[next]))
                        {
                            next++;
                        }

                        var isCall = next < s.Length && s[next] == '(';
                        if ((isCall && SqliteOnlyFunctions.Contains(word)) || SqliteOnlyKeywords.Contains(word))
                        {
                            throw new PostgresDialectException($"'{s[i..end]}' is SQLite-only SQL with no identical PostgreSQL meaning.");
                        }

                        sb.Append(s, i, end - i);
                        i = end;
                        continue;
                    }

                    sb.Append(c);
                    i++;
                    continue;
            }
        }
    }

    private static void Parameter(StringBuilder sb, List<string> names, string name)
    {
        var index = names.IndexOf(name);
        if (index < 0)
        {
            names.Add(name);
            index = names.Count - 1;
        }

        sb.Append('$').Append((index + 1).ToString(CultureInfo.InvariantCulture));
    }

    private static int SkipQuoted(string s, int start, char quote)
    {
        var i = start + 1;
        while (i < s.Length)
        {
            if (s[i] == quote)
            {
                if (i + 1 < s.Length && s[i + 1] == quote)
                {
                    i += 2;
                    continue;
                }

                return i + 1;
            }

            i++;
        }

        throw new PostgresDialectException(quote == '\'' ? "unterminated string literal." : "unterminated quoted identifier.");
    }

    private static bool IsNameStart(char c) => char.IsAsciiLetter(c) || c == '_';

    private static bool IsNamePart(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
}
