using Mkio.Model;
using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Later;

/// <summary>Later listener keys: subpub <c>topic</c>/<c>key</c> and <c>defaults</c>, query <c>max_buffer</c>.</summary>
public sealed class TopicConfigTests
{
    private const string Table = """
        [tables.t]
        columns = { id = "TEXT PRIMARY KEY", v = "INTEGER", label = "TEXT" }

        """;

    [Test]
    public void Defaults_CompiledWithTheOneEngine_LiteralsAreExpressions_MaxBufferRead()
    {
        var o = Toml(Table + """
            [services.s]
            protocol = "subpub"
            primary_table = "t"
            topic = "id"
            defaults = { label = "'none: ' + _mkio_topic", v = 0 }

            [services.q]
            protocol = "query"
            primary_table = "t"
            max_buffer = 5
            """);
        var model = Compile(o);
        var s = (ListenerServiceModel)model.ServicesByName["s"];
        var q = (ListenerServiceModel)model.ServicesByName["q"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(s.Key, Is.EqualTo("id"));
            Assert.That(s.TopicDefaults.Select(d => (d.Column, d.Expression.Text)), Is.EqualTo(new[] { ("label", "'none: ' + _mkio_topic"), ("v", "0") }));
            Assert.That(s.TopicDefaults[0].Expression.Evaluate(MakeRow(("_mkio_topic", "X"))), Is.EqualTo("none: X"));
            Assert.That(q.MaxBuffer, Is.EqualTo(5));
            Assert.That(s.MaxBuffer, Is.EqualTo(1000));
        }
    }

    [Test]
    public void CodeFirst_TopicDefaultAndMaxBuffer()
    {
        var model = CompileCode(o => o
            .Table("t", t => t.Column("id", "TEXT PRIMARY KEY").Column("v", "INTEGER"))
            .SubPub("s", s => s.From("t").Key("id").TopicDefault("v", "0"))
            .Query("q", q => q.From("t").MaxBuffer(7)));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(((ListenerServiceModel)model.ServicesByName["s"]).TopicDefaults.Select(d => d.Column), Is.EqualTo(new[] { "v" }));
            Assert.That(((ListenerServiceModel)model.ServicesByName["q"]).MaxBuffer, Is.EqualTo(7));
        }
    }

    [TestCase("defaults = { lable = \"1\" }", "services.s.defaults.lable: Service 's': defaults column 'lable' not found in output columns. Available columns: id, label, v. Did you mean 'label'?")]
    [TestCase("defaults = { zzz = \"1\" }", "services.s.defaults.zzz: Service 's': defaults column 'zzz' not found in output columns. Available columns: id, label, v.")]
    [TestCase("defaults = { v = \"1 +\" }", "services.s.defaults.v: invalid expression '1 +'")]
    [TestCase("publish = { a = \"v\" }\ndefaults = { v = \"1\" }", "services.s.defaults.v: Service 's': defaults column 'v' not found in output columns. Available columns: a.")]
    public void Defaults_Errors(string line, string expected)
    {
        var errors = TomlErrors(Table + "[services.s]\nprotocol = \"subpub\"\nprimary_table = \"t\"\ntopic = \"id\"\n" + line + "\n");
        Assert.That(errors.Select(e => e[(e.IndexOf("): ", StringComparison.Ordinal) + 3)..]), Has.One.StartsWith(expected));
    }

    [TestCase("max_buffer = 0", "services.q.max_buffer: must be at least 1, got 0.")]
    [TestCase("max_buffer = \"9\"", "services.q.max_buffer: expected an integer, got string '9'")]
    public void MaxBuffer_Errors(string line, string expected)
    {
        var errors = TomlErrors(Table + "[services.q]\nprotocol = \"query\"\nprimary_table = \"t\"\n" + line + "\n");
        Assert.That(errors.Select(e => e[(e.IndexOf("): ", StringComparison.Ordinal) + 3)..]), Is.EqualTo(new[] { expected }));
    }

    [Test]
    public void KeyAndTopic_AreOneSetting_ConflictingValuesRejected()
    {
        var keyed = Compile(Toml(Table + "[services.s]\ntype = \"subpub\"\nprimary_table = \"t\"\nkey = \"id\"\n"));
        var errors = TomlErrors(Table + "[services.s]\nprotocol = \"subpub\"\nprimary_table = \"t\"\nkey = \"id\"\ntopic = \"v\"\n");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(((ListenerServiceModel)keyed.ServicesByName["s"]).Key, Is.EqualTo("id"));
            Assert.That(errors, Has.One.Contains("conflicts with"));
        }
    }

    [Test]
    public void LaterKeysOnOtherTypes_WarnedNotApplied()
    {
        var o = Toml(Table + "[services.st]\nprotocol = \"stream\"\nprimary_table = \"t\"\nmax_buffer = 3\ndefaults = { v = \"1\" }\n");
        Assert.That(o.LoadDiagnostics.Select(d => d.Message), Has.Some.Contains("does not apply to stream services"));
    }
}
