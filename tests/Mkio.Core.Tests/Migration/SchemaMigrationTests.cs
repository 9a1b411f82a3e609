using Mkio.Storage.Migration;

namespace Mkio.Core.Tests.Migration;

/// <summary>
/// The decision and output of start-up migration (SERVICES.md §15.4; CONFORMANCE items 122, 123,
/// 127–129) on real database files with data: safe changes applied silently with one line each,
/// risky ones applied only when <c>auto_migrate</c> allows them or the operator says yes, otherwise
/// the summary table, the error and nothing applied — not even the safe changes.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class SchemaMigrationTests
{
    internal const string Orders = """
        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER", price = "REAL DEFAULT 0", status = "TEXT DEFAULT 'pending'" }
        """;

    /// <summary>A file with the orders table and 100 rows written "by the server" (refs stamped).</summary>
    internal static MigrationTestDb OrdersWith100Rows()
    {
        var db = new MigrationTestDb();
        db.Seed(Orders);
        db.Insert("INSERT INTO orders (id, symbol, qty, price) VALUES ('o' || $i, 'S' || ($i % 7), $i, $i * 1.5)", 100);
        db.Exec("UPDATE orders SET _mkio_ref = '20260101 00:00:00.' || printf('%012d', rowid)");
        return db;
    }

    private static bool NoPrompt(string prompt)
    {
        Assert.Fail($"no prompt expected, got '{prompt}'");
        return false;
    }

    [Test]
    public void Run_NoChanges_SucceedsSilently()
    {
        using var db = OrdersWith100Rows();
        var action = db.Migrate(db.Model(Orders), NoPrompt);
        Assert.That(action, Is.EqualTo(MigrationAction.None));
        Assert.That(db.Output, Is.Empty);
    }

    [Test]
    public void Run_NewTable_SafeAppliedWithoutPrompt()
    {
        using var db = OrdersWith100Rows();
        var before = db.Rows("SELECT * FROM orders");
        var action = db.Migrate(db.Model(Orders + "\n[tables.extra]\ncolumns = { a = \"TEXT\" }\n"), NoPrompt);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(action, Is.EqualTo(MigrationAction.ApplySafe));
            Assert.That(db.Output, Is.EqualTo(new[] { "  Applied (safe): extra — Create new table" }));
            Assert.That(db.Columns("extra"), Is.EqualTo(new[] { "a" }), "created; _mkio_ref is added afterwards by the schema manager");
            Assert.That(db.Rows("SELECT * FROM orders"), Is.EqualTo(before));
        }
    }

    [Test]
    public void Run_NullableAndConstantDefaultColumns_SafeExistingRowsGetNullAndDefault()
    {
        using var db = OrdersWith100Rows();
        var toml = Orders.Replace("status = \"TEXT DEFAULT 'pending'\" }", "status = \"TEXT DEFAULT 'pending'\", note = \"TEXT\", prio = \"INTEGER DEFAULT 5\", tag = \"TEXT NOT NULL DEFAULT 'x'\" }", StringComparison.Ordinal);
        var model = db.Model(toml);
        Assert.That(db.Plan(model).Steps.Select(s => s.Sql), Is.EqualTo(new[]
        {
            "ALTER TABLE orders ADD COLUMN note TEXT",
            "ALTER TABLE orders ADD COLUMN prio INTEGER DEFAULT 5",
            "ALTER TABLE orders ADD COLUMN tag TEXT NOT NULL DEFAULT 'x'",
        }), "plain adds need no rebuild");

        db.Migrate(model, NoPrompt);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(db.Output, Is.EqualTo(new[]
            {
                "  Applied (safe): orders — Add column \"note\"",
                "  Applied (safe): orders — Add column \"prio\"",
                "  Applied (safe): orders — Add column \"tag\"",
            }));
            Assert.That(db.Count("orders"), Is.EqualTo(100));
            Assert.That(db.Rows("SELECT DISTINCT note, prio, tag FROM orders"), Is.EqualTo(new[] { "note=NULL, prio=5, tag='x'" }));
            Assert.That(db.Rows("SELECT id, qty, price FROM orders WHERE rowid = 42"), Is.EqualTo(new[] { "id='o42', qty=42, price=63r" }));
        }
    }

    [Test]
    public void Run_RiskyChangesAutoMigrateOffNoTerminal_TablePrintedNothingAppliedRefused()
    {
        using var db = OrdersWith100Rows();
        var before = db.Dump();
        var toml = """
            [tables.orders]
            columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER", status = "TEXT DEFAULT 'pending'", note = "TEXT" }

            [tables.extra]
            columns = { a = "TEXT" }
            """;
        var ex = Assert.Throws<MkioConfigurationException>(() => db.Migrate(db.Model(toml)));
        var table = "\n"
            + $"Schema changes detected for database \"{db.File}\":\n"
            + "\n"
            + "  TABLE                CHANGE                                        LEVEL                     DATA IMPACT\n"
            + "  -------------------- --------------------------------------------- ------------------------- ----------------------------------------\n"
            + "  orders               Add column \"note\"                             SAFE                      None — existing rows get default/NULL\n"
            + "  orders               Remove column \"price\"                         DESTRUCTIVE               Data in column \"price\" will be lost\n"
            + "  extra                Create new table                              SAFE                      None — new table\n";
        using (Assert.EnterMultipleScope())
        {
            Assert.That(db.OutputText, Is.EqualTo(table
                + "\n  ERROR: Destructive/potentially destructive changes require confirmation."
                + "\n  Run interactively or set auto_migrate=true in config."));
            Assert.That(SchemaMigration.IsRefusal(ex!), Is.True);
            Assert.That(ex!.Message.Replace("\r\n", "\n", StringComparison.Ordinal), Does.Contain(table), "the exception carries the summary table");
            Assert.That(ex.Message, Does.Contain("nothing was applied"));
            Assert.That(db.Dump(), Is.EqualTo(before), "nothing applied, not even the safe changes");
        }
    }

    [TestCase(MkioAutoMigrate.Destructive, "  auto_migrate=true, applying all changes...")]
    public void Run_AutoMigrateTrue_AppliesEverythingKeepsData(MkioAutoMigrate mode, string line)
    {
        using var db = OrdersWith100Rows();
        var toml = """
            [tables.orders]
            columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "REAL", status = "TEXT DEFAULT 'pending'" }
            """;
        var action = db.Migrate(db.Model(toml, mode), NoPrompt);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(action, Is.EqualTo(MigrationAction.ApplyAll));
            Assert.That(db.Output, Has.Count.EqualTo(2));
            Assert.That(db.Output[0], Does.Contain("Remove column \"price\"").And.Contain("Change column \"qty\" type from INTEGER to REAL"));
            Assert.That(db.Output[1], Is.EqualTo(line));
            Assert.That(db.Columns("orders"), Is.EqualTo(new[] { "id", "symbol", "qty", "status", "_mkio_ref" }));
            Assert.That(db.Count("orders"), Is.EqualTo(100));
            Assert.That(db.Rows("SELECT * FROM orders WHERE id = 'o42'"), Is.EqualTo(new[] { "id='o42', symbol='S0', qty=42r, status='pending', _mkio_ref='20260101 00:00:00.000000000042'" }),
                "kept columns keep their values, converted to the new affinity; _mkio_ref survives");
        }
    }

    [Test]
    public void Run_AutoMigrateRisky_AppliesPotentiallyDestructiveButRefusesDestructive()
    {
        using (var db = OrdersWith100Rows())
        {
            var toml = Orders.Replace("qty = \"INTEGER\"", "qty = \"REAL\"", StringComparison.Ordinal);
            Assert.That(db.Migrate(db.Model(toml, MkioAutoMigrate.Risky), NoPrompt), Is.EqualTo(MigrationAction.ApplyAll));
            Assert.That(db.Output[^1], Is.EqualTo("  auto_migrate=risky, applying all changes..."));
            Assert.That(db.Scalar("SELECT typeof(qty) FROM orders LIMIT 1"), Is.EqualTo("real"));
        }

        using (var db = OrdersWith100Rows())
        {
            var before = db.Dump();
            var toml = Orders.Replace(", price = \"REAL DEFAULT 0\"", string.Empty, StringComparison.Ordinal);
            Assert.Throws<MkioConfigurationException>(() => db.Migrate(db.Model(toml, MkioAutoMigrate.Risky)));
            Assert.That(db.Dump(), Is.EqualTo(before));
        }
    }

    [Test]
    public void Run_Interactive_YesAppliesWithSuccessLine()
    {
        using var db = OrdersWith100Rows();
        var prompts = new List<string>();
        var toml = Orders.Replace(", price = \"REAL DEFAULT 0\"", string.Empty, StringComparison.Ordinal);
        var action = db.Migrate(db.Model(toml), p =>
        {
            prompts.Add(p);
            return true;
        });
        using (Assert.EnterMultipleScope())
        {
            Assert.That(action, Is.EqualTo(MigrationAction.Ask));
            Assert.That(prompts, Is.EqualTo(new[] { "  Apply these changes? [y/N] " }));
            Assert.That(db.Output, Has.Count.EqualTo(2));
            Assert.That(db.Output[0], Does.StartWith("\nSchema changes detected for database").Or.StartWith("\r\nSchema changes detected for database"));
            Assert.That(db.Output[1], Is.EqualTo("  Schema changes applied successfully."));
            Assert.That(db.Columns("orders"), Does.Not.Contain("price"));
            Assert.That(db.Count("orders"), Is.EqualTo(100));
        }
    }

    [Test]
    public void Run_Interactive_NoCancelsAndAppliesNothing()
    {
        using var db = OrdersWith100Rows();
        var before = db.Dump();
        var toml = Orders.Replace(", price = \"REAL DEFAULT 0\"", ", extra = \"TEXT\"", StringComparison.Ordinal);
        var ex = Assert.Throws<MkioConfigurationException>(() => db.Migrate(db.Model(toml), _ => false));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(db.Output[^1], Is.EqualTo("  Migration cancelled."));
            Assert.That(SchemaMigration.IsRefusal(ex!), Is.True);
            Assert.That(ex!.Message, Does.Contain("cancelled"));
            Assert.That(db.Dump(), Is.EqualTo(before));
        }
    }

    [TestCase(MkioAutoMigrate.Off)]
    [TestCase(MkioAutoMigrate.Safe)]
    [TestCase(MkioAutoMigrate.Risky)]
    [TestCase(MkioAutoMigrate.Destructive)]
    public void Decide_OnlySafe_AppliedInEveryMode(MkioAutoMigrate mode)
    {
        using var db = OrdersWith100Rows();
        var diff = db.Diff(db.Model(Orders + "\n[tables.extra]\ncolumns = { a = \"TEXT\" }\n"));
        Assert.That(SchemaMigration.Decide(diff, mode, canAsk: false), Is.EqualTo(MigrationAction.ApplySafe));
        Assert.That(SchemaMigration.Decide(diff, mode, canAsk: true), Is.EqualTo(MigrationAction.ApplySafe));
    }

    [TestCase(MkioAutoMigrate.Off, false, "PotentiallyDestructive", "Refuse")]
    [TestCase(MkioAutoMigrate.Off, true, "PotentiallyDestructive", "Ask")]
    [TestCase(MkioAutoMigrate.Safe, false, "PotentiallyDestructive", "Refuse")]
    [TestCase(MkioAutoMigrate.Safe, true, "Destructive", "Ask")]
    [TestCase(MkioAutoMigrate.Risky, false, "PotentiallyDestructive", "ApplyAll")]
    [TestCase(MkioAutoMigrate.Risky, false, "Destructive", "Refuse")]
    [TestCase(MkioAutoMigrate.Risky, true, "Destructive", "Ask")]
    [TestCase(MkioAutoMigrate.Destructive, false, "Destructive", "ApplyAll")]
    [TestCase(MkioAutoMigrate.Destructive, true, "Destructive", "ApplyAll")]
    public void Decide_RiskyChanges_ByModeAndTerminal(MkioAutoMigrate mode, bool canAsk, string levelName, string expectedName)
    {
        var level = Enum.Parse<ChangeLevel>(levelName);
        var expected = Enum.Parse<MigrationAction>(expectedName);
        using var db = OrdersWith100Rows();
        var toml = level == ChangeLevel.Destructive
            ? Orders.Replace(", price = \"REAL DEFAULT 0\"", string.Empty, StringComparison.Ordinal)
            : Orders.Replace("qty = \"INTEGER\"", "qty = \"TEXT\"", StringComparison.Ordinal);
        var diff = db.Diff(db.Model(toml));
        Assert.That(diff.MaxLevel, Is.EqualTo(level));
        Assert.That(SchemaMigration.Decide(diff, mode, canAsk), Is.EqualTo(expected));
    }

    [Test]
    public void Decide_NoChanges_None()
    {
        using var db = OrdersWith100Rows();
        Assert.That(SchemaMigration.Decide(db.Diff(db.Model(Orders)), MkioAutoMigrate.Off, canAsk: false), Is.EqualTo(MigrationAction.None));
    }

    [Test]
    public void AutoMigrate_TomlValues_MapToModes()
    {
        using var db = new MigrationTestDb();
        Assert.That(db.Model("auto_migrate = true\n" + Orders).Options.AutoMigrate, Is.EqualTo(MkioAutoMigrate.Destructive));
        Assert.That(db.Model("auto_migrate = false\n" + Orders).Options.AutoMigrate, Is.EqualTo(MkioAutoMigrate.Off));
        Assert.That(db.Model("auto_migrate = \"risky\"\n" + Orders).Options.AutoMigrate, Is.EqualTo(MkioAutoMigrate.Risky));
        Assert.That(db.Model("auto_migrate = \"safe\"\n" + Orders).Options.AutoMigrate, Is.EqualTo(MkioAutoMigrate.Safe));
    }
}
