using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Mkio.Storage;
using Mkio.Storage.Migration;
using static Mkio.Core.Tests.Migration.SchemaMigrationTests;

namespace Mkio.Core.Tests.Migration;

/// <summary>
/// Migration as part of opening a file database (SERVICES.md §3.1): backup first, migration on its
/// own connection, then tables, <c>_mkio_ref</c> and indexes; <c>:memory:</c> only creates tables.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed partial class StartupMigrationTests
{
    [GeneratedRegex(@"^  Backup created: (.+/orders_backup_\d{8}_\d{6}_\d{12}\.db)$")]
    private static partial Regex BackupLine();

    [Test]
    public async Task Open_FileDatabaseWithBackup_BackupThenMigrationThenRefColumns()
    {
        using var db = OrdersWith100Rows();
        var original = db.Rows("SELECT * FROM orders ORDER BY rowid");
        var model = db.Model(
            "backup_on_startup = true\nauto_migrate = true\n" + Orders.Replace("qty = \"INTEGER\"", "qty = \"INTEGER\", note = \"TEXT DEFAULT (lower('N'))\"", StringComparison.Ordinal)
            + "\n[tables.extra]\ncolumns = { a = \"TEXT\" }\n");
        model.Options.BackupDir = Path.Combine(db.Folder, "bk", "nested");
        var output = new List<string>();
        await using (var database = new MkioDatabase(model, NullLogger.Instance) { MigrationOutput = output.Add, ConfirmMigration = _ => throw new AssertionException("no prompt for safe changes") })
        {
            database.Open();
        }

        Assert.That(output, Has.Count.EqualTo(3));
        var m = BackupLine().Match(output[0]);
        Assert.That(m.Success, Is.True, output[0]);
        Assert.That(output[1..], Is.EqualTo(new[] { "  Applied (safe): orders — Add column \"note\"", "  Applied (safe): extra — Create new table" }));

        using (var backup = new MigrationTestDb())
        {
            File.Copy(m.Groups[1].Value, backup.File);
            Assert.That(backup.Rows("SELECT * FROM orders ORDER BY rowid"), Is.EqualTo(original), "the backup holds the data as it was before migrating");
        }

        Assert.That(db.Columns("orders"), Is.EqualTo(new[] { "id", "symbol", "qty", "note", "price", "status", "_mkio_ref" }));
        Assert.That(db.Columns("extra"), Is.EqualTo(new[] { "a", "_mkio_ref" }));
        Assert.That(db.Rows("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name"), Does.Contain("name='idx_extra__mkio_ref'").And.Contain("name='idx_orders__mkio_ref'"));
        Assert.That(db.Rows("SELECT DISTINCT note FROM orders"), Is.EqualTo(new[] { "note='n'" }));
    }

    [Test]
    public async Task Open_RefusedMigration_ThrowsWithSummaryTableAndLeavesFileAlone()
    {
        using var db = OrdersWith100Rows();
        var before = db.Dump();
        var model = db.Model(Orders.Replace(", price = \"REAL DEFAULT 0\"", string.Empty, StringComparison.Ordinal));
        await using var database = new MkioDatabase(model, NullLogger.Instance);
        var ex = Assert.Throws<MkioConfigurationException>(database.Open);
        Assert.That(ex!.Message, Does.Contain("  orders               Remove column \"price\"                         DESTRUCTIVE               Data in column \"price\" will be lost"));
        Assert.That(ex.Message, Does.Contain("  ERROR: Destructive/potentially destructive changes require confirmation."));
        Assert.That(db.Dump(), Is.EqualTo(before));
    }

    [Test]
    public async Task Open_NewFile_TablesCreatedByMigrationWithoutBackup()
    {
        using var db = new MigrationTestDb();
        var model = db.Model("backup_on_startup = true\n" + Orders);
        model.Options.BackupDir = Path.Combine(db.Folder, "bk");
        var output = new List<string>();
        await using (var database = new MkioDatabase(model, NullLogger.Instance) { MigrationOutput = output.Add })
        {
            database.Open();
        }

        Assert.That(output, Is.EqualTo(new[] { "  Applied (safe): orders — Create new table" }), "no backup of a file that did not exist");
        Assert.That(Directory.Exists(Path.Combine(db.Folder, "bk")), Is.False);
        Assert.That(db.Columns("orders"), Is.EqualTo(new[] { "id", "symbol", "qty", "price", "status", "_mkio_ref" }));
    }

    [Test]
    public async Task Open_InMemory_OnlyCreatesTablesNoMigrationOutput()
    {
        using var db = new MigrationTestDb();
        var model = db.Model(Orders);
        model.Options.DbPath = ":memory:";
        model = Mkio.Model.ModelCompiler.Compile(model.Options);
        var output = new List<string>();
        await using var database = new MkioDatabase(model, NullLogger.Instance) { MigrationOutput = output.Add };
        database.Open();
        Assert.That(output, Is.Empty);
        Assert.That(MkioDatabase.Query(database.Writer, "SELECT name FROM pragma_table_info('orders')").Select(r => r[0]), Is.EqualTo(new object[] { "id", "symbol", "qty", "price", "status", "_mkio_ref" }));
    }

    [Test]
    public void Backup_RelativeDirPrintedLikePathlib()
    {
        using var db = OrdersWith100Rows();
        var cwd = Environment.CurrentDirectory;
        var relative = Path.GetRelativePath(cwd, Path.Combine(db.Folder, "rel"));
        var printed = DatabaseBackup.Create(db.File, "./" + relative);
        Assert.That(printed, Does.StartWith(relative + "/orders_backup_"));
        Assert.That(File.Exists(Path.Combine(db.Folder, "rel", Path.GetFileName(printed))), Is.True);
    }
}
