using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Mkio.AspNetCore.Hosting;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Http.HttpTestSupport;

namespace Mkio.AspNetCore.Tests.Registration;

/// <summary>
/// <c>services.AddMkio(...)</c>: idempotent registration, start-up validation that lists every error,
/// missing static folders, and <c>Mkio:</c> configuration overrides (CONFIG.md §1, PROTOCOL.md §1.3).
/// </summary>
public sealed class AddMkioTests
{
    [Test]
    public void AddMkio_Twice_RegistersEachServiceOnce()
    {
        var services = new ServiceCollection();
        var first = services.AddMkio(Fixtures.FixtureA);
        var second = services.AddMkio(o => o.Query("extra", s => s.From("orders")));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(services.Count(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(MkioHostedService)), Is.EqualTo(1));
            Assert.That(services.Count(d => d.ServiceType == typeof(MkioMarkerService)), Is.EqualTo(1));
            Assert.That(services.Count(d => d.ServiceType == typeof(MkioEngineHost)), Is.EqualTo(1));
            Assert.That(services.Count(d => d.ServiceType == typeof(IValidateOptions<MkioOptions>)), Is.EqualTo(1));
            Assert.That(services.Count(d => d.ServiceType == typeof(IPostConfigureOptions<MkioOptions>)), Is.EqualTo(1));
            Assert.That(second.Services, Is.SameAs(first.Services));
        }
    }

    [Test]
    public void AddMkio_NullArguments_Throw()
    {
        var services = new ServiceCollection();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => MkioServiceCollectionExtensions.AddMkio(null!, _ => { }), Throws.ArgumentNullException);
            Assert.That(() => services.AddMkio((Action<MkioOptions>)null!), Throws.ArgumentNullException);
            Assert.That(() => services.AddMkio("  "), Throws.ArgumentException);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task AddMkio_Twice_BothConfigurationsAndFunctionsApply(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(
            Fixtures.FixtureA,
            ct,
            mkio: m => m.AddFunction("TWICE", args => args[0] is long l ? l * 2 : null),
            builder: b => b.Services.AddMkio(o => o.Query("doubled", s => s.From("orders").Publish("id", "id").Publish("q2", "TWICE(qty)"))));
        using var http = host.CreateHttpClient();
        var (response, list) = await GetAsync(http, "api/services", ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var add = await ws.RequestAsync("""{"service":"add_order","ref":"t1","data":{"id":"1","symbol":"A","qty":21}}""", ct);
        var snapshot = await ws.RequestAsync("""{"service":"doubled","type":"subscribe"}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(list, Does.EndWith("""{"name": "doubled", "type": "query", "primary_table": "orders", "watch_tables": ["orders"]}]"""));
            Assert.That(add.GetProperty("ok").GetBoolean(), Is.True);
            Assert.That(snapshot.GetProperty("rows").GetRawText(), Is.EqualTo("""[{"id":"1","q2":42}]"""));
        }
    }

    // ------------------------------------------------------------------ invalid configuration refuses start

    [Test, CancelAfter(30_000)]
    public void Start_InvalidCodeFirstConfig_RefusedListingEveryError(CancellationToken ct)
    {
        var ex = Assert.ThrowsAsync<OptionsValidationException>(() => MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.Query("bad", s => s.From("nope"));
            o.SubPub("bad2", s => s.From("orders"));
            o.Transaction("bad3", tx => tx.Insert("orders", ["id", "symbl"]));
        }, ct))!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex.OptionsType, Is.EqualTo(typeof(MkioOptions)));
            Assert.That(ex.Message, Is.EqualTo(string.Join(Environment.NewLine,
                "Invalid mkio configuration (3 errors):",
                "  services.bad.primary_table: unknown table 'nope'; declare it under [tables].",
                "  services.bad2.key: subpub service 'bad2' needs 'key' (the cache key column).",
                "  services.bad3.ops[0].fields: table 'orders' has no column 'symbl' (did you mean 'symbol'?).")));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Start_InvalidTomlFile_RefusedWithPositions(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("mkio.toml"), """
            db_path = ":memory:"

            [tables.orders]
            columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL" }

            [services.add]
            type = "transaction"
            table = "order"
            op_type = "insert"
            fields = ["id"]

            [services.feed]
            type = "stream"
            primary_table = "orders"
            where = "status == 'x"
            """, ct);

        var ex = Assert.ThrowsAsync<OptionsValidationException>(() => MkioTestHost.StartAsync(_ => { }, ct, directory: dir, tomlPath: "mkio.toml"))!;
        var file = dir.File("mkio.toml");
        Assert.That(ex.Message, Is.EqualTo(string.Join(Environment.NewLine,
            $"Invalid mkio configuration in {file} (2 errors):",
            $"  {file}(8,1): services.add.table: unknown table 'order' (did you mean 'orders'?); declare it under [tables].",
            $"  {file}(15,1): services.feed.where: invalid expression 'status == 'x': Unterminated string literal")));
    }

    [Test, CancelAfter(30_000)]
    public void Start_TomlFileMissing_RefusedNamingThePath(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var ex = Assert.ThrowsAsync<MkioConfigurationException>(() => MkioTestHost.StartAsync(_ => { }, ct, directory: dir, tomlPath: "missing.toml"))!;
        Assert.That(ex.Message, Is.EqualTo($"Config file not found: {dir.File("missing.toml")} ('missing.toml' resolved against the content root {dir.Path})."));
    }

    [Test, CancelAfter(30_000)]
    public void Start_StaticDirectoryMissing_RefusedWithClearMessage(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var missing = dir.File("nope");
        var ex = Assert.ThrowsAsync<OptionsValidationException>(() => MkioTestHost.StartAsync(o => Fixtures.FixtureA(o.StaticFiles("/", "nope")), ct, directory: dir))!;
        Assert.That(ex.Message, Is.EqualTo(
            $"Invalid mkio configuration: static./: directory '{missing}' does not exist (resolved against the working directory to '{missing}')."));
    }

    [Test, CancelAfter(30_000)]
    public void Start_OtherStaticPrefixDirectoryMissing_Refused(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("static"));
        var ex = Assert.ThrowsAsync<OptionsValidationException>(() => MkioTestHost.StartAsync(
            o => Fixtures.FixtureA(o.StaticFiles("/", "static").StaticFiles("/assets", "public")), ct, directory: dir))!;
        Assert.That(ex.Message, Does.Contain($"static./assets: directory '{dir.File("public")}' does not exist"));
    }

    // ------------------------------------------------------------------ Mkio: configuration overrides

    [Test, CancelAfter(30_000)]
    public async Task Start_MkioConfigurationSection_OverridesTheModel(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var dbPath = dir.File("override.db");
        await using var host = await MkioTestHost.StartAsync(
            Fixtures.FixtureA,
            ct,
            directory: dir,
            builder: b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Mkio:DbPath"] = dbPath,
                ["Mkio:BatchMaxSize"] = "7",
                ["Mkio:batch_max_wait_ms"] = "0.5",
                ["Mkio:ChangeLogSize"] = "33",
                ["Mkio:MaxConnections"] = "12",
                ["Mkio:WsHeartbeatS"] = "7.5",
                ["Mkio:writer_cache_size_kib"] = "16000",
                ["Mkio:MmapSizeMib"] = "64",
                ["Mkio:AllowedOrigins:0"] = "http://a.example",
                ["Mkio:AllowedOrigins:1"] = "http://b.example",
            }));

        var options = host.Services.GetRequiredService<IOptions<MkioOptions>>().Value;
        var engine = host.Services.GetRequiredService<MkioEngineHost>().Engine;
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"add_order","ref":"o1","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(options.DbPath, Is.EqualTo(dbPath));
            Assert.That(options.BatchMaxSize, Is.EqualTo(7));
            Assert.That(options.BatchMaxWaitMs, Is.EqualTo(0.5));
            Assert.That(options.ChangeLogSize, Is.EqualTo(33));
            Assert.That(options.MaxConnections, Is.EqualTo(12));
            Assert.That(options.WsHeartbeatS, Is.EqualTo(7.5));
            Assert.That(options.WriterCacheSizeKib, Is.EqualTo(16000));
            Assert.That(options.MmapSizeMib, Is.EqualTo(64));
            Assert.That(options.AllowedOrigins, Is.EqualTo(new[] { "http://a.example", "http://b.example" }));
            Assert.That(engine.Model.InMemory, Is.False);
            Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True);
            Assert.That(File.Exists(dbPath), Is.True, "the database lives where the override says");
            Assert.That(((Mkio.Model.ListenerServiceModel)engine.Model.ServicesByName["all_orders"]).ChangeLogSize, Is.EqualTo(100), "explicit service values win over the global override");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Start_MkioSectionOverridesToml_TomlIsTheBase(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("mkio.toml"), """
            db_path = "from-toml.db"
            batch_max_size = 3

            [tables.items]
            columns = { id = "TEXT PRIMARY KEY" }
            """, ct);
        await using var host = await MkioTestHost.StartAsync(
            _ => { },
            ct,
            directory: dir,
            tomlPath: "mkio.toml",
            builder: b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Mkio:db_path"] = ":memory:" }));

        var options = host.Services.GetRequiredService<IOptions<MkioOptions>>().Value;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(options.DbPath, Is.EqualTo(":memory:"));
            Assert.That(options.BatchMaxSize, Is.EqualTo(3));
            Assert.That(File.Exists(dir.File("from-toml.db")), Is.False);
        }
    }

    [TestCase("Mkio:BatchMaxSize", "lots", "Mkio:BatchMaxSize: 'lots' is not an integer")]
    [TestCase("Mkio:batch_max_wait_ms", "soon", "Mkio:BatchMaxWaitMs: 'soon' is not a number")]
    [TestCase("Mkio:BackupOnStartup", "maybe", "Mkio:BackupOnStartup: 'maybe' is not true or false")]
    [TestCase("Mkio:MaxSendQueueBytes", "big", "Mkio:MaxSendQueueBytes: 'big' is not an integer")]
    [TestCase("Mkio:MaxConnections", "-1", "Mkio:MaxConnections: must be ≥ 0 (0 = unlimited), got -1.")]
    [TestCase("Mkio:MaxMessageBytes", "10", "Mkio:MaxMessageBytes: must be at least 1024 bytes.")]
    [TestCase("Mkio:WriterCacheSizeKib", "100", "Mkio:WriterCacheSizeKib: must be at least 256 (KiB), got 100.")]
    [TestCase("Mkio:MmapSizeMib", "-1", "Mkio:MmapSizeMib: must be ≥ 0 (MiB; 0 turns memory-mapped reads off), got -1.")]
    [CancelAfter(30_000)]
    public void Start_InvalidOverrideValue_RefusedNamingTheKey(string key, string value, string message, CancellationToken ct)
    {
        var ex = Assert.ThrowsAsync<OptionsValidationException>(() => MkioTestHost.StartAsync(
            Fixtures.FixtureA,
            ct,
            builder: b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [key] = value })))!;
        Assert.That(ex.Message, Is.EqualTo("Invalid mkio configuration: " + message));
    }

    [Test, CancelAfter(30_000)]
    public void Start_OverrideOutOfRange_RefusedByValidation(CancellationToken ct)
    {
        var ex = Assert.ThrowsAsync<OptionsValidationException>(() => MkioTestHost.StartAsync(
            Fixtures.FixtureA,
            ct,
            builder: b => b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Mkio:BatchMaxSize"] = "0" })))!;
        Assert.That(ex.Message, Is.EqualTo("Invalid mkio configuration: batch_max_size: must be at least 1, got 0 (TOML 'batch_max_size', host option 'Mkio:BatchMaxSize')."));
    }

    [Test]
    public void Durations_TimeSpanViews_ReadAndWriteTheNumericKeys()
    {
        var o = new MkioOptions
        {
            BatchMaxWait = TimeSpan.FromMilliseconds(7.5),
            WalCheckpointInterval = TimeSpan.FromMinutes(2),
            ShutdownDrainTimeout = TimeSpan.FromSeconds(12),
            WsHeartbeat = TimeSpan.Zero,
        };
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.BatchMaxWaitMs, Is.EqualTo(7.5));
            Assert.That(o.WalCheckpointIntervalS, Is.EqualTo(120));
            Assert.That(o.ShutdownTimeout, Is.EqualTo(12));
            Assert.That(o.WsHeartbeatS, Is.Zero);
            Assert.That(new MkioOptions().BatchMaxWait, Is.EqualTo(TimeSpan.FromMilliseconds(2)));
            Assert.That(new MkioOptions().WsHeartbeat, Is.EqualTo(TimeSpan.FromSeconds(30)));
        }
    }
}
