using Mkio.Versioning;
using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Versioning;

/// <summary><c>versioned</c> / <c>unversioned</c> and the undo/redo op types: TOML and code-first, and their errors.</summary>
public sealed class VersionedConfigTests
{
    private const string Base = """
        db_path = ":memory:"

        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", qty = "DECIMAL(10, 2) NOT NULL DEFAULT 0", note = "TEXT" }
        versioned = true
        unversioned = ["note"]

        [services.tx]
        type = "transaction"
        ops = [
          { table = "orders", op_type = "undo", key = ["id"] },
        ]

        [services.changes]
        type = "stream"
        primary_table = "orders__history"
        """;

    [Test]
    public void Toml_VersionedTable_HasHistoryModel_AndMatchesCodeFirst()
    {
        var model = CompileToml(Base);
        var orders = model.TablesByName["orders"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(orders.Versioned, Is.True);
            Assert.That(orders.Recorded.Select(c => c.Name), Is.EqualTo(new[] { "id", "qty" }));
            Assert.That(orders.History!.Name, Is.EqualTo("orders__history"));
            Assert.That(orders.History.Columns.Select(c => $"{c.Name} {c.Definition}"),
                Is.EqualTo(new[] { "_mkio_version INTEGER NOT NULL", "_mkio_op TEXT NOT NULL", "_mkio_user TEXT", "_mkio_service TEXT", "id TEXT", "qty DECIMAL(10, 2)" }));
            Assert.That(model.Tables.Select(t => t.Name), Is.EqualTo(new[] { "orders" }), "history tables are never listed");
            Assert.That(model.TablesByName["orders__history"].HistoryOf, Is.SameAs(orders));
            Assert.That(VersionedSchema.CreateHistorySql(orders), Is.EqualTo(
                "CREATE TABLE IF NOT EXISTS orders__history (_mkio_version INTEGER NOT NULL, _mkio_op TEXT NOT NULL, _mkio_ref TEXT NOT NULL, _mkio_user TEXT, _mkio_service TEXT, id TEXT, qty DECIMAL(10, 2), PRIMARY KEY (id, _mkio_version)) WITHOUT ROWID"));
        }

        var code = CompileCode(o => o
            .Table("orders", t => t.Column("id", "TEXT PRIMARY KEY").Column("qty", "DECIMAL(10, 2) NOT NULL DEFAULT 0").Column("note", "TEXT").Versioned("note"))
            .Transaction("tx", tx => tx.Ops(ops => ops.Undo("orders", ["id"]))));
        Assert.That(code.TablesByName["orders"].Recorded.Select(c => c.Name), Is.EqualTo(new[] { "id", "qty" }));
    }

    [TestCase("versioned = true", "versioned = 1", "must be true or false")]
    [TestCase("id = \"TEXT PRIMARY KEY\"", "id = \"TEXT\"", "versioned table 'orders' needs a primary key")]
    [TestCase("unversioned = [\"note\"]", "unversioned = [\"nope\"]", "table 'orders' has no column 'nope'")]
    [TestCase("unversioned = [\"note\"]", "unversioned = [\"id\"]", "the primary key 'id' of table 'orders' is always recorded")]
    [TestCase("note = \"TEXT\"", "_mkio_x = \"TEXT\"", "a versioned table may not declare '_mkio_*' columns")]
    [TestCase("op_type = \"undo\", key = [\"id\"]", "op_type = \"redo\", key = [\"qty\"]", "needs 'key' = the primary key of 'orders'")]
    [TestCase("primary_table = \"orders__history\"", "primary_table = \"items__history\"", "no table 'items'")]
    [TestCase("[tables.orders]", "[tables.x__history]\ncolumns = { a = \"TEXT\" }\n[tables.orders]", "names ending '__history' are history tables")]
    public void Toml_Errors(string replace, string with, string expected)
    {
        Assert.That(TomlErrors(Base.Replace(replace, with, StringComparison.Ordinal)), Has.Some.Contains(expected));
    }

    [Test]
    public void Errors_UndoOnUnversionedTable_HistoryOfUnversionedTable_WritesToHistory()
    {
        var unversioned = Base.Replace("versioned = true\nunversioned = [\"note\"]\n", string.Empty, StringComparison.Ordinal);
        Assert.That(TomlErrors(unversioned), Has.Some.Contains("'undo' needs a versioned table; table 'orders' is not versioned")
            .And.Some.Contains("table 'orders' is not versioned"));
        var write = Base.Replace("op_type = \"undo\", key = [\"id\"]", "op_type = \"insert\", fields = [\"id\"]", StringComparison.Ordinal)
            .Replace("table = \"orders\", op_type", "table = \"orders__history\", op_type", StringComparison.Ordinal);
        Assert.That(TomlErrors(write), Has.Some.Contains("table 'orders__history' is a history table and is read-only"));
    }
}
