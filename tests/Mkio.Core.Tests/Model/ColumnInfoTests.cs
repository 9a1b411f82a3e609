using Mkio.Model;

namespace Mkio.Core.Tests.Model;

/// <summary>Column-definition parsing rules of CONFIG.md §3.2 (used by discovery, F14 and F16).</summary>
[Parallelizable(ParallelScope.All)]
public sealed class ColumnInfoTests
{
    [TestCase("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER", true, true, null, true)]
    [TestCase("integer primary key autoincrement", "INTEGER", true, true, null, true)]
    [TestCase("TEXT PRIMARY KEY", "TEXT", true, true, null, false)]
    [TestCase("TEXT NOT NULL", "TEXT", true, false, null, false)]
    [TestCase("text not null", "TEXT", true, false, null, false)]
    [TestCase("INTEGER", "INTEGER", false, false, null, false)]
    [TestCase("REAL DEFAULT 0", "REAL", false, false, "0", false)]
    [TestCase("TEXT DEFAULT 'pending'", "TEXT", false, false, "'pending'", false)]
    [TestCase("REAL DEFAULT 0 NOT NULL", "REAL", true, false, "0 NOT NULL", false)]
    [TestCase("TEXT  default   'a   B'  ", "TEXT", false, false, "'a B'", false)]
    [TestCase("TEXT DEFAULT", "TEXT", false, false, null, false)]
    [TestCase("DECIMAL(10, 2)", "DECIMAL(10,", false, false, null, false)]
    [TestCase("", "", false, false, null, false)]
    [TestCase("   ", "", false, false, null, false)]
    [TestCase("INTEGER KEY PRIMARY", "INTEGER", true, true, null, false)]
    [TestCase("TEXT NULL", "TEXT", false, false, null, false)]
    [TestCase("TEXT PRIMARY KEY AUTOINCREMENTED", "TEXT", true, true, null, true)]
    public void Constructor_Definition_DerivesFactsPerConfigRules(string definition, string type, bool notNull, bool pk, string? dflt, bool autoincrement)
    {
        var column = new ColumnInfo("c", definition);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(column.Type, Is.EqualTo(type));
            Assert.That(column.NotNull, Is.EqualTo(notNull));
            Assert.That(column.PrimaryKey, Is.EqualTo(pk));
            Assert.That(column.Default, Is.EqualTo(dflt));
            Assert.That(column.AutoIncrement, Is.EqualTo(autoincrement));
        }
    }

    [TestCase("INTEGER PRIMARY KEY", true, true)]
    [TestCase("INTEGER PRIMARY KEY AUTOINCREMENT", true, true)]
    [TestCase("INT PRIMARY KEY", false, false)]
    [TestCase("TEXT PRIMARY KEY", false, false)]
    [TestCase("TEXT PRIMARY KEY DEFAULT 'x'", false, true)]
    [TestCase("TEXT NOT NULL", false, false)]
    [TestCase("TEXT NOT NULL DEFAULT 'x'", false, true)]
    [TestCase("TEXT", false, true)]
    [TestCase("REAL DEFAULT 0", false, true)]
    public void Optional_Definition_MatchesDiscoveryRequiredFalse(string definition, bool rowIdAlias, bool optional)
    {
        var column = new ColumnInfo("c", definition);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(column.IsRowIdAlias, Is.EqualTo(rowIdAlias));
            Assert.That(column.Optional, Is.EqualTo(optional));
        }
    }
}
