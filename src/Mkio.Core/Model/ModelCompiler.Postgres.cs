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
            if (t.Versioned)
            {
                Error($"tables.{t.Name}.versioned", $"table '{t.Name}': versioned tables are not available on PostgreSQL yet.");
            }

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
            }
            catch (PostgresDialectException e)
            {
                Error(check.Path, $"SQL check of right '{check.Right}' cannot run on PostgreSQL: {e.Message}");
            }
        }
    }
}
