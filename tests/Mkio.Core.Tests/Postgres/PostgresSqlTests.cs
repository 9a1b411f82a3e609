using Mkio.Storage.Postgres;

namespace Mkio.Core.Tests.Postgres;

/// <summary>Translation of SQL written for SQLite into Npgsql's positional form, and refusal of SQLite-only SQL.</summary>
[Parallelizable(ParallelScope.All)]
public class PostgresSqlTests
{
    [Test]
    public void NamedParametersBecomePositionalAndRepeatsShareAPosition()
    {
        var sql = PostgresSql.Translate("SELECT * FROM orders WHERE symbol = :sym AND qty > :min OR symbol = :sym", out var names);
        Assert.That(sql, Is.EqualTo("SELECT * FROM orders WHERE symbol = $1 AND qty > $2 OR symbol = $1"));
        Assert.That(names, Is.EqualTo(new[] { ":sym", ":min" }));
    }

    [TestCase("SELECT * FROM t LIMIT $p1", "SELECT * FROM t LIMIT $1", "$p1")]
    [TestCase("SELECT * FROM t WHERE a = @a", "SELECT * FROM t WHERE a = $1", "@a")]
    [TestCase("SELECT * FROM t WHERE a = ?", "SELECT * FROM t WHERE a = $1", "?1")]
    [TestCase("SELECT * FROM t WHERE a = ?3", "SELECT * FROM t WHERE a = $1", "?3")]
    public void EveryParameterStyle(string sqlite, string postgres, string name)
    {
        Assert.That(PostgresSql.Translate(sqlite, out var names), Is.EqualTo(postgres));
        Assert.That(names, Is.EqualTo(new[] { name }));
    }

    [Test]
    public void LiteralsIdentifiersCommentsAndCastsAreLeftAlone()
    {
        const string Text = "SELECT ':no', \"a:b\", x::text -- :c\n FROM t /* @d */ WHERE s = 'it''s :e' AND v = :v";
        var sql = PostgresSql.Translate(Text, out var names);
        Assert.That(sql, Is.EqualTo("SELECT ':no', \"a:b\", x::text -- :c\n FROM t /* @d */ WHERE s = 'it''s :e' AND v = $1"));
        Assert.That(names, Is.EqualTo(new[] { ":v" }));
    }

    [Test]
    public void DoubleEqualsBecomesEquals() =>
        Assert.That(PostgresSql.Translate("SELECT * FROM t WHERE a == 1", out _), Is.EqualTo("SELECT * FROM t WHERE a = 1"));

    [Test]
    public void ColumnsNamedLikeSqliteFunctionsAreNotCalls() =>
        Assert.That(PostgresSql.Translate("SELECT date, time FROM t", out _), Is.EqualTo("SELECT date, time FROM t"));

    [TestCase("SELECT ifnull(a, 0) FROM t", "'ifnull'")]
    [TestCase("SELECT datetime('now')", "'datetime'")]
    [TestCase("SELECT rowid FROM t", "'rowid'")]
    [TestCase("SELECT * FROM t WHERE a GLOB 'x*'", "'GLOB'")]
    [TestCase("SELECT group_concat(a) FROM t", "'group_concat'")]
    [TestCase("SELECT `a` FROM t", "quoted with `")]
    [TestCase("SELECT [a] FROM t", "quoted with [")]
    [TestCase("SELECT * FROM t WHERE a = $1", "positional $N")]
    [TestCase("SELECT 'x", "unterminated string literal")]
    [TestCase("SELECT 1 /* x", "unterminated comment")]
    public void RefusesSqliteOnlySql(string sqlite, string reason)
    {
        var e = Assert.Throws<PostgresDialectException>(() => PostgresSql.Translate(sqlite, out _));
        Assert.That(e!.Message, Does.Contain(reason));
    }

    [Test]
    public void CheckPortableRefusesParameters() =>
        Assert.Throws<PostgresDialectException>(() => PostgresSql.CheckPortable("(a > :x)"));
}
