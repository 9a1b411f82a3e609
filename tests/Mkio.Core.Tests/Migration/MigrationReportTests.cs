using Mkio.Storage.Migration;

namespace Mkio.Core.Tests.Migration;

/// <summary>The exact texts of SERVICES.md §15.4.</summary>
[Parallelizable(ParallelScope.All)]
public sealed class MigrationReportTests
{
    private static string Lf(string s) => s.Replace("\r\n", "\n", StringComparison.Ordinal);

    [Test]
    public void SummaryTable_SpecExample_ExactText()
    {
        var changes = new[]
        {
            new SchemaChange("orders", ChangeKind.RemoveColumn, "Remove column \"price\"", ChangeLevel.Destructive, "Data in column \"price\" will be lost", true, "price"),
            new SchemaChange("extra", ChangeKind.CreateTable, "Create new table", ChangeLevel.Safe, "None — new table", false),
        };
        var expected = "\n"
            + "Schema changes detected for database \"orders.db\":\n"
            + "\n"
            + "  TABLE                CHANGE                                        LEVEL                     DATA IMPACT\n"
            + "  -------------------- --------------------------------------------- ------------------------- ----------------------------------------\n"
            + "  orders               Remove column \"price\"                         DESTRUCTIVE               Data in column \"price\" will be lost\n"
            + "  extra                Create new table                              SAFE                      None — new table\n";
        Assert.That(Lf(MigrationReport.SummaryTable("orders.db", changes)), Is.EqualTo(expected));
    }

    [Test]
    public void SummaryTable_RemoveTable_RowCountWithThousandsSeparators_LongValuesNotTruncated()
    {
        var changes = new[]
        {
            new SchemaChange("legacy", ChangeKind.RemoveTable, "Remove table", ChangeLevel.Destructive, "All data in table will be lost", false) { RowCount = 1234 },
            new SchemaChange("big", ChangeKind.RemoveTable, "Remove table", ChangeLevel.Destructive, "All data in table will be lost", false) { RowCount = 1234567 },
            new SchemaChange("empty", ChangeKind.RemoveTable, "Remove table", ChangeLevel.Destructive, "All data in table will be lost", false),
            new SchemaChange("a_table_name_longer_than_twenty", ChangeKind.AddColumn, "Add NOT NULL column \"region_code_of_the_customer\" without default", ChangeLevel.PotentiallyDestructive,
                "Existing rows cannot satisfy NOT NULL constraint — requires table recreate", true),
        };
        var lines = Lf(MigrationReport.SummaryTable("x.db", changes)).Split('\n');
        Assert.That(lines[5..9], Is.EqualTo(new[]
        {
            "  legacy               Remove table                                  DESTRUCTIVE               All 1,234 rows will be lost",
            "  big                  Remove table                                  DESTRUCTIVE               All 1,234,567 rows will be lost",
            "  empty                Remove table                                  DESTRUCTIVE               All 0 rows will be lost",
            "  a_table_name_longer_than_twenty Add NOT NULL column \"region_code_of_the_customer\" without default POTENTIALLY DESTRUCTIVE   Existing rows cannot satisfy NOT NULL constraint — requires table recreate",
        }));
    }

    [Test]
    public void Lines_ExactTexts()
    {
        var change = new SchemaChange("extra", ChangeKind.CreateTable, "Create new table", ChangeLevel.Safe, "None — new table", false);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(MigrationReport.AppliedSafe(change), Is.EqualTo("  Applied (safe): extra \u2014 Create new table"));
            Assert.That(MigrationReport.AutoApplying(MkioAutoMigrate.Destructive), Is.EqualTo("  auto_migrate=true, applying all changes..."));
            Assert.That(MigrationReport.AutoApplying(MkioAutoMigrate.Risky), Is.EqualTo("  auto_migrate=risky, applying all changes..."));
            Assert.That(MigrationReport.DeduplicatedNote(4), Is.EqualTo("  Note: 4 rows were deduplicated during migration"));
            Assert.That(MigrationReport.Prompt, Is.EqualTo("  Apply these changes? [y/N] "));
            Assert.That(MigrationReport.AppliedSuccessfully, Is.EqualTo("  Schema changes applied successfully."));
            Assert.That(MigrationReport.Cancelled, Is.EqualTo("  Migration cancelled."));
            Assert.That(MigrationReport.ConfirmationRequired, Is.EqualTo("  ERROR: Destructive/potentially destructive changes require confirmation."));
            Assert.That(MigrationReport.RunInteractively, Is.EqualTo("  Run interactively or set auto_migrate=true in config."));
            Assert.That(MigrationReport.BackupCreated("backups/o_backup_1.db"), Is.EqualTo("  Backup created: backups/o_backup_1.db"));
        }
    }

    [TestCase("y", true)]
    [TestCase("Y", true)]
    [TestCase("  y \t", true)]
    [TestCase("yes", false)]
    [TestCase("", false)]
    [TestCase(null, false)]
    [TestCase("n", false)]
    public void IsYes_TrimmedLowerCasedY(string? answer, bool expected) => Assert.That(MigrationReport.IsYes(answer), Is.EqualTo(expected));
}
