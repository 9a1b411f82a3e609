using Mkio.Storage;
using Mkio.Versioning;
using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Versioning;

/// <summary><c>primary_key = [cols]</c>: TOML and code-first, the table's DDL, a versioned composite key, and its errors.</summary>
public sealed class PrimaryKeyConfigTests
{
    private const string Base = """
        db_path = ":memory:"

        [tables.positions]
        columns = { book = "TEXT NOT NULL", symbol = "TEXT NOT NULL", qty = "INTEGER NOT NULL DEFAULT 0", id = "INTEGER" }
        primary_key = ["book", "symbol"]
        versioned = true

        [services.tx]
        type = "transaction"
        ops = [
          { table = "positions", op_type = "undo", key = ["book", "symbol"] },
        ]
        """;

    [Test]
    public void Toml_CompositeKey_ReachesDdl_HistoryKey_AndMatchesCodeFirst()
    {
        var positions = CompileToml(Base).TablesByName["positions"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(positions.PrimaryKey.Select(c => c.Name), Is.EqualTo(new[] { "book", "symbol" }));
            Assert.That(positions.Find("id")!.IsRowIdAlias, Is.False);
            Assert.That(positions.Find("book")!.NotNull, Is.True);
            Assert.That(SchemaManager.CreateTableSql(positions), Is.EqualTo(
                "CREATE TABLE IF NOT EXISTS positions (book TEXT NOT NULL, symbol TEXT NOT NULL, qty INTEGER NOT NULL DEFAULT 0, id INTEGER, PRIMARY KEY (book, symbol))"));
            Assert.That(VersionedSchema.CreateHistorySql(positions), Does.EndWith("PRIMARY KEY (book, symbol, _mkio_version)) WITHOUT ROWID"));
        }

        var code = CompileCode(o => o
            .Table("positions", t => t.Column("book", "TEXT NOT NULL").Column("symbol", "TEXT NOT NULL").Column("qty", "INTEGER").PrimaryKey("symbol", "book").Versioned())
            .Transaction("tx", tx => tx.Ops(ops => ops.Redo("positions", ["symbol", "book"]))));
        Assert.That(code.TablesByName["positions"].PrimaryKey.Select(c => c.Name), Is.EqualTo(new[] { "symbol", "book" }), "key order is the list's order");
    }

    [Test]
    public void OneColumnTableKey_IntegerIsStillTheRowIdAlias()
    {
        var t = CompileCode(o => o.Table("t", t => t.Column("id", "INTEGER").Column("v", "TEXT").PrimaryKey("id"))).TablesByName["t"];
        Assert.That((t.Find("id")!.IsRowIdAlias, SchemaManager.CreateTableSql(t)), Is.EqualTo((true, "CREATE TABLE IF NOT EXISTS t (id INTEGER, v TEXT, PRIMARY KEY (id))")));
    }

    [TestCase("primary_key = [\"book\", \"symbol\"]", "primary_key = []", "tables.positions.primary_key", "'primary_key' of table 'positions' must name at least one column")]
    [TestCase("primary_key = [\"book\", \"symbol\"]", "primary_key = [\"book\", \"symbl\"]", "tables.positions.primary_key", "table 'positions' has no column 'symbl' for its primary_key")]
    [TestCase("primary_key = [\"book\", \"symbol\"]", "primary_key = [\"book\", \"book\"]", "tables.positions.primary_key", "names column 'book' twice")]
    [TestCase("book = \"TEXT NOT NULL\"", "book = \"TEXT PRIMARY KEY\"", "tables.positions.columns.book", "table 'positions' has 'primary_key' and column 'book' declares PRIMARY KEY too")]
    [TestCase("primary_key = [\"book\", \"symbol\"]\n", "", "tables.positions.versioned", "or 'primary_key = [columns]'")]
    [TestCase("undo\", key = [\"book\", \"symbol\"]", "undo\", key = [\"book\"]", "tables.services.key", "needs 'key' = the primary key of 'positions' ([book, symbol])")]
    [TestCase("primary_key = [\"book\", \"symbol\"]", "primary_key = \"book\"", "primary_key", "")]
    public void Toml_Errors(string replace, string with, string where, string expected)
    {
        var errors = TomlErrors(Base.Replace(replace, with, StringComparison.Ordinal));
        Assert.That(errors, Has.Some.Contains(expected).And.Some.Contains(where.Split('.')[^1]), string.Join("\n", errors));
    }
}
