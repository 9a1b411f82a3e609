using Mkio.Model;
using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Model;

/// <summary>Top-level defaults and loading (CONFIG.md §2; CONFORMANCE items 8–9).</summary>
[Parallelizable(ParallelScope.All)]
public sealed class MkioOptionsTests
{
    [Test]
    public void Toml_PortHostAndTable_LoadsThoseValues()
    {
        var options = Toml("""
            port = 9000
            host = "127.0.0.1"

            [tables.items]
            columns = { id = "TEXT PRIMARY KEY", name = "TEXT" }
            """);
        var model = Compile(options);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(options.Port, Is.EqualTo(9000));
            Assert.That(options.Host, Is.EqualTo("127.0.0.1"));
            Assert.That(options.DbPath, Is.EqualTo("mkio.db"));
            Assert.That(model.Tables.Select(t => t.Name), Is.EqualTo(new[] { "items" }));
            Assert.That(model.Tables[0].Columns.Select(c => c.Name), Is.EqualTo(new[] { "id", "name" }));
            Assert.That(model.Services, Is.Empty);
        }
    }

    [Test]
    public void CodeFirst_WithoutDbPath_GetsMkioDb()
    {
        var options = new MkioOptions().Table("items", t => t.Column("id", "TEXT PRIMARY KEY"));
        var model = Compile(options);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(options.DbPath, Is.EqualTo("mkio.db"));
            Assert.That(model.InMemory, Is.False);
        }
    }

    [Test]
    public void Defaults_EmptyCodeFirstConfig_MatchReference()
    {
        AssertReferenceDefaults(new MkioOptions());
    }

    [Test]
    public void Defaults_EmptyTomlDocument_MatchReference()
    {
        var options = Toml(string.Empty);
        var model = Compile(options);
        using (Assert.EnterMultipleScope())
        {
            AssertReferenceDefaults(options);
            Assert.That(model.Tables, Is.Empty);
            Assert.That(model.Services, Is.Empty);
            Assert.That(model.Warnings, Is.Empty);
        }
    }

    [Test]
    public void Defaults_OtherTopLevelKeys_MatchConfigTable()
    {
        var o = new MkioOptions();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.WalCheckpointIntervalS, Is.EqualTo(300.0));
            Assert.That(o.AutoMigrate, Is.EqualTo(MkioAutoMigrate.Off));
            Assert.That(o.BackupOnStartup, Is.False);
            Assert.That(o.BackupDir, Is.EqualTo("./backups"));
            Assert.That(o.ShutdownTimeout, Is.EqualTo(5.0));
            Assert.That(o.Tables, Is.Empty);
            Assert.That(o.Services, Is.Empty);
            Assert.That(o.Static, Is.Empty);
            Assert.That(o.MaxMessageBytes, Is.EqualTo(4 * 1024 * 1024));
            Assert.That(o.MaxSendQueueBytes, Is.EqualTo(16L * 1024 * 1024));
            Assert.That(o.AllowedOrigins, Is.Empty);
            Assert.That(o.MaxConnections, Is.EqualTo(10_000));
            Assert.That(o.WsHeartbeatS, Is.EqualTo(30.0));
        }
    }

    [Test]
    public void Toml_HostingKeys_WsHeartbeatAndAllowedOrigins()
    {
        var o = Toml("""
            ws_heartbeat_s = 12.5
            allowed_origins = ["https://app.example.com", "*"]
            """);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.WsHeartbeatS, Is.EqualTo(12.5));
            Assert.That(o.AllowedOrigins, Is.EqualTo(new[] { "https://app.example.com", "*" }));
            Assert.That(o.LoadDiagnostics, Is.Empty, "known keys: no unknown-key warning");
        }
    }

    [TestCase("ws_heartbeat_s = -1", "ws_heartbeat_s: must be a finite number of seconds ≥ 0 (0 disables pings), got -1 (TOML 'ws_heartbeat_s', host option 'Mkio:WsHeartbeatS').")]
    [TestCase("ws_heartbeat_s = true", "ws_heartbeat_s: expected a number, got boolean true")]
    [TestCase("allowed_origins = \"*\"", "allowed_origins: expected an array of strings, got string '*'")]
    public void Toml_BadHostingKeys_ErrorNamesTheKey(string toml, string expected)
    {
        var ex = Assert.Throws<MkioConfigurationException>(() => Mkio.Model.ModelCompiler.Compile(Toml(toml)))!;
        Assert.That(ex.Message, Does.Contain(expected));
    }

    [Test]
    public void Toml_MemoryDbPath_ModelIsInMemory()
    {
        var model = CompileToml("""db_path = ":memory:" """);
        Assert.That(model.InMemory, Is.True);
    }

    [Test]
    public void Toml_OnlySomeKeys_KeepsDefaultsForTheRest()
    {
        var options = Toml("""
            batch_max_wait_ms = 1
            change_log_size = 50
            """);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(options.BatchMaxWaitMs, Is.EqualTo(1.0));
            Assert.That(options.ChangeLogSize, Is.EqualTo(50));
            Assert.That(options.BatchMaxSize, Is.EqualTo(500));
            Assert.That(options.Port, Is.EqualTo(8080));
            Assert.That(options.Host, Is.EqualTo("0.0.0.0"));
        }
    }

    private static void AssertReferenceDefaults(MkioOptions o)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.Host, Is.EqualTo("0.0.0.0"));
            Assert.That(o.Port, Is.EqualTo(8080));
            Assert.That(o.BatchMaxSize, Is.EqualTo(500));
            Assert.That(o.BatchMaxWaitMs, Is.EqualTo(2.0));
            Assert.That(o.DbPath, Is.EqualTo("mkio.db"));
            Assert.That(o.ChangeLogSize, Is.EqualTo(10000));
        }
    }
}
