using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Mkio.Model;
using Mkio.Storage.Migration;

namespace Mkio.Core.Tests.Migration;

/// <summary>
/// A real SQLite database file in a temp folder (deleted on dispose), with helpers to seed it as an
/// mkio server would have left it, compile a config against it, run start-up migration and dump
/// everything it holds for before/after comparisons.
/// </summary>
internal sealed class MigrationTestDb : IDisposable
{
    public MigrationTestDb()
    {
        Folder = Path.Combine(Path.GetTempPath(), "mkio-tests", "migration-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        File = Path.Combine(Folder, "orders.db");
    }

    public string Folder { get; }

    /// <summary>The database file.</summary>
    public string File { get; }

    /// <summary>Every message start-up migration printed.</summary>
    public List<string> Output { get; } = [];

    /// <summary>All output as one text, lines separated by <c>\n</c>.</summary>
    public string OutputText => string.Join("\n", Output).Replace("\r\n", "\n", StringComparison.Ordinal);

    public SqliteConnection Open()
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = File, Pooling = false }.ToString());
        c.Open();
        return c;
    }

    /// <summary>Runs SQL statements (separated by <c>;</c>) on the file.</summary>
    public void Exec(string sql, params object?[] parameters)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        for (var i = 0; i < parameters.Length; i++)
        {
            cmd.Parameters.AddWithValue("$p" + (i + 1).ToString(CultureInfo.InvariantCulture), parameters[i] ?? DBNull.Value);
        }

        cmd.ExecuteNonQuery();
    }

    /// <summary>Runs <paramref name="sql"/> for each of <paramref name="count"/> rows in one transaction, with <c>$i</c> = 1…count.</summary>
    public void Insert(string sql, int count)
    {
        using var c = Open();
        using var tx = c.BeginTransaction();
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        var p = cmd.Parameters.Add("$i", SqliteType.Integer);
        for (var i = 1; i <= count; i++)
        {
            p.Value = i;
            cmd.ExecuteNonQuery();
        }

        tx.Commit();
    }

    public object? Scalar(string sql)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        var v = cmd.ExecuteScalar();
        return v is DBNull ? null : v;
    }

    public long Count(string table) => (long)Scalar($"SELECT COUNT(*) FROM {table}")!;

    /// <summary>Rows of <paramref name="sql"/> as <c>name=value</c> lists (values in SQLite storage classes).</summary>
    public List<string> Rows(string sql)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<string>();
        while (r.Read())
        {
            var sb = new StringBuilder();
            for (var i = 0; i < r.FieldCount; i++)
            {
                sb.Append(i == 0 ? string.Empty : ", ").Append(r.GetName(i)).Append('=').Append(Show(r.GetValue(i)));
            }

            rows.Add(sb.ToString());
        }

        return rows;
    }

    /// <summary>Column names of <paramref name="table"/> in table order.</summary>
    public List<string> Columns(string table)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"PRAGMA table_info({table})";
        using var r = cmd.ExecuteReader();
        var names = new List<string>();
        while (r.Read())
        {
            names.Add(r.GetString(1));
        }

        return names;
    }

    public List<string> TableNames() => Strings("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");

    /// <summary>The first column of every row of <paramref name="sql"/>, as text.</summary>
    public List<string> Strings(string sql)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var values = new List<string>();
        while (r.Read())
        {
            values.Add(r.GetString(0));
        }

        return values;
    }

    /// <summary>Everything the file holds: the schema (every object's SQL) and every row of every table with its rowid.</summary>
    public string Dump()
    {
        var sb = new StringBuilder();
        foreach (var row in Rows("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"))
        {
            sb.AppendLine(row);
        }

        foreach (var table in TableNames())
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"-- {table}");
            var withoutRowId = Scalar($"SELECT sql FROM sqlite_master WHERE name = '{table}'") is string s && s.Contains("WITHOUT ROWID", StringComparison.OrdinalIgnoreCase);
            foreach (var row in Rows(withoutRowId ? $"SELECT * FROM \"{table}\"" : $"SELECT rowid AS __rowid, * FROM \"{table}\" ORDER BY rowid"))
            {
                sb.AppendLine(row);
            }
        }

        return sb.ToString();
    }

    /// <summary>Compiles a TOML config whose <c>db_path</c> is this file.</summary>
    public MkioModel Model(string toml, MkioAutoMigrate? autoMigrate = null)
    {
        var options = new MkioOptions();
        TomlConfigLoader.ApplyText(toml, "mkio.toml", options);
        options.DbPath = File;
        if (autoMigrate is { } m)
        {
            options.AutoMigrate = m;
        }

        var (model, errors) = ModelCompiler.TryCompile(options);
        Assert.That(errors.Select(e => e.ToString()), Is.Empty, "the config should compile");
        return model!;
    }

    /// <summary>Runs start-up migration (SERVICES.md §15) on a short-lived connection, recording the output.</summary>
    public MigrationAction Migrate(MkioModel model, Func<string, bool>? confirm = null)
    {
        using var c = Open();
        return SchemaMigration.Run(c, model, Output.Add, confirm);
    }

    /// <summary>The diff of the file against <paramref name="model"/>.</summary>
    public SchemaDiff Diff(MkioModel model)
    {
        using var c = Open();
        return SchemaDiff.Compute(c, model.Tables);
    }

    /// <summary>The plan for the file against <paramref name="model"/>.</summary>
    public MigrationPlan Plan(MkioModel model) => MigrationPlan.Create(Diff(model));

    /// <summary>Creates the tables of <paramref name="toml"/> as the server does (columns, <c>_mkio_ref</c>, its index).</summary>
    public void Seed(string toml)
    {
        var model = Model(toml);
        using var c = Open();
        Mkio.Storage.SchemaManager.Apply(c, model, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
    }

    /// <summary>Adds <c>_mkio_ref</c> and its index as the server does (SERVICES.md §3.3) and stamps every row.</summary>
    public void AddRefColumn(string table, string refPrefix = "20260101 00:00:00.")
    {
        Exec($"ALTER TABLE {table} ADD COLUMN _mkio_ref TEXT DEFAULT ''; CREATE INDEX IF NOT EXISTS idx_{table}__mkio_ref ON {table}(_mkio_ref)");
        Exec($"UPDATE {table} SET _mkio_ref = '{refPrefix}' || printf('%012d', rowid)");
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string Show(object? v) => v switch
    {
        null or DBNull => "NULL",
        string s => "'" + s + "'",
        double d => d.ToString("R", CultureInfo.InvariantCulture) + "r",
        byte[] b => "x'" + Convert.ToHexString(b) + "'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? string.Empty,
    };
}
