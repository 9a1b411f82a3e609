using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Versioning;

/// <summary>A table's row archive, <c>archive = {cutoff, format, group, with}</c>: TOML and code-first, and its errors.</summary>
public sealed class ArchiveConfigTests
{
    private const string Base = """
        db_path = ":memory:"

        [tables.events]
        columns = { id = "INTEGER PRIMARY KEY", at = "TEXT NOT NULL" }
        archive = { cutoff = "at", format = "%Y%m%d", group = "old", with = ["tags"] }

        [tables.tags]
        columns = { tag_id = "INTEGER PRIMARY KEY", id = "INTEGER", tag = "TEXT" }
        """;

    [Test]
    public void Toml_ArchiveConfig_IsRead_AndMatchesCodeFirst()
    {
        Assert.That(CompileToml(Base).TablesByName, Does.ContainKey("events"));
        var toml = Toml(Base).Tables[0].Archive!;
        var code = new MkioOptions().Table("events", t => t.Column("id", "INTEGER PRIMARY KEY").Archive("at", "old", "%Y%m%d", "tags")).Tables[0].Archive!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That((toml.Cutoff, toml.Format, toml.Group, string.Join(",", toml.With)), Is.EqualTo(("at", "%Y%m%d", "old", "tags")));
            Assert.That((code.Cutoff, code.Format, code.Group, string.Join(",", code.With)), Is.EqualTo((toml.Cutoff, toml.Format, toml.Group, string.Join(",", toml.With))));
            Assert.That(new MkioArchiveOptions().Group, Is.EqualTo("data"));
            Assert.That(new MkioArchiveOptions().Format, Is.EqualTo("%Y-%m-%d %H:%M:%S"));
        }
    }

    [TestCase("cutoff = \"at\"", "cutoff = \"when\"", "table 'events' has no column 'when'")]
    [TestCase("group = \"old\"", "group = \"all\"", "'all' cannot be a group name")]
    [TestCase("with = [\"tags\"]", "with = [\"nope\"]", "unknown table 'nope'")]
    [TestCase("with = [\"tags\"]", "with = [\"events\"]", "table 'events' cannot be its own companion")]
    [TestCase("tag_id = \"INTEGER PRIMARY KEY\", id = \"INTEGER\"", "tag_id = \"INTEGER PRIMARY KEY\"", "companion table 'tags' has no column 'id' (the key of 'events')")]
    [TestCase("id = \"INTEGER PRIMARY KEY\", at", "id = \"INTEGER\", at", "archived table 'events' needs a primary key")]
    [TestCase("cutoff = \"at\"", "cutoff = 5", "expected a string")]
    public void Toml_Errors(string replace, string with, string expected)
    {
        var text = Base.Replace(replace, with, StringComparison.Ordinal);
        Assert.That(text, Is.Not.EqualTo(Base));
        Assert.That(TomlErrors(text), Has.Some.Contains(expected));
    }
}
