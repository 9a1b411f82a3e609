using Mkio.Storage.Postgres;

namespace Mkio.Model;

/// <summary>PostgreSQL checks: the <c>postgres</c> setting, every column definition and every configured SQL text must translate.</summary>
internal sealed partial class ModelCompiler
{
    private void CheckPostgresSetting()
    {
        var o = _options;
        if (string.IsNullOrWhiteSpace(o.Postgres))
        {
            TopError("postgres", "Postgres", "must be an Npgsql connection string when set (remove it to use SQLite).");
        }

        if (o.DbPathSet)
        {
            TopError("postgres", "Postgres", "replaces db_path; set one of 'postgres' and 'db_path', not both.");
        }
    }

    private void CheckPostgres(List<TableModel> tables, List<ServiceModel> services)
    {
        if (_options.Postgres is null)
        {
            return;
        }

        foreach (var t in tables)
        {
            foreach (var c in t.Columns)
            {
                if (t.Versioned && c.Name.StartsWith("_mkio_", StringComparison.Ordinal))
                {
                    continue;
                }

                try
                {
                    _ = PostgresColumnMapper.Map(c.Definition);
                }
                catch (PostgresDialectException e)
                {
                    Error($"tables.{t.Name}.columns.{c.Name}", $"column {t.Name}.{c.Name} ('{c.Definition}') cannot be created in PostgreSQL: {e.Message}");
                }
            }
        }

        var mixed = MixedCaseNames(tables);
        foreach (var s in services)
        {
            var sql = s switch
            {
                ListenerServiceModel l when l.HasCustomSql => l.Sql,
                ReqRepServiceModel { IsIdentity: false } r => r.Sql,
                _ => null,
            };
            if (sql is null)
            {
                continue;
            }

            try
            {
                _ = PostgresSql.Translate(sql, out _);
                CheckQuoted(mixed, sql, $"services.{s.Name}.sql", $"service '{s.Name}': its sql");
            }
            catch (PostgresDialectException e)
            {
                Error($"services.{s.Name}.sql", $"service '{s.Name}': its sql cannot run on PostgreSQL: {e.Message}");
            }
        }

        foreach (var check in Security.AccessControl.ChecksOf(_options))
        {
            try
            {
                _ = PostgresSql.Translate(check.Check!, out _);
                CheckQuoted(mixed, check.Check!, check.Path, $"SQL check of right '{check.Right}'");
            }
            catch (PostgresDialectException e)
            {
                Error(check.Path, $"SQL check of right '{check.Right}' cannot run on PostgreSQL: {e.Message}");
            }
        }
    }

    /// <summary>Configured table and column names with upper-case letters.</summary>
    private static HashSet<string> MixedCaseNames(List<TableModel> tables) =>
        [.. tables.SelectMany(t => t.Columns.Select(c => c.Name).Prepend(t.Name)).Where(n => n.Any(char.IsAsciiLetterUpper))];

    /// <summary>
    /// SQL the user wrote is sent as written, and PostgreSQL folds an unquoted name to lower case: a word outside
    /// literals, quoted names and comments that spells a mixed-case table or column exactly (not as a function call)
    /// would not find it, so it is a start-up error naming the word and the quoted form to write.
    /// </summary>
    private void CheckQuoted(HashSet<string> mixed, string sql, string path, string what)
    {
        if (mixed.Count == 0)
        {
            return;
        }

        foreach (System.Text.RegularExpressions.Match m in UnquotedWord().Matches(sql))
        {
            if (m.Groups["word"].Success && mixed.Contains(m.Groups["word"].Value))
            {
                Error(path, $"{what} names {m.Groups["word"].Value} without double quotes; PostgreSQL folds unquoted names to lower case: write \"{m.Groups["word"].Value}\".");
                return;
            }
        }
    }

    /// <summary>Literals, quoted names and comments (skipped), or a word that is neither a parameter name nor a function call.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"'(?:[^']|'')*'|""(?:[^""]|"""")*""|--[^\n]*|/\*.*?\*/|(?<![\w:@$])(?<word>[A-Za-z_]\w*)(?!\w|\s*\()", System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex UnquotedWord();
}
