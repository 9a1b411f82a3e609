using System.Text;
using Microsoft.Data.Sqlite;
using Mkio.Protocol;
using Mkio.Services.Listeners;
using Mkio.Storage;

namespace Mkio.Core.Tests.Protocol;

/// <summary>
/// A snapshot encoded straight from the statement (<see cref="DirectSnapshot"/>) must give the bytes of the rows read
/// and serialised as before, for every subset of rows, and rebuild each row exactly (filters run on the rebuilt rows);
/// values it cannot rebuild exactly make it step aside.
/// </summary>
public class DirectSnapshotTests
{
    private const string Ref = "20261206 05:00:00.000000000001";

    [Test]
    public void NativeColumns_UsableWithTheBundledProvider() =>
        WithDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY);", _ =>
            Assert.That(SqliteColumns.Usable, Is.True, "the snapshot's column reads fall back to SQLitePCLRaw's wrappers"));

    [TestCase(true)]
    [TestCase(false)]
    public void TryRead_EveryRebuildableValue_SameBytesAsRows_RowsRebuiltExactly(bool native)
    {
        WithDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, anything);
            INSERT INTO t VALUES (1, 'pending', 10, 1.5, NULL);
            INSERT INTO t VALUES (2, 'pending', NULL, -0.0, 'text');
            INSERT INTO t VALUES (3, 'Zürich—日本😀', 9223372036854775807, 1e300, 42);
            INSERT INTO t VALUES (4, 'é"\' || char(10) || char(1) || '\', -9223372036854775808, NULL, 2.25);
            INSERT INTO t VALUES (5, '', 0, 0.1, 1e16);
            INSERT INTO t VALUES (7, 'neg', 1, -1e-300, -0.0);
            INSERT INTO t VALUES (6, 'x', 7, 150.0, 1.5e-7);
            """, c =>
        {
            const string sql = "SELECT * FROM t ORDER BY id";
            var rows = MkioDatabase.QueryAll(c, sql);
            var direct = DirectSnapshot.TryRead(c, sql, -1, native);
            Assert.That(direct, Is.Not.Null);
            Assert.That(direct!.Count, Is.EqualTo(rows.Count));
            Assert.That(direct.CanDecode, Is.True);
            var expected = new SerializedRows(rows);
            foreach (var admit in new Func<int, bool>?[] { null, i => i % 2 == 0, i => i == 3, _ => false })
            {
                Assert.That(Encoding.UTF8.GetString(direct.SnapshotFrame("q", Ref, admit).Span), Is.EqualTo(Encoding.UTF8.GetString(expected.SnapshotFrame("q", Ref, admit).Span)));
            }

            for (var i = 0; i < rows.Count; i++)
            {
                var rebuilt = direct.RowAt(i);
                Assert.That(rebuilt.Schema.Names, Is.EqualTo(rows[i].Schema.Names));
                Assert.That(rebuilt.Values.ToArray(), Is.EqualTo(rows[i].Values.ToArray()), "row " + i);
                for (var k = 0; k < rows[i].Count; k++)
                {
                    Assert.That(rebuilt[k]?.GetType(), Is.EqualTo(rows[i][k]?.GetType()), $"row {i} column {k}");
                    if (rows[i][k] is double d)
                    {
                        Assert.That(double.IsNegative((double)rebuilt[k]!), Is.EqualTo(double.IsNegative(d)), $"row {i} column {k}: the sign of zero");
                    }
                }
            }
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public void TryRead_TextNeedingEscapes_OddNames_ManyRows_SameBytesAsRows(bool native)
    {
        // Every way text leaves the plain-ASCII copy: DEL, tab, HTML-sensitive characters (plain in Python), a lone
        // surrogate's bytes and other invalid UTF-8 (U+FFFD as when decoded), a long value; names that EncodeName
        // escapes (a quote, non-ASCII) and more rows than the first estimate.
        WithDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, "na""me" TEXT, "größe" TEXT, "<&>" INTEGER);
            INSERT INTO t VALUES (1, 'del' || char(127) || 'tab' || char(9) || 'end', '<script>&''+`</script>', 1);
            INSERT INTO t VALUES (2, CAST(x'ff41eda080' AS TEXT), CAST(x'c3' AS TEXT), NULL);
            INSERT INTO t VALUES (3, printf('%.*c', 5000, 'x') || '"', 'ü', 3);
            INSERT INTO t VALUES (4, '\u00e9 \uABCD', '', -4);
            """, c =>
        {
            using (var more = c.CreateCommand())
            {
                more.CommandText = "INSERT INTO t SELECT value + 4, 'row ' || value, NULL, value FROM generate_series(1, 40)";
                try
                {
                    more.ExecuteNonQuery();
                }
                catch (SqliteException)
                {
                    more.CommandText = "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < 40) INSERT INTO t SELECT v + 4, 'row ' || v, NULL, v FROM s";
                    more.ExecuteNonQuery();
                }
            }

            const string sql = "SELECT * FROM t ORDER BY id";
            var rows = MkioDatabase.QueryAll(c, sql);
            Assert.That(rows, Has.Count.EqualTo(44));
            var direct = DirectSnapshot.TryRead(c, sql, 3, native); // fewer than there are: the offsets grow
            Assert.That(direct, Is.Not.Null);
            var expected = new SerializedRows(rows);
            foreach (var admit in new Func<int, bool>?[] { null, i => i % 3 == 1, i => i == 2 })
            {
                Assert.That(Encoding.UTF8.GetString(direct!.SnapshotFrame("q", Ref, admit).Span), Is.EqualTo(Encoding.UTF8.GetString(expected.SnapshotFrame("q", Ref, admit).Span)));
            }

            for (var i = 0; i < rows.Count; i++)
            {
                Assert.That(direct!.RowAt(i).Values.ToArray(), Is.EqualTo(rows[i].Values.ToArray()), "row " + i);
            }
        });
    }

    [Test]
    public void TryRead_EmptyResult_EmptyArray()
    {
        WithDatabase("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);", c =>
        {
            var direct = DirectSnapshot.TryRead(c, "SELECT * FROM t", 100);
            Assert.That(direct!.Count, Is.Zero);
            Assert.That(Encoding.UTF8.GetString(direct.SnapshotFrame("q", Ref, null).Span), Is.EqualTo(Encoding.UTF8.GetString(SubscriptionFrames.SnapshotFrame("q", Ref, []))));
        });
    }

    [TestCase("SELECT * FROM t ORDER BY id;")]
    [TestCase("WITH x AS (SELECT * FROM t) SELECT * FROM x ORDER BY id")]
    public void TryRead_RowCountUnknown_QueriesThatCannotBeCountedAsASubqueryStillRead(string sql)
    {
        WithDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
            INSERT INTO t VALUES (1, 'a');
            INSERT INTO t VALUES (2, 'b');
            """, c =>
        {
            var expected = new SerializedRows(MkioDatabase.QueryAll(c, sql)).SnapshotFrame("q", Ref, null).ToArray();
            Assert.That(DirectSnapshot.TryRead(c, sql, -1)!.SnapshotFrame("q", Ref, null).ToArray(), Is.EqualTo(expected));
        });
    }

    [TestCase("SELECT * FROM t WHERE id = 1", true, TestName = "Blob")]
    [TestCase("SELECT * FROM t WHERE id = 1", false, TestName = "Blob, raw")]
    [TestCase("SELECT * FROM t WHERE id = 2", true, TestName = "Infinity")]
    [TestCase("SELECT * FROM t WHERE id = 2", false, TestName = "Infinity, raw")]
    [TestCase("SELECT id, name, id FROM t WHERE id = 3", true, TestName = "DuplicateColumnNames")]
    public void TryRead_ValueNotRebuildableExactly_StepsAside(string sql, bool native)
    {
        WithDatabase("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, name, x);
            INSERT INTO t VALUES (1, x'00ff', 1);
            INSERT INTO t VALUES (2, 1e999, 2);
            INSERT INTO t VALUES (3, 'a', 3);
            """, c =>
        {
            Assert.That(MkioDatabase.QueryAll(c, sql), Has.Count.EqualTo(1));
            Assert.That(DirectSnapshot.TryRead(c, sql, 0, native), Is.Null);
        });
    }

    private static void WithDatabase(string setup, Action<SqliteConnection> test)
    {
        var dir = Directory.CreateTempSubdirectory("mkio-direct-");
        try
        {
            using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(dir.FullName, "t.db"), Pooling = false }.ToString());
            c.Open();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = setup;
                cmd.ExecuteNonQuery();
            }

            test(c);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            dir.Delete(recursive: true);
        }
    }
}
