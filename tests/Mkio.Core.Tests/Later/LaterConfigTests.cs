using Mkio.Later;
using Mkio.Model;
using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Later;

/// <summary>Config keys of the later generations: identity, <c>[config]</c>, send buffer, later_protocol, reqrep services.</summary>
public sealed class LaterConfigTests
{
    private const string Table = """
        [tables.t]
        columns = { id = "TEXT PRIMARY KEY", v = "INTEGER" }

        """;

    [Test]
    public void RootKeys_Read()
    {
        var o = Toml("""
            name = "app"
            version = "2.1"
            later_protocol = true
            ws_send_buffer_mb = 0.5
            [config]
            "/cfg" = "./configs"
            "/other/" = { path = "./other", cache_control = "max-age=60" }
            """);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(o.Name, Is.EqualTo("app"));
            Assert.That(o.Version, Is.EqualTo("2.1"));
            Assert.That(o.LaterProtocol, Is.True);
            Assert.That(o.MaxSendQueueBytes, Is.EqualTo(512 * 1024));
            Assert.That(o.ConfigRoutes, Is.EqualTo(new[] { new MkioStaticRoute("/cfg", "./configs"), new MkioStaticRoute("/other/", "./other") }));
        }
    }

    [TestCase("ws_send_buffer_mb = 0", "ws_send_buffer_mb: ws_send_buffer_mb must be a number > 0, got 0")]
    [TestCase("ws_send_buffer_mb = -2", "ws_send_buffer_mb: ws_send_buffer_mb must be a number > 0, got -2")]
    [TestCase("ws_send_buffer_mb = true", "ws_send_buffer_mb: expected a number of megabytes > 0, got boolean true")]
    [TestCase("ws_send_buffer_mb = \"16\"", "ws_send_buffer_mb: expected a number, got string '16'")]
    [TestCase("later_protocol = 1", "later_protocol: expected a boolean, got integer 1")]
    [TestCase("name = 3", "name: expected a string, got integer 3")]
    [TestCase("[config]\n\"cfg\" = \"x\"", "config.cfg: route prefix 'cfg' must start with '/'.")]
    public void RootKeys_BadValues_ErrorNamesTheKey(string toml, string expected)
    {
        var errors = TomlErrors(toml);
        Assert.That(errors.Select(e => e[(e.IndexOf("): ", StringComparison.Ordinal) + 3)..]), Is.EqualTo(new[] { expected }));
    }

    [Test]
    public void ReqRep_EveryFormCompiles()
    {
        var model = CompileToml(Table + """
            [services.a]
            protocol = "reqrep"
            sql = "SELECT v FROM t WHERE id = :id AND v > :min OR id = ':no' OR v = :min"
            params = { id = "upper(k)", min = 0 }
            reply = "v + 1"

            [services.b]
            type = "reqrep"
            reply = { x = "a * 2", y = "b" }
            description = "row"
            """);
        var a = (ReqRepServiceModel)model.ServicesByName["a"];
        var b = (ReqRepServiceModel)model.ServicesByName["b"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(a.SqlParameters, Is.EqualTo(new[] { "id", "min", "min" }));
            Assert.That(a.Params.Select(p => (p.Name, p.Expression.Text)), Is.EqualTo(new[] { ("id", "upper(k)"), ("min", "0") }));
            Assert.That(a.ReplyShape, Is.EqualTo("value (scalar from SQL)"));
            Assert.That(b.ReplyShape, Is.EqualTo("row (single record)"));
            Assert.That(b.ReplyRow!.OutputSchema.Names, Is.EqualTo(new[] { "x", "y" }));
        }
    }

    [Test]
    public void ReqRep_WithoutSqlOrReply_ConfigError()
    {
        var errors = TomlErrors("[services.r]\nprotocol = \"reqrep\"\ndescription = \"x\"\n");
        Assert.That(errors, Is.EqualTo(new[] { "mkio.toml(1,11): services.r: Service 'r' (reqrep): requires at least one of 'sql' or 'reply'" }));
    }

    [Test]
    public void ReqRep_BadExpressionAndUnknownKey_Reported()
    {
        var o = Toml("[services.r]\nprotocol = \"reqrep\"\nreply = \"1 +\"\nprimary_table = \"t\"\n");
        var errors = Errors(o);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(errors, Has.Some.Contains("services.r.reply: invalid expression '1 +'"));
            Assert.That(o.LoadDiagnostics.Select(d => d.Path), Does.Contain("services.r.primary_table"));
        }
    }

    [TestCase("1.2", "1.4.2", true)]
    [TestCase("1.4.2", "1.4.2", true)]
    [TestCase("1.5", "1.4.2", false)]
    [TestCase("2", "2.0.0", false)]
    [TestCase("0.3.1", "0.3.4", true)]
    [TestCase("0.3.5", "0.3.4", false)]
    [TestCase("0.3", "0.4.0", false)]
    [TestCase("0.0.3", "0.0.3", true)]
    [TestCase("0.0.3", "0.0.4", false)]
    [TestCase("1.0-beta", "1.0", false)]
    [TestCase("", "1.0", false)]
    [TestCase(null, "1.0", false)]
    [TestCase("1.0", "dev", false)]
    [TestCase("1.x", "1.0", false)]
    [TestCase("1.2.3.4", "1.2.3.4", false)]
    public void Compatibility_CaretSemver(string? client, string server, bool expected) =>
        Assert.That(IdentityService.Compatible(client, server), Is.EqualTo(expected));

    [Test]
    public void ConfigHash_StableAndSensitive()
    {
        static MkioOptions Make(string v)
        {
            var o = Toml(Table + "[services.s]\nprotocol = \"reqrep\"\nreply = \"" + v + "\"\n");
            o.ConfigRoutes.Add(new MkioStaticRoute("/c", "d"));
            return o;
        }

        var first = ConfigHash.Compute(Make("1"));
        var again = ConfigHash.Compute(Make("1"));
        var other = ConfigHash.Compute(Make("2"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(again, Is.EqualTo(first).And.Match("^[0-9a-f]{8}$"));
            Assert.That(other, Is.Not.EqualTo(first));
        }
    }

    [TestCase("""{"type":"subscribe","service":"s","protocol":"query"}""", true)]
    [TestCase("""{"type":"subscribe","service":"s"}""", false)]
    [TestCase("""{"type":"subscribe","service":"s","protocol":null}""", false)]
    [TestCase("""{"service":"s","txnid":"t","data":{}}""", true)]
    [TestCase("""{"service":"s","msgid":"t","data":{}}""", false)]
    [TestCase("""{"service":"s","reqid":null}""", false)]
    [TestCase("""{"type":"getmore","service":"s"}""", true)]
    [TestCase("""{"type":"auth"}""", true)]
    [TestCase("""{"type":"monitor","service":"s","fields":["a"]}""", true)]
    [TestCase("""{"type":"check","service":"s","topic":"x"}""", true)]
    [TestCase("""{"service":"s","protocol":"query"}""", false)]
    public void IsLater(string json, bool expected)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        Assert.That(LaterProtocol.IsLater(doc.RootElement), Is.EqualTo(expected));
    }
}
