using Mkio.Core.Tests.Model;

namespace Mkio.Core.Tests.Postgres;

/// <summary>The <c>postgres</c> setting: TOML, code-first, exclusive with <c>db_path</c>, and the start-up checks it brings.</summary>
[Parallelizable(ParallelScope.All)]
public class PostgresConfigTests
{
    private const string Tables = """
        [tables.orders]
        columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", symbol = "TEXT NOT NULL", price = "REAL DEFAULT 0" }
        """;

    [Test]
    public void TomlKeySetsTheConnectionStringAndCompiles()
    {
        var model = ModelTestSupport.CompileToml("postgres = \"Host=127.0.0.1;Database=app\"\n" + Tables);
        Assert.That(model.Options.Postgres, Is.EqualTo("Host=127.0.0.1;Database=app"));
    }

    [Test]
    public void UsePostgresSetsTheConnectionString()
    {
        var options = new MkioOptions().UsePostgres("Host=db");
        Assert.That(options.Postgres, Is.EqualTo("Host=db"));
        Assert.That(ModelTestSupport.Compile(options.Table("t", t => t.Column("a", "TEXT"))).Options.Postgres, Is.EqualTo("Host=db"));
    }

    [Test]
    public void WithoutItNothingChanges() =>
        Assert.That(ModelTestSupport.CompileToml(Tables).Options.Postgres, Is.Null);

    [Test]
    public void BothPostgresAndDbPathIsAStartupError()
    {
        var errors = ModelTestSupport.TomlErrors("postgres = \"Host=db\"\ndb_path = \"app.db\"\n" + Tables);
        Assert.That(errors, Has.One.Contains("replaces db_path"));
        var code = ModelTestSupport.CodeErrors(o => o.UsePostgres("Host=db").Table("t", t => t.Column("a", "TEXT")));
        Assert.That(code, Has.One.Contains("replaces db_path"));
    }

    [Test]
    public void AnEmptyConnectionStringIsAStartupError() =>
        Assert.That(ModelTestSupport.TomlErrors("postgres = \" \"\n" + Tables), Has.One.Contains("must be an Npgsql connection string"));

    [Test]
    public void AnUnmappableColumnIsAStartupErrorNamingTableAndColumn()
    {
        var errors = ModelTestSupport.TomlErrors("postgres = \"Host=db\"\n" + Tables + "\n[tables.notes]\ncolumns = { id = \"TEXT PRIMARY KEY\", body = \"TEXT COLLATE NOCASE\" }\n");
        Assert.That(errors, Has.One.Contains("column notes.body ('TEXT COLLATE NOCASE') cannot be created in PostgreSQL"));
    }

    [Test]
    public void MixedCaseNamesCompileAndAreQuotedInGeneratedSql()
    {
        var model = ModelTestSupport.CompileToml("postgres = \"Host=db\"\n[tables.Orders]\ncolumns = { id = \"TEXT PRIMARY KEY\", firstName = \"TEXT\" }\n");
        var schema = Mkio.Storage.Postgres.PostgresSchema.Statements(model);
        Assert.That(schema[0], Is.EqualTo("CREATE TABLE IF NOT EXISTS \"Orders\" (id TEXT PRIMARY KEY, \"firstName\" TEXT, _mkio_ref TEXT DEFAULT '')"));
        Assert.That(schema, Has.One.EqualTo("CREATE INDEX IF NOT EXISTS \"idx_Orders__mkio_ref\" ON \"Orders\" (_mkio_ref)"));
    }

    [Test]
    public void CustomSqlMustDoubleQuoteMixedCaseNames()
    {
        const string Table = "postgres = \"Host=db\"\n[tables.Orders]\ncolumns = { id = \"TEXT PRIMARY KEY\", firstName = \"TEXT\" }\n";
        var errors = ModelTestSupport.TomlErrors(Table + """

            [services.names]
            type = "reqrep"
            sql = "SELECT firstName FROM \"Orders\" WHERE id = :id"

            [services.all]
            type = "query"
            primary_table = "Orders"
            sql = "SELECT * FROM Orders -- Orders"
            """);
        Assert.That(errors, Has.One.Contains("service 'names': its sql names firstName without double quotes; PostgreSQL folds unquoted names to lower case: write \"firstName\"."));
        Assert.That(errors, Has.One.Contains("service 'all': its sql names Orders without double quotes"));

        var model = ModelTestSupport.CompileToml(Table + """

            [services.names]
            type = "reqrep"
            sql = "SELECT \"firstName\", lower('Orders') AS firstname FROM \"Orders\" WHERE id = :firstName -- Orders"
            """);
        Assert.That(model.Services.Select(s => s.Name), Does.Contain("names"));
    }

    [Test]
    public void VersionedTablesCompileOnPostgres() =>
        Assert.That(ModelTestSupport.CompileToml("postgres = \"Host=db\"\n[tables.docs]\nversioned = true\ncolumns = { id = \"TEXT PRIMARY KEY\", body = \"TEXT\" }\n").TablesByName["docs"].History!.Name, Is.EqualTo("docs__history"));

    [Test]
    public void SeedsReqRepAndLoginTablesCompileOnPostgres()
    {
        var model = ModelTestSupport.CompileToml("postgres = \"Host=db\"\n" + Tables + """

            [tables.prices]
            columns = { symbol = "TEXT PRIMARY KEY", price = "REAL" }
            seed = "prices.csv"

            [tables._mkio_users]
            columns = { username = "TEXT PRIMARY KEY", password = "TEXT NOT NULL", role = "TEXT" }

            [tables._mkio_rights]
            columns = { role = "TEXT NOT NULL", right = "TEXT NOT NULL" }

            [services.price]
            type = "reqrep"
            sql = "SELECT price FROM prices WHERE symbol = :symbol"
            """);
        Assert.That(model.Services.Select(s => s.Name), Does.Contain("price"));
    }

    [Test]
    public void UnportableReqRepSqlAndAccessCheckSqlAreStartupErrors()
    {
        var errors = ModelTestSupport.TomlErrors("postgres = \"Host=db\"\n" + Tables + """

            [services.price]
            type = "reqrep"
            sql = "SELECT ifnull(price, 0) FROM orders WHERE id = :id"

            [services.book]
            type = "query"
            primary_table = "orders"
            access = { "orders.read" = "orders WHERE datetime('now') > :user" }
            """);
        Assert.That(errors, Has.One.Contains("service 'price': its sql cannot run on PostgreSQL: 'ifnull'"));
        Assert.That(errors, Has.One.Contains("SQL check of right 'orders.read' cannot run on PostgreSQL: 'datetime'"));
    }

    [Test]
    public void TheSameColumnCompilesOnSqlite() =>
        Assert.That(ModelTestSupport.CompileToml(Tables + "\n[tables.notes]\ncolumns = { id = \"TEXT PRIMARY KEY\", body = \"TEXT COLLATE NOCASE\" }\n").Tables, Has.Length.EqualTo(2));

    [Test]
    public void UnportableServiceSqlIsAStartupError()
    {
        var errors = ModelTestSupport.TomlErrors("postgres = \"Host=db\"\n" + Tables + """

            [services.book]
            type = "subpub"
            primary_table = "orders"
            key = "symbol"
            sql = "SELECT symbol, ifnull(price, 0) AS price, id FROM orders"
            """);
        Assert.That(errors, Has.One.Contains("service 'book': its sql cannot run on PostgreSQL: 'ifnull'"));
    }

    [Test]
    public void TheOrderBookSampleCompilesForPostgres() =>
        Assert.That(ModelTestSupport.Compile(OrderBookOnPostgres()).Options.Postgres, Is.EqualTo("Host=db"));

    /// <summary>The order-book sample with <c>postgres</c> in place of <c>db_path</c> (static routes dropped: their folder is not here).</summary>
    internal static MkioOptions OrderBookOnPostgres()
    {
        var options = ModelTestSupport.Toml(File.ReadAllText(ModelCompilerTests.SamplePath).Replace("db_path", "# db_path", StringComparison.Ordinal));
        options.Postgres = "Host=db";
        options.Static.Clear();
        return options;
    }
}
