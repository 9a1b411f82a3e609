using System.Security.Claims;
using System.Text.Json;
using Mkio.Security;
using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Security;

/// <summary><c>access</c> / <c>monitor_access</c>: reading (TOML and code), start-up validation, and the access decision.</summary>
public sealed class AccessConfigTests
{
    private const string Base = """
        [tables.t]
        columns = { id = "TEXT PRIMARY KEY", v = "TEXT" }

        """;

    [Test]
    public void Toml_AccessAtEveryLevel_IsReadWithoutWarnings()
    {
        var o = Toml("""
            access = "auth"
            monitor_access = "admin"

            """ + Base + """
            [services.feed]
            type = "subpub"
            primary_table = "t"
            key = "id"
            access = "open"
            monitor_access = "ops"

            [services.edit]
            type = "transaction"

            [[services.edit.ops.add]]
            table = "t"
            op_type = "insert"
            fields = ["id", "v"]
            access = "writer"

            [[services.edit.ops.remove]]
            table = "t"
            op_type = "delete"
            key = ["id"]
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(o.Access, Is.EqualTo("auth"));
            Assert.That(o.MonitorAccess, Is.EqualTo("admin"));
            Assert.That(o.Services[0].Access, Is.EqualTo("open"));
            Assert.That(o.Services[0].MonitorAccess, Is.EqualTo("ops"));
            Assert.That(o.Services[1].Access, Is.Null);
            Assert.That(o.Services[1].Ops.Select(s => s.Access), Is.EqualTo(new[] { "writer", null }));
            Assert.That(AccessControl.IsOn(o), Is.True);
        }

        Compile(o);
    }

    [Test]
    public void Toml_BadAccessValues_AreErrorsNamingTheKey()
    {
        var errors = TomlErrors(Base + """
            [services.a]
            type = "subpub"
            primary_table = "t"
            key = "id"
            access = { admin = 3 }

            [services.b]
            type = "subpub"
            primary_table = "t"
            key = "id"
            access = ""
            monitor_access = 3

            [services.c]
            type = "subpub"
            primary_table = "t"
            key = "id"
            access = "Open"

            [services.d]
            type = "transaction"
            table = "t"
            op_type = "insert"
            access = " admin"
            """);

        Assert.That(errors, Has.Count.EqualTo(5));
        Assert.That(errors, Has.Some.Contains("services.a.access.admin: access right 'admin' must be true or an SQL check (what follows SELECT 1 FROM), got integer 3"));
        Assert.That(errors, Has.Some.Contains("services.b.access: must be \"open\", \"auth\" or a policy or role name, got an empty string."));
        Assert.That(errors, Has.Some.Contains("services.b.monitor_access: monitor_access must be \"open\", \"auth\", a right (policy or role) name or a table of right = true | \"SQL check\", got integer 3"));
        Assert.That(errors, Has.Some.Contains("services.c.access: must be \"open\", \"auth\" or a policy or role name, got 'Open'; did you mean 'open'?"));
        Assert.That(errors, Has.Some.Contains("services.d.access: must be \"open\", \"auth\" or a policy or role name, got ' admin' (leading or trailing spaces)."));
    }

    [Test]
    public void Toml_OpsOfOneSetWithDifferentAccess_IsAnError()
    {
        var errors = TomlErrors(Base + """
            [services.edit]
            type = "transaction"

            [[services.edit.ops.add]]
            table = "t"
            op_type = "insert"
            access = "a"

            [[services.edit.ops.add]]
            table = "t"
            op_type = "update"
            key = ["id"]
            access = "b"
            """);

        Assert.That(errors, Has.One.Contains("access = 'b' conflicts with access = 'a'"));
    }

    [Test]
    public void CodeFirst_AccessAndRequireAuthorization_SetTheOptions()
    {
        var o = new MkioOptions();
        o.Table("t", t => t.Column("id", "TEXT PRIMARY KEY"))
            .Transaction("edit", tx => tx
                .RequireAuthorization("editors")
                .MonitorAccess("admin")
                .Op("add", ops => ops.Insert("t", ["id"]).Access("auth"))
                .Op("drop", ops => ops.Delete("t", ["id"])))
            .SubPub("feed", s => s.From("t").Key("id").Access("open"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.Services[0].Access, Is.EqualTo("editors"));
            Assert.That(o.Services[0].MonitorAccess, Is.EqualTo("admin"));
            Assert.That(o.Services[0].Ops.Select(s => s.Access), Is.EqualTo(new[] { "auth", null }));
            Assert.That(o.Services[1].Access, Is.EqualTo("open"));
        }

        var access = new AccessControl(o);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(access.Enabled, Is.True);
            Assert.That(access.ForMessage("edit", Op("add"))?.Name, Is.EqualTo("auth"));
            Assert.That(access.ForMessage("edit", Op("drop"))?.Name, Is.EqualTo("editors"));
            Assert.That(access.ForMessage("edit", default)?.Name, Is.EqualTo("editors"), "no op among several sets: the service's access");
            Assert.That(access.ForMessage("feed", default)?.Name, Is.EqualTo("open"));
            Assert.That(access.ForMonitor("edit")?.Name, Is.EqualTo("admin"));
            Assert.That(access.ForMonitor("feed")?.Name, Is.Null);
        }
    }

    [Test]
    public void IsOn_OnlyWhenSomethingAsksForIt()
    {
        var o = new MkioOptions();
        o.Table("t", t => t.Column("id", "TEXT PRIMARY KEY")).SubPub("feed", s => s.From("t").Key("id"));
        Assert.That(AccessControl.IsOn(o), Is.False);
        o.AccessControl = true;
        Assert.That(AccessControl.IsOn(o), Is.True);
        o.AccessControl = false;
        o.Table(AccessControl.RightsTable, t => t.Column("role", "TEXT").Column("right", "TEXT"));
        Assert.That(AccessControl.IsOn(o), Is.True);
    }

    [TestCase(null, false, null, "authentication required")]
    [TestCase(null, true, null, "permission denied")]
    [TestCase("open", false, null, null)]
    [TestCase("auth", false, null, "authentication required")]
    [TestCase("auth", true, null, null)]
    [TestCase("trader", false, "trader", "authentication required")]
    [TestCase("trader", true, "viewer", "permission denied")]
    [TestCase("trader", true, "trader", null)]
    public async Task RefuseAsync_DecidesByAccessValueAndIdentity(string? access, bool authenticated, string? role, string? expected)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, "alice") };
        if (role is not null)
        {
            claims.Add(new Claim(ClaimTypes.Role, role));
        }

        var identity = new MkioIdentity(new ClaimsPrincipal(new ClaimsIdentity(claims, authenticated ? "Test" : null)), null);
        Assert.That(await AccessControl.RefuseAsync(identity, access), Is.EqualTo(expected));
        if (authenticated)
        {
            Assert.That((identity.User, identity.Role), Is.EqualTo(("alice", role ?? string.Empty)));
        }
    }

    [Test]
    public void BuiltInAuthTables_AreAllowed_MissingColumnsAreErrors()
    {
        var ok = new MkioOptions { DbPath = ":memory:" }
            .Table("_mkio_users", t => t.Column("username", "TEXT PRIMARY KEY").Column("password", "TEXT").Column("role", "TEXT").Column("desk", "TEXT"))
            .Table("_mkio_rights", t => t.Column("role", "TEXT").Column("right", "TEXT"));
        Assert.That(() => Mkio.Model.ModelCompiler.Compile(ok), Throws.Nothing);

        var bad = new MkioOptions { DbPath = ":memory:" }
            .Table("_mkio_users", t => t.Column("username", "TEXT").Column("password", "TEXT"))
            .Table("_mkio_rights", t => t.Column("role", "TEXT"));
        var ex = Assert.Throws<MkioConfigurationException>(() => Mkio.Model.ModelCompiler.Compile(bad));
        Assert.That(ex!.Message, Does.Contain("tables._mkio_users: the built-in table '_mkio_users' needs the column 'role'")
            .And.Contain("tables._mkio_users.columns.username: the user name of '_mkio_users' must be its primary key")
            .And.Contain("tables._mkio_rights: the built-in table '_mkio_rights' needs the column 'right'"));
    }

    private static JsonElement Op(string name) => JsonDocument.Parse(JsonSerializer.Serialize(name)).RootElement;
}
