using Microsoft.Data.Sqlite;
using Mkio.Storage;

namespace Mkio.Core.Tests.Storage;

/// <summary>
/// <see cref="MkioDatabase.QueryAll"/> (the snapshot reader that steps SQLite directly) must give exactly the
/// values of the reader-based <see cref="MkioDatabase.Query(SqliteConnection, string, object?[])"/>, for every storage class.
/// </summary>
public class QueryAllTests
{
    [Test]
    public void QueryAll_EveryStorageClass_SameRowsAsQuery()
    {
        var dir = Directory.CreateTempSubdirectory("mkio-queryall-");
        try
        {
            using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(dir.FullName, "t.db"), Pooling = false }.ToString());
            c.Open();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = """
                    CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, data BLOB, anything);
                    INSERT INTO t VALUES (1, 'pending', 10, 1.5, x'00ff', NULL);
                    INSERT INTO t VALUES (2, 'pending', NULL, -0.0, NULL, 'text');
                    INSERT INTO t VALUES (3, 'Zürich—日本😀', 9223372036854775807, 1e300, x'', 42);
                    INSERT INTO t VALUES (4, 'pendinG', -1, NULL, NULL, 2.25);
                    INSERT INTO t VALUES (5, '', 0, 0.1, NULL, x'01');
                    """;
                cmd.ExecuteNonQuery();
            }

            var expected = MkioDatabase.Query(c, "SELECT * FROM t ORDER BY id");
            var actual = MkioDatabase.QueryAll(c, "SELECT * FROM t ORDER BY id");
            Assert.That(actual, Has.Count.EqualTo(expected.Count));
            Assert.That(actual[0].Schema.Names, Is.EqualTo(expected[0].Schema.Names));
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.That(actual[i].Values.ToArray(), Is.EqualTo(expected[i].Values.ToArray()), "row " + i);
                for (var k = 0; k < expected[i].Count; k++)
                {
                    Assert.That(actual[i][k]?.GetType(), Is.EqualTo(expected[i][k]?.GetType()), $"row {i} column {k}");
                }
            }

            // A repeated text value of a column is one string.
            Assert.That(actual[1][1], Is.SameAs(actual[0][1]));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void QueryAll_InvalidSql_ThrowsSqliteException()
    {
        using var c = new SqliteConnection("Data Source=:memory:");
        c.Open();
        Assert.That(() => MkioDatabase.QueryAll(c, "SELECT * FROM missing"), Throws.TypeOf<SqliteException>().With.Message.Contains("missing"));
    }
}
