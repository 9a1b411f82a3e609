using Mkio;

namespace Mkio.Core.Tests.Configuration.Toml;

[Parallelizable(ParallelScope.All)]
public sealed class TomlConfigKeysTests
{
    [TestCase("prot", "port")]
    [TestCase("hots", "host")]
    [TestCase("PORT", "port")]
    [TestCase("batch_max_wait_s", "batch_max_wait_ms")]
    [TestCase("service", "services")]
    [TestCase("tabels", "tables")]
    public void Suggest_CloseTypo_ReturnsKnownKey(string typo, string expected) =>
        Assert.That(TomlConfigKeys.Suggest(typo, TomlConfigKeys.Root), Is.EqualTo(expected));

    [TestCase("xyz")]
    [TestCase("hostname_and_port")]
    [TestCase("p")]
    public void Suggest_NothingClose_ReturnsNull(string key) =>
        Assert.That(TomlConfigKeys.Suggest(key, TomlConfigKeys.Root), Is.Null);

    [TestCase("", "", 0)]
    [TestCase("abc", "abc", 0)]
    [TestCase("ab", "ba", 1)]
    [TestCase("kitten", "sitting", 3)]
    [TestCase("key", "", 3)]
    public void Distance_Pairs_CountsEdits(string a, string b, int expected) =>
        Assert.That(TomlConfigKeys.Distance(a, b), Is.EqualTo(expected));

    [Test]
    public void ForServiceType_CustomType_ReturnsEveryKnownKey()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(TomlConfigKeys.ForServiceType("My.Custom"), Does.Contain("buffer_size").And.Contain("ops").And.Contain("topic"));
            Assert.That(TomlConfigKeys.ForServiceType("stream"), Does.Not.Contain("change_log_size"));
            Assert.That(TomlConfigKeys.IsBuiltInType("query"), Is.True);
            Assert.That(TomlConfigKeys.IsBuiltInType(null), Is.False);
        }
    }
}
