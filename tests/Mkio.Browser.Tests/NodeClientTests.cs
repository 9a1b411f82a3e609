using Mkio.Browser.Tests.Support;
using Mkio.TestUtilities;

namespace Mkio.Browser.Tests;

/// <summary>
/// Runs the Node tests of mkio.js (tests/js) from NUnit: the offline suite, the suite against a real
/// server running fixture A (CONFORMANCE item 144), and the harness-driven reconnect script across a
/// server restart on the same port and database file.
/// </summary>
public class NodeClientTests
{
    private static readonly TimeSpan SuiteTimeout = TimeSpan.FromMinutes(3);

    private static string JsTest(string name) => Path.Combine("tests", "js", name);

    /// <summary>
    /// The server configuration written in client.test.mjs's header comment (the commented TOML
    /// after "must be running this configuration"), so that the test and its server cannot drift apart.
    /// </summary>
    private static string HeaderConfig()
    {
        var lines = File.ReadAllLines(Path.Combine(Fixtures.RepoRoot, JsTest("client.test.mjs")));
        var start = Array.FindIndex(lines, l => l.Contains("must be running this configuration", StringComparison.Ordinal));
        Assert.That(start, Is.GreaterThanOrEqualTo(0), "client.test.mjs: the header comment with the server configuration was not found");
        var i = start + 1;
        while (i < lines.Length && lines[i].Trim() == "//")
        {
            i++;
        }

        var toml = new List<string>();
        for (; i < lines.Length && lines[i].StartsWith("//   ", StringComparison.Ordinal); i++)
        {
            toml.Add(lines[i]["//   ".Length..]);
        }

        var text = string.Join('\n', toml) + "\n";
        Assert.That(text, Does.Contain("[services.all_orders]").And.Contain("[services.add_order]"), "client.test.mjs: unexpected header config:\n" + text);
        return text;
    }

    private static async Task<string> WriteHeaderConfigAsync(TempDirectory dir, CancellationToken ct)
    {
        var path = dir.File("fixture-a.mkio.toml");
        await File.WriteAllTextAsync(path, HeaderConfig(), ct);
        return path;
    }

    private static void AssertPassed(int exitCode, NodeProcess node, bool noSkips)
    {
        var counts = NodeProcess.TestCounts(node.Stdout);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(exitCode, Is.Zero, "node exit code\n" + node.Output);
            Assert.That(counts.GetValueOrDefault("fail", -1), Is.Zero, "'# fail' count\n" + node.Output);
            Assert.That(counts.GetValueOrDefault("pass"), Is.Positive, "'# pass' count\n" + node.Output);
            if (noSkips)
            {
                Assert.That(counts.GetValueOrDefault("skipped"), Is.Zero, "'# skipped' count (the server-backed tests must all run)\n" + node.Output);
            }
        }

        TestContext.Out.WriteLine(node.Stdout);
    }

    [Test, CancelAfter(240_000)]
    public async Task OfflineTests_NodeTestRunner_AllPass(CancellationToken ct)
    {
        await using var node = NodeProcess.Start(["--test", "--test-reporter=tap", JsTest("offline.test.mjs")]);
        var exit = await node.WaitForExitAsync(SuiteTimeout, ct);
        AssertPassed(exit, node, noSkips: false);
    }

    /// <param name="js">Which mkio.js: the repository file, or the one the server serves at /mkio.js.</param>
    /// <param name="webSocket">Node's global WebSocket ("native", as in a browser) or the bundled minimal one ("mini").</param>
    [TestCase("file", "native")]
    [TestCase("served", "mini")]
    [CancelAfter(240_000)]
    public async Task ClientTests_AgainstServerWithHeaderConfig_AllPass(string js, string webSocket, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var toml = await WriteHeaderConfigAsync(dir, ct);
        await using var host = await MkioTestHost.StartAsync(_ => { }, ct, directory: dir, tomlPath: toml);
        var env = new Dictionary<string, string>
        {
            ["MKIO_URL"] = new Uri(host.WsBase, "ws").ToString(),
            ["MKIO_WS"] = webSocket,
        };
        if (js == "served")
        {
            env["MKIO_JS"] = "served";
        }

        await using var node = NodeProcess.Start(["--test", "--test-reporter=tap", JsTest("client.test.mjs")], env);
        var exit = await node.WaitForExitAsync(SuiteTimeout, ct);
        AssertPassed(exit, node, noSkips: true);
    }

    /// <summary>
    /// The later-generation JavaScript client (mkio.js in its later mode, tests/js/later_client.mjs) against a config
    /// written the later way: identify, send with txnid, paged subscribe, filter-out delete, reqrep, nack, then a
    /// server restart on the same port and file, after which the stream subscription resumes after its ref.
    /// </summary>
    [TestCase("file")]
    [TestCase("served")]
    [CancelAfter(180_000)]
    public async Task LaterClientScript_LaterConfig_EveryStepAndResumeAfterRestart(string js, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var toml = Path.Combine(Fixtures.RepoRoot, "tests", "later", "later.mkio.toml");
        var port = FixedPortHost.FreePort();
        var host = await FixedPortHost.StartAsync(port, dir, _ => { }, toml, ct);
        try
        {
            var env = new Dictionary<string, string> { ["MKIO_URL"] = host.WsUrl.ToString() };
            if (js == "served")
            {
                env["MKIO_JS"] = "served";
            }

            await using var node = NodeProcess.Start([JsTest("later_client.mjs")], env);
            await node.WaitForLineAsync("READY", TimeSpan.FromSeconds(60), ct);
            await host.DisposeAsync();
            host = await FixedPortHost.StartAsync(port, dir, _ => { }, toml, ct);

            await node.WaitForLineAsync("RESUMED", TimeSpan.FromSeconds(60), ct);
            var exit = await node.WaitForExitAsync(TimeSpan.FromSeconds(30), ct);
            var steps = node.Stdout.Split('\n').Where(l => l.StartsWith("OK ", StringComparison.Ordinal)).Select(l => l[3..].Trim());
            using (Assert.EnterMultipleScope())
            {
                Assert.That(exit, Is.Zero, node.Output);
                Assert.That(steps, Is.EqualTo(new[]
                {
                    "identify", "identify-incompatible", "send-txnid", "subscribe-paging", "subscribe-shape", "filter-out-delete",
                    "request", "request-error", "request-unknown", "nack", "stream-cursor", "resubscribe", "no-duplicate",
                }), node.Output);
            }

            TestContext.Out.WriteLine(node.Output);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [Test, CancelAfter(180_000)]
    public async Task ReconnectScript_ServerRestartOnSamePortAndFile_Resumes(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var toml = await WriteHeaderConfigAsync(dir, ct);
        void OnFile(MkioOptions o) => o.DbPath = "fixture-a.db";
        var port = FixedPortHost.FreePort();
        var host = await FixedPortHost.StartAsync(port, dir, OnFile, toml, ct);
        try
        {
            await using var node = NodeProcess.Start([JsTest("reconnect.mjs")], new Dictionary<string, string> { ["MKIO_URL"] = host.WsUrl.ToString() });
            await node.WaitForLineAsync("READY", TimeSpan.FromSeconds(60), ct);

            await host.DisposeAsync();
            host = await FixedPortHost.StartAsync(port, dir, OnFile, toml, ct);

            await node.WaitForLineAsync("RESUMED", TimeSpan.FromSeconds(60), ct);
            var exit = await node.WaitForExitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.That(exit, Is.Zero, node.Output);
            TestContext.Out.WriteLine(node.Output);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [Test, CancelAfter(180_000)]
    public async Task LoginScript_RefusedOrAcceptedLogin_ReauthenticatesBeforeResubscribing(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        void Secured(MkioOptions o)
        {
            Fixtures.FixtureA(o);
            o.DbPath = "login.db";
            o.AuthTables(dir, [("alice", "alice-pw", "trader")], [("trader", "view")]);
            foreach (var s in o.Services)
            {
                s.Access = s.Name == "all_orders" ? "view" : "auth";
            }
        }

        var port = FixedPortHost.FreePort();
        var host = await FixedPortHost.StartAsync(port, dir, Secured, cancellationToken: ct);
        try
        {
            await using var node = NodeProcess.Start([JsTest("login.mjs")], new Dictionary<string, string> { ["MKIO_URL"] = host.WsUrl.ToString() });
            await node.WaitForLineAsync("READY", TimeSpan.FromSeconds(60), ct);

            await host.DisposeAsync();
            host = await FixedPortHost.StartAsync(port, dir, Secured, cancellationToken: ct);

            await node.WaitForLineAsync("RESUMED", TimeSpan.FromSeconds(60), ct);
            var exit = await node.WaitForExitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.That(exit, Is.Zero, node.Output);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }
}
