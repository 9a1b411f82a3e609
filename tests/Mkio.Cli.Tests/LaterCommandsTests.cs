using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary><c>mkio reqrep</c>, <c>schema</c>, <c>check</c> and <c>init</c> as real processes against an in-process server.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class LaterCommandsTests
{
    private const string Config = """
        name = "shop"
        version = "1.4.2"
        db_path = ":memory:"

        [tables.items]
        columns = { id = "TEXT PRIMARY KEY", name = "TEXT NOT NULL", qty = "INTEGER DEFAULT 0" }
        seed = "items.jsonl"

        [services.add_item]
        protocol = "transaction"
        table = "items"
        op_type = "insert"
        fields = ["id", "name", "qty"]

        [services.tax]
        protocol = "reqrep"
        reply = "amount * rate"

        [services.greet]
        protocol = "reqrep"
        reply = "'hello ' + who"

        [services.item]
        protocol = "reqrep"
        sql = "SELECT id, name FROM items WHERE id = :id"
        reply = { id = "id", label = "upper(name)" }

        [services.one]
        protocol = "reqrep"
        reply = { n = "n", ok = "n > 1" }
        """;

    private static async Task<(MkioTestHost Host, TempDirectory Dir)> StartAsync(CancellationToken ct)
    {
        var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("server.toml"), Config, ct);
        await File.WriteAllTextAsync(dir.File("items.jsonl"), "{\"id\":\"a\",\"name\":\"apple\",\"qty\":2}\n{\"id\":\"b\",\"name\":\"bread\"}\n", ct);
        return (await MkioTestHost.StartAsync(_ => { }, ct, dir, tomlPath: dir.File("server.toml")), dir);
    }

    private static async Task<(int Code, string Stdout)> RunAsync(string dir, CancellationToken ct, params string[] args)
    {
        await using var p = MkioProcess.Start(dir, args);
        var code = await p.WaitForExitAsync(ct);
        Assert.That(p.Output, Does.Not.Contain("   at "), "no stack trace");
        return (code, p.Stdout);
    }

    [TestCase(new[] { "tax", "amount=100", "rate=0.2" }, 0, "20.0")]
    [TestCase(new[] { "tax", """{"amount": 3, "rate": 2}""" }, 0, "6")]
    [TestCase(new[] { "greet", "who=ann" }, 0, "hello ann")]
    [TestCase(new[] { "item", "id=b" }, 0, """{"id": "b", "label": "BREAD"}""")]
    [TestCase(new[] { "item", "id=zz" }, 0, "")]
    [TestCase(new[] { "one", "n=2" }, 0, """{"n": 2, "ok": true}""")]
    [TestCase(new[] { "tax", "amount=1" }, 1, "Error: Unknown field: rate")]
    [TestCase(new[] { "add_item", "id=x" }, 1, "Error: Service 'add_item' uses protocol 'transaction', not 'reqrep'\nHint: try 'mkio send {url} add_item …'")]
    [TestCase(new[] { "nope" }, 1, "Error: Unknown service: 'nope'. Available services: add_item, greet, item, one, tax")]
    [TestCase(new[] { "tax", "{oops" }, 1, "Error: invalid JSON data: 'o' is an invalid start of a property name. Expected a '\"'.")]
    [TestCase(new[] { "tax", "amount" }, 1, "Error: expected key=value, got 'amount'")]
    [CancelAfter(60_000)]
    public async Task ReqRep_PrintsReplyOrError(string[] args, int code, string expected, CancellationToken ct)
    {
        var (host, dir) = await StartAsync(ct);
        await using (host)
        using (dir)
        {
            var url = host.BaseUri.ToString().TrimEnd('/');
            var (exit, stdout) = await RunAsync(dir.Path, ct, ["reqrep", url, .. args]);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(exit, Is.EqualTo(code), stdout);
                Assert.That(stdout.TrimEnd('\n'), Is.EqualTo(expected.Replace("{url}", url, StringComparison.Ordinal)));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task ReqRep_RowsPrintOneJsonLineEach(CancellationToken ct)
    {
        var dir = new TempDirectory();
        using (dir)
        {
            await File.WriteAllTextAsync(dir.File("server.toml"), Config + "\n[services.all]\nprotocol = \"reqrep\"\nsql = \"SELECT id, qty FROM items ORDER BY id\"\n", ct);
            await File.WriteAllTextAsync(dir.File("items.jsonl"), "{\"id\":\"a\",\"name\":\"apple\",\"qty\":2}\n{\"id\":\"b\",\"name\":\"bread\"}\n", ct);
            await using var host = await MkioTestHost.StartAsync(_ => { }, ct, dir, tomlPath: dir.File("server.toml"));
            var (exit, stdout) = await RunAsync(dir.Path, ct, "reqrep", host.BaseUri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "all");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(exit, Is.Zero, stdout);
                Assert.That(stdout, Is.EqualTo("{\"id\": \"a\", \"qty\": 2}\n{\"id\": \"b\", \"qty\": 0}"));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Schema_PrintsColumnsKeyNotNullAndDefaults(CancellationToken ct)
    {
        var (host, dir) = await StartAsync(ct);
        await using (host)
        using (dir)
        {
            var url = host.BaseUri.ToString();
            var ok = await RunAsync(dir.Path, ct, "schema", url, "items");
            var unknown = await RunAsync(dir.Path, ct, "schema", url, "orders");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(ok.Code, Is.Zero, ok.Stdout);
                Assert.That(ok.Stdout, Is.EqualTo(
                    "Table: items\n"
                    + "  id         TEXT     PRIMARY KEY\n"
                    + "  name       TEXT     NOT NULL\n"
                    + "  qty        INTEGER  DEFAULT 0\n"
                    + "  _mkio_ref  TEXT     DEFAULT ''"));
                Assert.That(unknown.Code, Is.EqualTo(1));
                Assert.That(unknown.Stdout, Is.EqualTo("Error: Unknown table: 'orders' (available: items)"));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Check_IdentityAndCompatibility(CancellationToken ct)
    {
        var (host, dir) = await StartAsync(ct);
        await using (host)
        using (dir)
        {
            var url = host.BaseUri.ToString();
            var plain = await RunAsync(dir.Path, ct, "check", url);
            var good = await RunAsync(dir.Path, ct, "check", url, "version=1.2", "protocol=1.0");
            var bad = await RunAsync(dir.Path, ct, "check", url, "version=2.0");
            var plainLines = plain.Stdout.Split('\n');
            using (Assert.EnterMultipleScope())
            {
                Assert.That(plain.Code, Is.Zero, plain.Stdout);
                Assert.That(plainLines[..2], Is.EqualTo(new[] { "  name:        shop", "  version:     1.4.2" }));
                Assert.That(plainLines[2], Does.Match(@"^  mkio:        \d+\.\d+\.\d+"));
                Assert.That(plainLines[3], Is.EqualTo("  protocol:    1.0"));
                Assert.That(good.Code, Is.Zero, good.Stdout);
                Assert.That(good.Stdout, Does.EndWith("  compatible:  yes\n    version: 1.4.2 (ok)\n    protocol: 1.0 (ok)"));
                Assert.That(bad.Code, Is.EqualTo(1), bad.Stdout);
                Assert.That(bad.Stdout, Does.EndWith("  compatible:  NO\n    version: 1.4.2 (MISMATCH)"));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Check_NoServer_OneLineError(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var (code, stdout) = await RunAsync(dir.Path, ct, "check", "1");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(stdout, Is.EqualTo("Error: could not connect to ws://localhost:1/ws. Is the mkio server running?"));
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task Init_WritesAStarterThatServesAndNeverOverwrites(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var first = await RunAsync(dir.Path, ct, "init", "app");
        await File.WriteAllTextAsync(dir.File("app/static/index.html"), "mine", ct);
        var second = await RunAsync(dir.Path, ct, "init", "app");
        var noStatic = await RunAsync(dir.Path, ct, "init", "bare", "--no-static");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.Code, Is.Zero, first.Stdout);
            Assert.That(first.Stdout, Is.EqualTo("Created app/server.toml\nCreated app/static/index.html\nStart it with: mkio serve app/server.toml"));
            Assert.That(second.Stdout, Does.StartWith("Skipped app/server.toml (already exists)\nSkipped app/static/index.html (already exists)\n"));
            Assert.That(await File.ReadAllTextAsync(dir.File("app/static/index.html"), ct), Is.EqualTo("mine"));
            Assert.That(noStatic.Stdout, Does.StartWith("Created bare/server.toml\nStart it with"));
            Assert.That(File.Exists(dir.File("bare/static/index.html")), Is.False);
        }

        // The starter config runs as written, and `mkio serve` without an argument finds server.toml.
        var toml = (await File.ReadAllTextAsync(dir.File("app/server.toml"), ct)).Replace("port = 8080", "port = 0", StringComparison.Ordinal);
        await File.WriteAllTextAsync(dir.File("app/server.toml"), toml, ct);
        await using var serve = MkioProcess.StartInterruptible(dir.File("app"), "serve");
        var running = await serve.WaitForStdoutAsync(new System.Text.RegularExpressions.Regex(@"Running on http://[^:]+:(\d+)"), ct);
        var port = running.Groups[1].Value;
        var (code, stdout) = await RunAsync(dir.Path, ct, "reqrep", port, "open_count");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.Zero, stdout);
            Assert.That(stdout, Is.EqualTo("0"));
        }
    }
}
