using System.Text.Json;
using Microsoft.Data.Sqlite;
using Mkio.Data;
using Mkio.Model;
using Mkio.Storage;
using SQLitePCL;

namespace Mkio.Core.Tests.Storage;

/// <summary>
/// The allocation savings of the write path keep every value exact: a row read back after a write reuses the string
/// bound for an equal ASCII text and a shared box for a small integer; request values parse as before.
/// </summary>
public class ReadBackTests
{
    [Test]
    public void ReadRow_TextEqualToABoundString_ReusesIt_OtherValuesExact()
    {
        using var c = new SqliteConnection("Data Source=:memory:");
        c.Open();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "CREATE TABLE t (id TEXT, sym TEXT, note TEXT, qty INTEGER, big INTEGER, price REAL, d TEXT DEFAULT 'pending', e TEXT)";
            cmd.ExecuteNonQuery();
        }

        using var op = new WriteBatcher.PreparedOp(c.Handle!, "INSERT INTO t (id, sym, note, qty, big, price, e) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *", [0, 1, 2, 3, 4, 5, 6]);
        var id = new string(['o', '-', '1']);
        var sym = new string(['A', 'B']);
        var note = new string(['Z', 'ü', 'r']);
        object?[] values = [id, sym, note, 7L, 1_000_000L, 1.5, string.Empty];
        for (var i = 0; i < values.Length; i++)
        {
            op.Bind(i + 1, values[i]);
        }

        Assert.That(raw.sqlite3_step(op.Handle), Is.EqualTo(raw.SQLITE_ROW));
        var row = op.ReadRow();
        op.Reset();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(row.Values.ToArray(), Is.EqualTo(new object?[] { "o-1", "AB", "Zürich"[..3], 7L, 1_000_000L, 1.5, "pending", string.Empty }));
            Assert.That(row[0], Is.SameAs(id), "an ASCII text equal to a bound string is that string");
            Assert.That(row[1], Is.SameAs(sym));
            Assert.That(row[3], Is.SameAs(BoxedInt64.Of(7)), "a small integer comes in the shared box");
            Assert.That(row[4], Is.TypeOf<long>().And.EqualTo(1_000_000L));
        }
    }

    [Test]
    public void BoxedInt64_SharedInItsRange_ExactEverywhere()
    {
        using (Assert.EnterMultipleScope())
        {
            foreach (var v in new long[] { -128, -1, 0, 1, 1023 })
            {
                var first = BoxedInt64.Of(v);
                Assert.That(BoxedInt64.Of(v), Is.SameAs(first).And.EqualTo(v), v.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            foreach (var v in new[] { -129L, 1024L, long.MinValue, long.MaxValue })
            {
                var first = BoxedInt64.Of(v);
                Assert.That(BoxedInt64.Of(v), Is.Not.SameAs(first).And.EqualTo(v));
            }
        }
    }

    [TestCase("7", 7L)]
    [TestCase("-3", -3L)]
    [TestCase("true", 1L)]
    [TestCase("false", 0L)]
    [TestCase("1.5", 1.5)]
    [TestCase("1e3", 1000.0)]
    [TestCase("-2E-2", -0.02)]
    [TestCase("1e400", double.PositiveInfinity)]
    [TestCase("\"x\"", "x")]
    [TestCase("null", null)]
    public void FromJson_Scalars(string json, object? expected)
    {
        using var doc = JsonDocument.Parse(json);
        var value = RequestValues.FromJson(doc.RootElement);
        Assert.That(value, Is.EqualTo(expected));
        Assert.That(value?.GetType(), Is.EqualTo(expected?.GetType()));
    }

    [Test]
    public void FromJson_IntegerBeyond64Bits_KeepsItsText()
    {
        using var doc = JsonDocument.Parse("123456789012345678901234567890");
        Assert.That(RequestValues.FromJson(doc.RootElement), Is.EqualTo(new TooLargeInteger("123456789012345678901234567890")));
    }

    [Test]
    public void FindOpSet_ByJsonString_ExactNameAfterUnescaping()
    {
        var o = new MkioOptions { DbPath = ":memory:" };
        o.Table("t", t => t.Column("id", "TEXT PRIMARY KEY"))
            .Transaction("tx", tx => tx
                .Op("place", ops => ops.Insert("t", ["id"]))
                .Op("plac", ops => ops.Delete("t", ["id"])));
        var tx = (TransactionServiceModel)ModelCompiler.Compile(o).ServicesByName["tx"];
        using var doc = JsonDocument.Parse("""["place", "\u0070lace", "plac", "place ", "PLACE", "pla"]""");
        var found = doc.RootElement.EnumerateArray().Select(e => tx.FindOpSet(e)?.Name).ToArray();
        Assert.That(found, Is.EqualTo(new[] { "place", "place", "plac", null, null, null }));
    }
}
