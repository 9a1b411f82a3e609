using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// <c>mkio dbupdate [config] [--allow-risky] [--allow-destructive] [--dry-run]</c> and the start-up
/// migration of <c>mkio serve</c> as real processes with stdin redirected (SERVICES.md §15.4,
/// CLI.md appendix; CONFORMANCE items 122, 128, 129): the plan is printed, a dry run changes
/// nothing, the flags decide what may be applied, and a non-terminal serve refuses risky changes.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public partial class DbUpdateCommandTests
{
    private const string V1 = """
        host = "127.0.0.1"
        db_path = "orders.db"
        batch_max_wait_ms = 1.0

        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER", price = "REAL DEFAULT 0" }

        [tables.legacy]
        columns = { x = "TEXT" }

        [services.add_order]
        type = "transaction"
        table = "orders"
        op_type = "insert"
        fields = ["id", "symbol", "qty"]
        """;

    /// <summary>V1 minus <c>price</c> and <c>legacy</c> (destructive), <c>qty</c> → REAL (risky), plus a column and a table (safe).</summary>
    private const string V2 = """
        host = "127.0.0.1"
        db_path = "orders.db"
        batch_max_wait_ms = 1.0

        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "REAL", note = "TEXT DEFAULT 'n'" }

        [tables.extra]
        columns = { a = "TEXT" }

        [services.add_order]
        type = "transaction"
        table = "orders"
        op_type = "insert"
        fields = ["id", "symbol", "qty"]
        """;

    private const string Header = "  TABLE                CHANGE                                        LEVEL                     DATA IMPACT";

    private static readonly string[] V2Table =
    [
        string.Empty,
        "Schema changes detected for database \"orders.db\":",
        string.Empty,
        Header,
        "  -------------------- --------------------------------------------- ------------------------- ----------------------------------------",
        "  orders               Add column \"note\"                             SAFE                      None — existing rows get default/NULL",
        "  orders               Remove column \"price\"                         DESTRUCTIVE               Data in column \"price\" will be lost",
        "  orders               Change column \"qty\" type from INTEGER to REAL POTENTIALLY DESTRUCTIVE   Values may not convert cleanly",
        "  extra                Create new table                              SAFE                      None — new table",
        "  legacy               Remove table                                  DESTRUCTIVE               All 1,234 rows will be lost",
        string.Empty,
    ];

    [GeneratedRegex(@"^======== Running on http://127\.0\.0\.1:(\d+) ========$")]
    private static partial Regex RunningLine();

    private static async Task<(int Code, MkioProcess Process)> RunAsync(TempDirectory dir, CancellationToken ct, params string[] args)
    {
        var p = MkioProcess.Start(dir.Path, args);
        try
        {
            var code = await p.WaitForExitAsync(ct);
            return (code, p);
        }
        catch
        {
            await p.DisposeAsync();
            throw;
        }
    }

    /// <summary>A V1 database made by <c>mkio dbupdate</c>, with 100 orders (refs stamped) and 1,234 legacy rows.</summary>
    private static async Task<TempDirectory> V1DatabaseAsync(CancellationToken ct)
    {
        var dir = new TempDirectory();
        File.WriteAllText(dir.File("v1.toml"), V1);
        File.WriteAllText(dir.File("v2.toml"), V2);
        var (code, p) = await RunAsync(dir, ct, "dbupdate", "v1.toml");
        await using (p)
        {
            Assert.That(code, Is.Zero, p.Output);
        }

        Exec(dir, """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1234)
            INSERT INTO legacy (x) SELECT 'v' || i FROM n;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
            INSERT INTO orders (id, symbol, qty, price, _mkio_ref) SELECT 'o' || i, 'S' || (i % 7), i, i * 1.5, '20260101 00:00:00.' || printf('%012d', i) FROM n;
            """);
        return dir;
    }

    private static SqliteConnection Open(TempDirectory dir)
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dir.File("orders.db"), Pooling = false }.ToString());
        c.Open();
        return c;
    }

    private static void Exec(TempDirectory dir, string sql)
    {
        using var c = Open(dir);
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Schema and every row (with rowid) of every table.</summary>
    private static string Dump(TempDirectory dir)
    {
        using var c = Open(dir);
        var sb = new StringBuilder();
        var tables = new List<string>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"{r.GetString(0)} {r.GetString(1)}: {(r.IsDBNull(2) ? "-" : r.GetString(2))}");
                if (r.GetString(0) == "table")
                {
                    tables.Add(r.GetString(1));
                }
            }
        }

        foreach (var t in tables)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"SELECT rowid, * FROM \"{t}\" ORDER BY rowid";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                sb.Append(t).Append(':');
                for (var i = 0; i < r.FieldCount; i++)
                {
                    sb.Append(' ').Append(r.IsDBNull(i) ? "NULL" : Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture));
                }

                sb.AppendLine();
            }
        }

        return sb.ToString();
    }

    private static List<string> Query(TempDirectory dir, string sql)
    {
        using var c = Open(dir);
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<string>();
        while (r.Read())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "NULL" : Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    private static string[] Lines(MkioProcess p) => p.Stdout.Split('\n');

    [Test, CancelAfter(90_000)]
    public async Task DbUpdate_DryRun_PrintsTableAndSqlStepsAndChangesNothing(CancellationToken ct)
    {
        using var dir = await V1DatabaseAsync(ct);
        var before = Dump(dir);
        var (code, p) = await RunAsync(dir, ct, "dbupdate", "v2.toml", "--dry-run");
        await using (p)
        {
            using (Assert.EnterMultipleScope())
            {
                Assert.That(code, Is.Zero, p.Output);
                Assert.That(Lines(p), Is.EqualTo(V2Table.Concat(
                [
                    "  SQL steps (one transaction):",
                    "      1. ALTER TABLE orders RENAME TO orders_old",
                    "      2. CREATE TABLE orders (id TEXT PRIMARY KEY, symbol TEXT NOT NULL, qty REAL, note TEXT DEFAULT 'n', _mkio_ref TEXT DEFAULT '')",
                    "      3. INSERT INTO orders (rowid, id, qty, symbol, _mkio_ref) SELECT rowid, id, qty, symbol, _mkio_ref FROM orders_old ORDER BY rowid",
                    "      4. DROP TABLE orders_old",
                    "      5. CREATE INDEX idx_orders__mkio_ref ON orders(_mkio_ref)",
                    "      6. CREATE TABLE IF NOT EXISTS extra (a TEXT)",
                    "      7. DROP TABLE legacy",
                    string.Empty,
                    "  Dry run: nothing was applied; applying it needs --allow-destructive.",
                ])), p.Output);
                Assert.That(Dump(dir), Is.EqualTo(before), "a dry run changes nothing");
            }
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task DbUpdate_DryRun_MissingDatabase_PlansCreatesWithoutCreatingTheFile(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("v2.toml"), V2);
        var (code, p) = await RunAsync(dir, ct, "dbupdate", "v2.toml", "--dry-run");
        await using (p)
        {
            Assert.That(code, Is.Zero, p.Output);
            Assert.That(p.Stdout, Does.Contain("      1. CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, symbol TEXT NOT NULL, qty REAL, note TEXT DEFAULT 'n')"));
            Assert.That(p.Stdout, Does.Contain("  Dry run: nothing was applied."));
            Assert.That(File.Exists(dir.File("orders.db")), Is.False);
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task DbUpdate_WithoutFlags_RiskyChanges_RefusedExit1NothingApplied(CancellationToken ct)
    {
        using var dir = await V1DatabaseAsync(ct);
        var before = Dump(dir);
        var (code, p) = await RunAsync(dir, ct, "dbupdate", "v2.toml");
        await using (p)
        {
            using (Assert.EnterMultipleScope())
            {
                Assert.That(code, Is.EqualTo(1));
                Assert.That(Lines(p), Is.EqualTo(V2Table.Concat(
                [
                    "  ERROR: Potentially destructive changes require --allow-risky.",
                    "  ERROR: Destructive changes require --allow-destructive.",
                    "  Nothing was applied.",
                ])), p.Output);
                Assert.That(Dump(dir), Is.EqualTo(before), "not even the safe changes");
            }
        }

        (code, p) = await RunAsync(dir, ct, "dbupdate", "v2.toml", "--allow-risky");
        await using (p)
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(Lines(p)[^2..], Is.EqualTo(new[] { "  ERROR: Destructive changes require --allow-destructive.", "  Nothing was applied." }));
            Assert.That(Dump(dir), Is.EqualTo(before));
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task DbUpdate_AllowDestructive_AppliesEverythingInOneGoAndKeepsData(CancellationToken ct)
    {
        using var dir = await V1DatabaseAsync(ct);
        var (code, p) = await RunAsync(dir, ct, "dbupdate", "v2.toml", "--allow-destructive");
        await using (p)
        {
            using (Assert.EnterMultipleScope())
            {
                Assert.That(code, Is.Zero, p.Output);
                Assert.That(Lines(p), Is.EqualTo(V2Table.Append("  Schema changes applied successfully.")), p.Output);
                Assert.That(Query(dir, "SELECT name FROM pragma_table_info('orders')"), Is.EqualTo(new[] { "id", "symbol", "qty", "note", "_mkio_ref" }));
                Assert.That(Query(dir, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"), Is.EqualTo(new[] { "extra", "orders" }));
                Assert.That(Query(dir, "SELECT name FROM pragma_table_info('extra')"), Is.EqualTo(new[] { "a", "_mkio_ref" }), "dbupdate leaves the file ready: _mkio_ref added");
                Assert.That(Query(dir, "SELECT COUNT(*), COUNT(DISTINCT _mkio_ref), MIN(note), MAX(note) FROM orders"), Is.EqualTo(new[] { "100|100|n|n" }));
                Assert.That(Query(dir, "SELECT id, symbol, qty, typeof(qty), _mkio_ref FROM orders WHERE rowid = 42"), Is.EqualTo(new[] { "o42|S0|42|real|20260101 00:00:00.000000000042" }));
            }
        }

        (code, p) = await RunAsync(dir, ct, "dbupdate", "v2.toml");
        await using (p)
        {
            Assert.That(code, Is.Zero, p.Output);
            Assert.That(p.Stdout, Is.EqualTo("  Database \"orders.db\" matches the config; no schema changes."));
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task DbUpdate_AllowRisky_OnlyRiskyChanges_Applied(CancellationToken ct)
    {
        using var dir = await V1DatabaseAsync(ct);
        File.WriteAllText(dir.File("v3.toml"), V1.Replace("qty = \"INTEGER\"", "qty = \"TEXT\"", StringComparison.Ordinal));
        var (code, p) = await RunAsync(dir, ct, "dbupdate", "v3.toml", "--allow-risky");
        await using (p)
        {
            Assert.That(code, Is.Zero, p.Output);
            Assert.That(p.Stdout, Does.Contain("  orders               Change column \"qty\" type from INTEGER to TEXT POTENTIALLY DESTRUCTIVE   Values may not convert cleanly"));
            Assert.That(Lines(p)[^1], Is.EqualTo("  Schema changes applied successfully."));
            Assert.That(Query(dir, "SELECT DISTINCT typeof(qty) FROM orders"), Is.EqualTo(new[] { "text" }));
            Assert.That(Query(dir, "SELECT COUNT(*) FROM legacy"), Is.EqualTo(new[] { "1234" }));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task DbUpdate_MissingConfig_Exit1(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var (code, p) = await RunAsync(dir, ct, "dbupdate", "nope.toml");
        await using (p)
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(p.Output, Does.Contain("Config file not found: nope.toml"));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task DbUpdate_InvalidConfig_OneMessagePerErrorExit1NoDatabase(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("bad.toml"), "db_path = \"orders.db\"\n\n[tables.orders]\ncolumns = { id = \"TEXT PRIMARY KEY\", qty = \"INTEGER PRIMARY KEY\" }\n");
        var (code, p) = await RunAsync(dir, ct, "dbupdate", "bad.toml");
        await using (p)
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(p.Stderr, Does.StartWith("Invalid mkio configuration in bad.toml").And.Contain("more than one PRIMARY KEY"), p.Output);
            Assert.That(p.Output, Does.Not.Contain("   at "));
            Assert.That(File.Exists(dir.File("orders.db")), Is.False);
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task Serve_RiskyChangesNoTerminal_PrintsTableAndErrorAppliesNothingExit1(CancellationToken ct)
    {
        using var dir = await V1DatabaseAsync(ct);
        var before = Dump(dir);
        var (code, p) = await RunAsync(dir, ct, "serve", "v2.toml", "--port", "0");
        await using (p)
        {
            using (Assert.EnterMultipleScope())
            {
                Assert.That(code, Is.EqualTo(1));
                Assert.That(Lines(p), Is.EqualTo(V2Table.Concat(
                [
                    "  ERROR: Destructive/potentially destructive changes require confirmation.",
                    "  Run interactively or set auto_migrate=true in config.",
                ])), p.Output);
                Assert.That(p.Stderr, Is.Empty, "the report is printed once, without a stack trace");
                Assert.That(Dump(dir), Is.EqualTo(before), "nothing applied, not even the safe changes");
            }
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task Serve_AutoMigrateTrueWithBackup_BackupThenAppliesThenRuns(CancellationToken ct)
    {
        using var dir = await V1DatabaseAsync(ct);
        File.WriteAllText(dir.File("v2auto.toml"), "auto_migrate = true\nbackup_on_startup = true\n" + V2);
        await using var p = MkioProcess.Start(dir.Path, "serve", "v2auto.toml", "--port", "0");
        await p.WaitForStdoutAsync(RunningLine(), ct);
        var lines = Lines(p);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(lines[0], Does.Match(@"^  Backup created: backups/orders_backup_\d{8}_\d{6}_\d{12}\.db$"));
            Assert.That(lines[1..12], Is.EqualTo(V2Table));
            Assert.That(lines[12], Is.EqualTo("  auto_migrate=true, applying all changes..."));
            Assert.That(lines[13], Is.EqualTo($"mkio: database {dir.File("orders.db")} (opened, journal position 0), 1 services"));
            Assert.That(lines[14], Does.StartWith("mkio: open http://127.0.0.1:"));
            Assert.That(lines[15], Does.Match(RunningLine().ToString()));
            Assert.That(Directory.GetFiles(dir.File("backups")), Has.Length.EqualTo(1));
        }

        await p.TerminateAsync(ct);
        Assert.That(await p.WaitForExitAsync(ct), Is.Zero, p.Output);
        Assert.That(Query(dir, "SELECT COUNT(*), MIN(note) FROM orders"), Is.EqualTo(new[] { "100|n" }));
        Assert.That(Query(dir, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"), Is.EqualTo(new[] { "_mkio_journal_batch", "_mkio_journal_state", "extra", "orders" }));
    }
}
