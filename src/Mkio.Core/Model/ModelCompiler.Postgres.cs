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
            if (!IsLowerCase(t.Name))
            {
                Error($"tables.{t.Name}", $"table '{t.Name}': PostgreSQL folds unquoted names to lower case; use a lower-case table name.");
            }

            foreach (var c in t.Columns)
            {
                if (!IsLowerCase(c.Name))
                {
                    Error($"tables.{t.Name}.columns.{c.Name}", $"column {t.Name}.{c.Name}: PostgreSQL folds unquoted names to lower case; use a lower-case column name.");
                    continue;
                }

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

        foreach (var t in _options.Tables)
        {
            if (t.Seed is not null)
            {
                Error($"tables.{t.Name}.seed", $"table '{t.Name}': seed files are not available on PostgreSQL yet.");
            }

            if (t.Name is Security.AccessControl.UsersTable or Security.AccessControl.RightsTable)
            {
                Error($"tables.{t.Name}", $"table '{t.Name}': the mkio login is not available on PostgreSQL yet.");
            }
        }

        foreach (var s in services)
        {
            if (s is ReqRepServiceModel { IsIdentity: false })
            {
                Error($"services.{s.Name}", $"service '{s.Name}': reqrep services are not available on PostgreSQL yet.");
                continue;
            }

            var sql = s switch
            {
                ListenerServiceModel l when l.HasCustomSql => l.Sql,
                _ => null,
            };
            if (sql is null)
            {
                continue;
            }

            try
            {
                _ = PostgresSql.Translate(sql, out _);
            }
            catch (PostgresDialectException e)
            {
                Error($"services.{s.Name}.sql", $"service '{s.Name}': its sql cannot run on PostgreSQL: {e.Message}");
            }
        }
    }

    private static bool IsLowerCase(string name) => !name.Any(char.IsAsciiLetterUpper);
}
