using Microsoft.Data.Sqlite;
using Mkio.Storage;
using Mkio.Storage.Migration;
using static Mkio.Core.Tests.Migration.SchemaMigrationTests;

namespace Mkio.Core.Tests.Migration;

/// <summary>
/// Applying plans on real files with data (CONFORMANCE items 124–126, 130; fix F5): one transaction,
/// one rebuild per table covering all its changes, rows, rowids, <c>_mkio_ref</c> values,
/// AUTOINCREMENT counters and indexes carried over; primary-key and expression-default columns
/// added; any failure leaves the file exactly as it was.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class MigratorTests
{
    private static string WithoutPrice => Orders.Replace(", price = \"REAL DEFAULT 0\"", string.Empty, StringComparison.Ordinal);

    [Test]
    public void RemoveColumn_Destructive_100RowsSurviveWithValuesAndRefs()
    {
        using var db = OrdersWith100Rows();
        var model = db.Model(WithoutPrice, MkioAutoMigrate.Destructive);
        var plan = db.Plan(model);
        Assert.That(plan.Changes.Single().Level, Is.EqualTo(ChangeLevel.Destructive));
        Assert.That(plan.Steps.Select(s => s.Sql), Is.EqualTo(new[]
        {
            "ALTER TABLE orders RENAME TO orders_old",
            "CREATE TABLE orders (id TEXT PRIMARY KEY, symbol TEXT NOT NULL, qty INTEGER, status TEXT DEFAULT 'pending', _mkio_ref TEXT DEFAULT '')",
            "INSERT INTO orders (rowid, id, qty, status, symbol, _mkio_ref) SELECT rowid, id, qty, status, symbol, _mkio_ref FROM orders_old ORDER BY rowid",
            "DROP TABLE orders_old",
            "CREATE INDEX idx_orders__mkio_ref ON orders(_mkio_ref)",
        }));

        var expected = db.Rows("SELECT rowid, id, symbol, qty, status, _mkio_ref FROM orders ORDER BY rowid");
        db.Migrate(model);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(db.Columns("orders"), Is.EqualTo(new[] { "id", "symbol", "qty", "status", "_mkio_ref" }));
            Assert.That(db.Rows("SELECT rowid, * FROM orders ORDER BY rowid"), Is.EqualTo(expected), "100 rows, same rowids, values and refs");
            Assert.That(expected, Has.Count.EqualTo(100));
            Assert.That(db.TableNames(), Is.EqualTo(new[] { "orders" }), "no orders_old left");
            Assert.That(db.Scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'idx_orders__mkio_ref'"), Is.EqualTo(1L));
        }
    }

    [Test]
    public void RemoveTable_Destructive_ReportCountsRowsAndDropIsApplied()
    {
        using var db = OrdersWith100Rows();
        db.Exec("CREATE TABLE legacy (x TEXT)");
        db.Insert("INSERT INTO legacy (x) VALUES ('v' || $i)", 1234);
        db.Migrate(db.Model(Orders, MkioAutoMigrate.Destructive));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(db.Output[0], Does.Contain("  legacy               Remove table                                  DESTRUCTIVE               All 1,234 rows will be lost"));
            Assert.That(db.TableNames(), Is.EqualTo(new[] { "orders" }));
            Assert.That(db.Count("orders"), Is.EqualTo(100));
        }
    }

    /// <summary>Dropping <c>legacy</c>: the table, the high-water mark, then its journal entries from <paramref name="journal"/>.</summary>
    private static void AssertDropLegacyPlan(MigrationTestDb db, string journal) =>
        Assert.That(db.Plan(db.Model(Orders)).Steps.Select(s => s.Sql), Is.EqualTo(new[]
        {
            "DROP TABLE legacy",
            ChangeJournal.CreateStateSql,
            ChangeJournal.SaveHighWaterSql,
            $"DELETE FROM {journal} WHERE tbl = 'legacy'",
        }));

    [Test]
    public void RemoveTable_DeletesItsJournalEntriesOnly_JournalTableNeverTouched()
    {
        using var db = OrdersWith100Rows();
        db.Exec("CREATE TABLE legacy (x TEXT)");
        db.Exec("CREATE TABLE _mkio_journal (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, ref TEXT NOT NULL, row TEXT NOT NULL)");
        db.Exec("INSERT INTO _mkio_journal VALUES (1, 'orders', 'insert', 'r1', '{}'), (2, 'legacy', 'insert', 'r2', '{}'), (3, 'orders', 'delete', 'r3', '{}')");
        AssertDropLegacyPlan(db, "_mkio_journal");
        db.Migrate(db.Model(Orders, MkioAutoMigrate.Destructive));
        Assert.That(db.Rows("SELECT seq, tbl FROM _mkio_journal ORDER BY seq"), Is.EqualTo(new[] { "seq=1, tbl='orders'", "seq=3, tbl='orders'" }));
    }

    /// <summary>
    /// The per-batch journal: a dropped table's records go, the other tables' records stay (a record
    /// holds one table's changes of one batch).
    /// </summary>
    [Test]
    public void RemoveTable_BatchJournal_DeletesItsRecordsOnly()
    {
        using var db = OrdersWith100Rows();
        db.Exec("CREATE TABLE legacy (x TEXT)");
        using (var c = db.Open())
        {
            ChangeJournal.EnsureCreated(c);
        }

        db.Exec("""
            INSERT INTO _mkio_journal_batch (last, first, tbl, n, events) VALUES
            (3, 1, 'orders', 2, '[[1,"insert","r1","{}"],[3,"delete","r3","{}"]]'),
            (2, 2, 'legacy', 1, '[[2,"insert","r2","{}"]]'),
            (4, 4, 'legacy', 1, '[[4,"insert","r4","{}"]]')
            """);
        AssertDropLegacyPlan(db, "_mkio_journal_batch");
        db.Migrate(db.Model(Orders, MkioAutoMigrate.Destructive));
        using var after = db.Open();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(db.Rows("SELECT seq, tbl, op FROM _mkio_journal ORDER BY seq"), Is.EqualTo(new[] { "seq=1, tbl='orders', op='insert'", "seq=3, tbl='orders', op='delete'" }));
            Assert.That(ChangeJournal.MaxSequence(after), Is.EqualTo(4), "the dropped table held the newest sequence: the next commit gets 5");
        }
    }

    /// <summary>
    /// The dropped table's entries included the newest sequence: the high-water mark keeps the next
    /// commit above it, so no sequence a client or listener saw is handed out again.
    /// </summary>
    [Test]
    public void RemoveTable_ItsEntriesHeldTheNewestSequence_NextSequenceStaysAboveIt()
    {
        using var db = OrdersWith100Rows();
        db.Exec("CREATE TABLE legacy (x TEXT)");
        db.Exec("CREATE TABLE _mkio_journal (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, ref TEXT NOT NULL, row TEXT NOT NULL)");
        db.Exec("INSERT INTO _mkio_journal VALUES (1, 'orders', 'insert', 'r1', '{}'), (2, 'legacy', 'insert', 'r2', '{}'), (3, 'legacy', 'delete', 'r3', '{}')");
        db.Migrate(db.Model(Orders, MkioAutoMigrate.Destructive));
        using var c = db.Open();

        // The server's start-up converts the one-row-per-change journal to per-batch records.
        ChangeJournal.EnsureCreated(c);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(db.Rows("SELECT seq, tbl FROM _mkio_journal ORDER BY seq"), Is.EqualTo(new[] { "seq=1, tbl='orders'" }));
            Assert.That(ChangeJournal.MaxSequence(c), Is.EqualTo(3), "the next commit gets 4, not 2");
            Assert.That(ChangeJournal.IsComplete(c), Is.True, "a dropped table's entries are not pruning");
        }
    }

    [Test]
    public void PrimaryKeyChange_Duplicates_FirstRowPerNewKeyKept_10To6_NotePrinted()
    {
        using var db = new MigrationTestDb();
        db.Seed(Orders);
        db.Insert("INSERT INTO orders (id, symbol, qty) VALUES ('o' || $i, 'S' || ($i % 6), $i)", 10);
        db.Exec("UPDATE orders SET _mkio_ref = 'r' || rowid");
        var toml = Orders.Replace("id = \"TEXT PRIMARY KEY\", symbol = \"TEXT NOT NULL\"", "id = \"TEXT NOT NULL\", symbol = \"TEXT PRIMARY KEY\"", StringComparison.Ordinal);
        var model = db.Model(toml, MkioAutoMigrate.Destructive);
        var plan = db.Plan(model);
        Assert.That(plan.Changes.Select(c => c.Description), Is.EqualTo(new[] { "Change primary key ['id'] → ['symbol']" }));
        Assert.That(plan.Steps[2].Sql, Is.EqualTo("INSERT INTO orders (rowid, id, price, qty, status, symbol, _mkio_ref) SELECT rowid, id, price, qty, status, symbol, _mkio_ref FROM orders_old WHERE true ORDER BY rowid ON CONFLICT DO NOTHING"));

        db.Migrate(model);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(db.Output, Is.EqualTo(new[] { db.Output[0], "  auto_migrate=true, applying all changes...", "  Note: 4 rows were deduplicated during migration" }));
            Assert.That(db.Count("orders"), Is.EqualTo(6));
            Assert.That(db.Rows("SELECT symbol, id, _mkio_ref FROM orders ORDER BY rowid"), Is.EqualTo(new[]
            {
                "symbol='S1', id='o1', _mkio_ref='r1'",
                "symbol='S2', id='o2', _mkio_ref='r2'",
                "symbol='S3', id='o3', _mkio_ref='r3'",
                "symbol='S4', id='o4', _mkio_ref='r4'",
                "symbol='S5', id='o5', _mkio_ref='r5'",
                "symbol='S0', id='o6', _mkio_ref='r6'",
            }), "the first row (by rowid) of every new key");
        }
    }

    [Test]
    public void PrimaryKeyChange_RowViolatingNotNull_FailsInsteadOfSilentlyDropping()
    {
        using var db = new MigrationTestDb();
        db.Exec("CREATE TABLE t (a TEXT PRIMARY KEY, b TEXT)");
        db.Exec("INSERT INTO t VALUES ('1', 'x'), ('2', NULL)");
        var before = db.Dump();
        var ex = Assert.Throws<MkioConfigurationException>(() => db.Migrate(db.Model("[tables.t]\ncolumns = { a = \"TEXT NOT NULL\", b = \"TEXT PRIMARY KEY NOT NULL\" }", MkioAutoMigrate.Destructive)));
        Assert.That(ex!.Message, Does.Contain("NOT NULL constraint failed: t.b"));
        Assert.That(db.Dump(), Is.EqualTo(before));
    }

    [Test]
    public void Failure_NotNullColumnWithoutDefaultOnNonEmptyTable_DatabaseExactlyAsBefore()
    {
        using var db = OrdersWith100Rows();
        db.Exec("CREATE INDEX idx_orders_symbol ON orders(symbol)");
        var before = db.Dump();
        var toml = Orders.Replace("status = \"TEXT DEFAULT 'pending'\" }", "status = \"TEXT DEFAULT 'pending'\", region = \"TEXT NOT NULL\" }", StringComparison.Ordinal);
        var ex = Assert.Throws<MkioConfigurationException>(() => db.Migrate(db.Model(toml, MkioAutoMigrate.Destructive)));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Message, Does.Contain($"Schema migration of database \"{db.File}\" failed and was rolled back; the database is unchanged."));
            Assert.That(ex.Message, Does.Contain("NOT NULL constraint failed: orders.region"));
            Assert.That(ex.Message, Does.Contain("Failed statement: INSERT INTO orders"));
            Assert.That(ex.InnerException, Is.InstanceOf<SqliteException>());
            Assert.That(SchemaMigration.IsRefusal(ex), Is.False);
            Assert.That(db.Dump(), Is.EqualTo(before), "schema and every row as before");
            Assert.That(db.TableNames(), Does.Not.Contain("orders_old"));
        }
    }

    [Test]
    public void Failure_LastTableFailsAfterOthersSucceeded_EverythingRolledBack()
    {
        using var db = OrdersWith100Rows();
        db.Seed("[tables.audit]\ncolumns = { id = \"INTEGER PRIMARY KEY AUTOINCREMENT\", event = \"TEXT\" }");
        db.Insert("INSERT INTO audit (event) VALUES ('e' || $i)", 5);
        var before = db.Dump();
        var toml = """
            [tables.audit]
            columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", event = "TEXT", extra = "TEXT DEFAULT 'x'" }

            [tables.fresh]
            columns = { a = "TEXT" }

            [tables.orders]
            columns = { id = "INTEGER PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER", price = "REAL DEFAULT 0", status = "TEXT DEFAULT 'pending'" }
            """;
        var model = db.Model(toml, MkioAutoMigrate.Destructive);
        Assert.That(db.Plan(model).Steps.Select(s => s.Sql).Take(3), Is.EqualTo(new[]
        {
            "ALTER TABLE audit ADD COLUMN extra TEXT DEFAULT 'x'",
            "CREATE TABLE IF NOT EXISTS fresh (a TEXT)",
            "ALTER TABLE orders RENAME TO orders_old",
        }));

        // 'o1' cannot go into an INTEGER PRIMARY KEY: the copy of the last table fails, mid-migration.
        var ex = Assert.Throws<MkioConfigurationException>(() => db.Migrate(model));
        Assert.That(ex!.Message, Does.Contain("datatype mismatch"));
        Assert.That(db.Dump(), Is.EqualTo(before), "the ALTER and the CREATE of earlier tables are rolled back too");
    }

    [Test]
    public void Failure_CheckConstraintViolatedByExistingRows_DatabaseExactlyAsBefore()
    {
        using var db = OrdersWith100Rows();
        var before = db.Dump();
        var toml = Orders.Replace("status = \"TEXT DEFAULT 'pending'\" }", "status = \"TEXT DEFAULT 'pending'\", note = \"TEXT\", flag = \"INTEGER DEFAULT 0 CHECK (flag > 0)\" }", StringComparison.Ordinal);
        var ex = Assert.Throws<MkioConfigurationException>(() => db.Migrate(db.Model(toml)));
        Assert.That(ex!.Message, Does.Contain("CHECK constraint failed"));
        Assert.That(db.Output, Is.Empty, "nothing reported as applied");
        Assert.That(db.Dump(), Is.EqualTo(before), "the first ADD COLUMN is rolled back too");
    }

    [Test]
    public void Failure_SchemaChangedAfterPlanning_NothingApplied()
    {
        using var db = OrdersWith100Rows();
        var plan = db.Plan(db.Model(WithoutPrice));
        db.Exec("ALTER TABLE orders ADD COLUMN surprise TEXT");
        var before = db.Dump();
        using var c = db.Open();
        var ex = Assert.Throws<MkioConfigurationException>(() => Migrator.Apply(c, plan, "orders.db"));
        Assert.That(ex!.Message, Does.Contain("The database schema changed while the migration was being prepared."));
        Assert.That(db.Dump(), Is.EqualTo(before));
    }

    [Test]
    public void AddAndRemoveOnOneTable_OneRebuild_BothTakeEffect()
    {
        using var db = OrdersWith100Rows();
        var toml = Orders.Replace("price = \"REAL DEFAULT 0\", status = \"TEXT DEFAULT 'pending'\" }", "status = \"TEXT DEFAULT 'pending'\", note = \"TEXT DEFAULT 'n'\" }", StringComparison.Ordinal);
        var model = db.Model(toml, MkioAutoMigrate.Destructive);
        var plan = db.Plan(model);
        Assert.That(plan.Changes.Select(c => c.Description), Is.EqualTo(new[] { "Add column \"note\"", "Remove column \"price\"" }));
        Assert.That(plan.Steps.Count(s => s.Sql.StartsWith("ALTER TABLE orders RENAME", StringComparison.Ordinal)), Is.EqualTo(1));
        Assert.That(plan.Steps.Any(s => s.Sql.Contains("ADD COLUMN", StringComparison.Ordinal)), Is.False, "the add is part of the rebuild");
        Assert.That(plan.RebuiltTables, Is.EqualTo(new[] { "orders" }));

        db.Migrate(model);
        Assert.That(db.Columns("orders"), Is.EqualTo(new[] { "id", "symbol", "qty", "status", "note", "_mkio_ref" }), "config order, _mkio_ref last");
        Assert.That(db.Rows("SELECT DISTINCT note FROM orders"), Is.EqualTo(new[] { "note='n'" }));
        Assert.That(db.Diff(model).IsEmpty, Is.True, "nothing left to migrate at the next start");
    }

    [Test]
    public void RefValues_SurviveRebuild()
    {
        using var db = OrdersWith100Rows();
        var refs = db.Rows("SELECT id, _mkio_ref FROM orders ORDER BY rowid");
        db.Migrate(db.Model(Orders.Replace("qty = \"INTEGER\"", "qty = \"TEXT\"", StringComparison.Ordinal), MkioAutoMigrate.Risky));
        Assert.That(db.Rows("SELECT id, _mkio_ref FROM orders ORDER BY rowid"), Is.EqualTo(refs));
        Assert.That(db.Scalar("SELECT COUNT(*) FROM orders WHERE _mkio_ref = ''"), Is.Zero);
    }

    [Test]
    public void AddIntegerPrimaryKeyColumn_RowsGetTheirRowids()
    {
        using var db = new MigrationTestDb();
        db.Seed("[tables.events]\ncolumns = { name = \"TEXT\" }");
        db.Insert("INSERT INTO events (name) VALUES ('e' || $i)", 5);
        db.Exec("DELETE FROM events WHERE name = 'e2'");
        var model = db.Model("[tables.events]\ncolumns = { id = \"INTEGER PRIMARY KEY AUTOINCREMENT\", name = \"TEXT\" }");
        var plan = db.Plan(model);
        Assert.That(plan.Changes.Select(c => (c.Description, c.Level)), Is.EqualTo(new[] { ("Add column \"id\"", ChangeLevel.Safe) }));
        Assert.That(plan.Steps[2].Sql, Is.EqualTo("INSERT INTO events (id, name, _mkio_ref) SELECT rowid, name, _mkio_ref FROM events_old ORDER BY rowid"));

        db.Migrate(model);
        Assert.That(db.Output, Is.EqualTo(new[] { "  Applied (safe): events — Add column \"id\"" }));
        Assert.That(db.Rows("SELECT id, name FROM events ORDER BY id"), Is.EqualTo(new[] { "id=1, name='e1'", "id=3, name='e3'", "id=4, name='e4'", "id=5, name='e5'" }));
        db.Exec("INSERT INTO events (name) VALUES ('e6')");
        Assert.That(db.Scalar("SELECT id FROM events WHERE name = 'e6'"), Is.EqualTo(6L));
    }

    [Test]
    public void AddTextPrimaryKeyAndUniqueColumns_RebuildInsteadOfFailingAlter()
    {
        using var db = new MigrationTestDb();
        db.Seed("[tables.t]\ncolumns = { name = \"TEXT\" }");
        db.Insert("INSERT INTO t (name) VALUES ('n' || $i)", 3);
        var model = db.Model("[tables.t]\ncolumns = { code = \"TEXT PRIMARY KEY\", name = \"TEXT\", email = \"TEXT UNIQUE\" }");
        Assert.That(db.Plan(model).RebuiltTables, Is.EqualTo(new[] { "t" }));
        db.Migrate(model);
        Assert.That(db.Rows("SELECT code, name, email FROM t ORDER BY rowid"), Is.EqualTo(new[] { "code=NULL, name='n1', email=NULL", "code=NULL, name='n2', email=NULL", "code=NULL, name='n3', email=NULL" }));
    }

    [TestCase("TEXT DEFAULT (datetime('now'))")]
    [TestCase("TEXT DEFAULT CURRENT_TIMESTAMP")]
    [TestCase("TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S', 'now'))")]
    public void AddExpressionDefaultColumn_ExistingRowsGetTheExpressionsValue(string definition)
    {
        using var db = OrdersWith100Rows();
        var toml = Orders.Replace("status = \"TEXT DEFAULT 'pending'\" }", $"status = \"TEXT DEFAULT 'pending'\", created = \"{definition}\" }}", StringComparison.Ordinal);
        var model = db.Model(toml);
        Assert.That(db.Plan(model).RebuiltTables, Is.EqualTo(new[] { "orders" }));
        db.Migrate(model);
        Assert.That(db.Output, Has.Count.EqualTo(1));
        Assert.That(db.Output[0], Does.StartWith("  Applied (safe): orders — Add column \"created\""));
        Assert.That(db.Count("orders"), Is.EqualTo(100));
        Assert.That(db.Scalar("SELECT COUNT(*) FROM orders WHERE created GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'"), Is.EqualTo(100L));
    }

    [Test]
    public void Rebuild_KeepsRowidsAutoincrementCounterIndexesAndViews()
    {
        using var db = new MigrationTestDb();
        db.Seed("[tables.audit]\ncolumns = { id = \"INTEGER PRIMARY KEY AUTOINCREMENT\", event = \"TEXT\", detail = \"TEXT\", order_id = \"TEXT\" }\n[tables.notes]\ncolumns = { body = \"TEXT\", old = \"TEXT\" }");
        db.Insert("INSERT INTO audit (event, detail, order_id) VALUES ('e' || $i, 'd', 'o' || $i)", 10);
        db.Exec("DELETE FROM audit WHERE id >= 8; DELETE FROM audit WHERE id = 3");
        db.Insert("INSERT INTO notes (body, old) VALUES ('b' || $i, 'x')", 6);
        db.Exec("DELETE FROM notes WHERE body IN ('b2', 'b5')");
        db.Exec("CREATE INDEX idx_audit_order ON audit(order_id); CREATE INDEX idx_audit_detail ON audit(detail, event); CREATE VIEW v_audit AS SELECT event FROM audit");
        var toml = """
            [tables.audit]
            columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", event = "TEXT", order_id = "TEXT" }

            [tables.notes]
            columns = { body = "TEXT" }
            """;
        var notesRowids = db.Rows("SELECT rowid, body FROM notes ORDER BY rowid");
        db.Migrate(db.Model(toml, MkioAutoMigrate.Destructive));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(db.Rows("SELECT rowid, body FROM notes ORDER BY rowid"), Is.EqualTo(notesRowids), "rowids of a table without INTEGER PRIMARY KEY are kept");
            db.Exec("INSERT INTO audit (event) VALUES ('new')");
            Assert.That(db.Scalar("SELECT id FROM audit WHERE event = 'new'"), Is.EqualTo(11L), "the AUTOINCREMENT counter carries over: deleted ids are not reused");
            Assert.That(db.Rows("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit' ORDER BY name"),
                Is.EqualTo(new[] { "name='idx_audit__mkio_ref'", "name='idx_audit_order'" }), "indexes whose columns survive come back; one on a removed column does not");
            Assert.That(db.Rows("SELECT event FROM v_audit ORDER BY event"), Has.Count.EqualTo(7), "views over the table keep working (6 kept rows + the new one)");
            Assert.That(db.TableNames(), Is.EqualTo(new[] { "audit", "notes", "sqlite_sequence" }));
            Assert.That(db.Rows("SELECT name FROM sqlite_sequence"), Is.EqualTo(new[] { "name='audit'" }));
        }
    }

    [Test]
    public void Rebuild_LeftoverOldTableFromTheReference_RemovedAndNameNotReused()
    {
        using var db = OrdersWith100Rows();
        db.Exec("CREATE TABLE orders_old (id TEXT, stale TEXT)");
        var model = db.Model(WithoutPrice, MkioAutoMigrate.Destructive);
        var plan = db.Plan(model);
        Assert.That(plan.Steps[0].Sql, Is.EqualTo("ALTER TABLE orders RENAME TO orders_old2"));
        Assert.That(plan.Steps.Select(s => s.Sql), Does.Contain("DROP TABLE orders_old"));
        db.Migrate(model);
        Assert.That(db.TableNames(), Is.EqualTo(new[] { "orders" }));
        Assert.That(db.Count("orders"), Is.EqualTo(100));
    }

    [Test]
    public void GeneratedColumns_SeenByTheDiff_RecomputedByARebuild_AddedVirtualOrStored()
    {
        using var db = new MigrationTestDb();
        db.Seed("[tables.t]\ncolumns = { a = \"INTEGER\", b = \"INTEGER\", total = \"INTEGER AS (a + b)\", junk = \"TEXT\" }");
        db.Exec("INSERT INTO t (a, b, junk) VALUES (1, 2, 'j'), (10, 20, 'j')");
        Assert.That(db.Diff(db.Model("[tables.t]\ncolumns = { a = \"INTEGER\", b = \"INTEGER\", total = \"INTEGER AS (a + b)\", junk = \"TEXT\" }")).IsEmpty, Is.True,
            "a generated column is not reported missing at every start");

        var toml = "[tables.t]\ncolumns = { a = \"INTEGER\", b = \"INTEGER\", total = \"INTEGER AS (a + b)\", v = \"INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL\", s = \"INTEGER AS (b * 3) STORED\" }";
        db.Migrate(db.Model(toml, MkioAutoMigrate.Destructive));
        Assert.That(db.Rows("SELECT a, b, total, v, s FROM t ORDER BY rowid"), Is.EqualTo(new[] { "a=1, b=2, total=3, v=2, s=6", "a=10, b=20, total=30, v=20, s=60" }));
        Assert.That(db.Diff(db.Model(toml)).IsEmpty, Is.True);
    }

    [Test]
    public void Apply_EmptyPlan_NoTransactionNoChange()
    {
        using var db = OrdersWith100Rows();
        using var c = db.Open();
        var plan = MigrationPlan.Create(SchemaDiff.Compute(c, db.Model(Orders).Tables));
        Assert.That(plan.Steps, Is.Empty);
        Assert.That(Migrator.Apply(c, plan, "x").DeduplicatedRows, Is.Zero);
    }
}
