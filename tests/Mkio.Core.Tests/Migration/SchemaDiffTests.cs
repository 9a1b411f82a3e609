using Mkio.Storage.Migration;

namespace Mkio.Core.Tests.Migration;

/// <summary>
/// The diff and classification of SERVICES.md §15.1–15.3: exact descriptions, levels and impacts,
/// in the reference's order; <c>_mkio_ref</c>, <c>_mkio*</c> and <c>sqlite_*</c> tables are invisible.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class SchemaDiffTests
{
    private const string Orders = """
        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER", price = "REAL DEFAULT 0", status = "TEXT DEFAULT 'pending'" }
        """;

    private static List<(string Table, string Description, ChangeLevel Level, string Impact, bool Recreate)> Changes(MigrationTestDb db, string toml) =>
        [.. db.Diff(db.Model(toml)).Changes.Select(c => (c.Table, c.Description, c.Level, c.Impact, c.NeedsRecreate))];

    [Test]
    public void Diff_SameSchemaWithRefColumnAndJournal_NoChanges()
    {
        using var db = new MigrationTestDb();
        db.Seed(Orders);
        db.Exec("CREATE TABLE _mkio_journal (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, ref TEXT NOT NULL, row TEXT NOT NULL)");
        db.Exec("CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT)");
        db.Exec("INSERT INTO audit (event) VALUES ('x')");

        Assert.That(Changes(db, Orders + "\n[tables.audit]\ncolumns = { id = \"INTEGER PRIMARY KEY AUTOINCREMENT\", event = \"TEXT\" }\n"), Is.Empty,
            "_mkio_ref, _mkio_journal and sqlite_sequence are not differences");
    }

    [Test]
    public void Diff_TableMissing_OneSafeCreateNewTable()
    {
        using var db = new MigrationTestDb();
        db.Seed(Orders);
        var changes = Changes(db, Orders + "\n[tables.extra]\ncolumns = { a = \"TEXT NOT NULL\", b = \"INTEGER\" }\n");
        Assert.That(changes, Is.EqualTo(new[] { ("extra", "Create new table", ChangeLevel.Safe, "None — new table", false) }));
    }

    [Test]
    public void Diff_ColumnAdds_ClassifiedLikeTheReference()
    {
        using var db = new MigrationTestDb();
        db.Seed(Orders);
        var toml = """
            [tables.orders]
            columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER", price = "REAL DEFAULT 0", status = "TEXT DEFAULT 'pending'", a = "TEXT", b = "INTEGER DEFAULT 7", c = "TEXT NOT NULL", d = "TEXT DEFAULT CURRENT_TIMESTAMP", e = "TEXT DEFAULT 'current_date'", f = "TEXT UNIQUE", g = "TEXT DEFAULT (datetime('now'))", h = "TEXT NOT NULL DEFAULT 'x'" }
            """;
        const string add = "None — existing rows get default/NULL";
        Assert.That(Changes(db, toml), Is.EqualTo(new[]
        {
            ("orders", "Add column \"a\"", ChangeLevel.Safe, add, false),
            ("orders", "Add column \"b\"", ChangeLevel.Safe, add, false),
            ("orders", "Add NOT NULL column \"c\" without default", ChangeLevel.PotentiallyDestructive, "Existing rows cannot satisfy NOT NULL constraint — requires table recreate", true),
            ("orders", "Add column \"d\" (non-constant default)", ChangeLevel.Safe, add, true),
            ("orders", "Add column \"e\" (non-constant default)", ChangeLevel.Safe, add, true),
            ("orders", "Add column \"f\"", ChangeLevel.Safe, add, false),
            ("orders", "Add column \"g\"", ChangeLevel.Safe, add, false),
            ("orders", "Add column \"h\"", ChangeLevel.Safe, add, false),
        }));
    }

    [Test]
    public void Diff_RemoveColumn_TypeChange_PrimaryKeyChange_RemoveTable_InReferenceOrder()
    {
        using var db = new MigrationTestDb();
        db.Seed(Orders + "\n[tables.legacy]\ncolumns = { x = \"TEXT\" }\n");
        db.Insert("INSERT INTO legacy (x) VALUES ('v' || $i)", 1234);
        var toml = """
            [tables.orders]
            columns = { id = "TEXT", symbol = "TEXT PRIMARY KEY", qty = "real", status = "TEXT DEFAULT 'pending'" }
            """;
        var diff = db.Diff(db.Model(toml));
        Assert.That(diff.Changes.Select(c => (c.Table, c.Description, c.Level, c.Impact, c.NeedsRecreate)), Is.EqualTo(new[]
        {
            ("orders", "Remove column \"price\"", ChangeLevel.Destructive, "Data in column \"price\" will be lost", true),
            ("orders", "Change column \"qty\" type from INTEGER to REAL", ChangeLevel.PotentiallyDestructive, "Values may not convert cleanly", true),
            ("orders", "Change primary key ['id'] → ['symbol']", ChangeLevel.PotentiallyDestructive, "Duplicate rows under new PK may be dropped", true),
            ("legacy", "Remove table", ChangeLevel.Destructive, "All data in table will be lost", false),
        }));
        Assert.That(diff.Changes[^1].RowCount, Is.EqualTo(1234));
        Assert.That(diff.MaxLevel, Is.EqualTo(ChangeLevel.Destructive));
    }

    [Test]
    public void Diff_PrimaryKeyOnOneSideOnly_IsNotAChange()
    {
        using var db = new MigrationTestDb();
        db.Exec("CREATE TABLE t (a TEXT, b TEXT)");
        Assert.That(Changes(db, "[tables.t]\ncolumns = { a = \"TEXT PRIMARY KEY\", b = \"TEXT\" }"), Is.Empty, "the reference compares keys only when both sides have one");
    }

    [Test]
    public void Diff_NamesDifferOnlyInCase_SameTableAndColumns()
    {
        using var db = new MigrationTestDb();
        db.Exec("CREATE TABLE Orders (ID TEXT PRIMARY KEY, Symbol TEXT)");
        Assert.That(Changes(db, "[tables.orders]\ncolumns = { id = \"TEXT PRIMARY KEY\", symbol = \"TEXT\" }"), Is.Empty,
            "SQLite identifiers are case-insensitive: no Create + Remove of the same table");
    }

    [Test]
    public void Diff_TypeWithSpaces_ComparesFirstWordLikeTheConfigParser()
    {
        using var db = new MigrationTestDb();
        db.Exec("CREATE TABLE t (a DECIMAL(10, 2), b varchar(20))");
        Assert.That(Changes(db, "[tables.t]\ncolumns = { a = \"DECIMAL(10, 2)\", b = \"VARCHAR(20)\" }"), Is.Empty);
    }

    [TestCase("CURRENT_TIMESTAMP", true)]
    [TestCase("current_date", true)]
    [TestCase("'CURRENT_TIME'", true)]
    [TestCase("\"current_timestamp\"", true)]
    [TestCase("(datetime('now'))", false)]
    [TestCase("0", false)]
    [TestCase("CURRENT_TIMESTAMP NOT NULL", false)]
    public void IsNonConstantDefault_ReferenceRule(string dflt, bool expected) =>
        Assert.That(SchemaDiff.IsNonConstantDefault(dflt), Is.EqualTo(expected));
}
