using System.Text;
using System.Text.RegularExpressions;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary><c>mkio subpub</c>, <c>stream</c> and <c>query</c> as real processes against an in-process server.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed partial class LaterSubscribeCommandsTests
{
    private const string Config = """
        db_path = ":memory:"

        [tables.items]
        columns = { id = "TEXT PRIMARY KEY", name = "TEXT", qty = "INTEGER" }
        seed = "items.jsonl"
        """ + "\n\n" + Fixtures.LaterListenersToml;

    [GeneratedRegex(@"^\[\d{2}:\d{2}:\d{2}\.\d{3}\] SNAPSHOT \((\d+) rows\)")]
    private static partial Regex SnapshotHeader();

    /// <summary>A row's <c>_mkio_ref</c> (seeded rows get the ref of their load).</summary>
    [GeneratedRegex("\"_mkio_ref\": \"[^\"]*\"")]
    private static partial Regex SeedRef();

    [GeneratedRegex(@"^\[\d{2}:\d{2}:\d{2}\.\d{3}\] SUBSCRIBED \(new rows only\)")]
    private static partial Regex Subscribed();

    [GeneratedRegex(@"^\[\d{2}:\d{2}:\d{2}\.\d{3}\] UPDATE (\w+)")]
    private static partial Regex UpdateHeader();

    private static async Task<(MkioTestHost Host, TempDirectory Dir, TestSocket Writer)> StartAsync(CancellationToken ct, int rows = 2)
    {
        var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("server.toml"), Config, ct);
        var seed = new StringBuilder();
        for (var i = 1; i <= rows; i++)
        {
            seed.Append(System.Globalization.CultureInfo.InvariantCulture, $"{{\"id\":\"i{i:D4}\",\"name\":\"n{i}\",\"qty\":{i}}}\n");
        }

        await File.WriteAllTextAsync(dir.File("items.jsonl"), seed.ToString(), ct);
        var host = await MkioTestHost.StartAsync(_ => { }, ct, dir, tomlPath: dir.File("server.toml"));
        return (host, dir, await host.ConnectAsync("ws", ct));
    }

    private static async Task<(int Code, string Stdout)> RunAsync(string dir, CancellationToken ct, params string[] args)
    {
        await using var p = MkioProcess.Start(dir, args);
        var code = await p.WaitForExitAsync(ct);
        Assert.That(p.Output, Does.Not.Contain("   at "), "no stack trace");
        return (code, p.Stdout);
    }

    private static string Url(MkioTestHost host) => host.BaseUri.ToString().TrimEnd('/');

    private static string[] Bodies(string stdout) => [.. stdout.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal)).Select(l => SeedRef().Replace(l.Trim(), "\"_mkio_ref\": \"R\""))];

    [Test, CancelAfter(90_000)]
    public async Task Query_PagesTheSnapshotWithGetmoreThenPrintsUpdates(CancellationToken ct)
    {
        const int rows = LaterSubscribeCommand.QueryPageSize + 20;
        var (host, dir, writer) = await StartAsync(ct, rows);
        await using (host)
        await using (writer)
        using (dir)
        {
            await using var p = MkioProcess.StartInterruptible(dir.Path, "query", Url(host), "items", "--subid", "q", "--fields", "id");
            await p.WaitForStdoutAsync(new Regex(@"SNAPSHOT \(20 rows\)"), ct);
            _ = await writer.RequestAsync("""{"service":"put","data":{"id":"zz","name":"new","qty":7}}""", ct);
            await p.WaitForStdoutAsync(UpdateHeader(), ct);
            await p.TerminateAsync(ct);
            var exit = await p.WaitForExitAsync(ct);
            var headers = p.Stdout.Split('\n').Select(l => SnapshotHeader().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            var bodies = Bodies(p.Stdout);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(headers, Is.EqualTo(new[] { LaterSubscribeCommand.QueryPageSize, 20 }), p.Stdout);
                Assert.That(bodies[0], Is.EqualTo("""{"id": "i0001", "_mkio_ref": "R", "_mkio_row": "i0001"}"""));
                Assert.That(bodies, Has.Length.EqualTo(rows + 1));
                Assert.That(bodies[^1], Does.StartWith("""{"id": "zz", "_mkio_ref": """));
                Assert.That(p.Stdout, Does.Contain("UPDATE upsert"));
                Assert.That(exit, Is.Zero, "stopped by a signal: exit 0");
                Assert.That(p.Stdout, Does.EndWith("Subscription stopped."));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Query_SnapshotOnlyExits0_FilterApplies_NackExits1(CancellationToken ct)
    {
        var (host, dir, writer) = await StartAsync(ct);
        await using (host)
        await using (writer)
        using (dir)
        {
            var url = Url(host);
            var once = await RunAsync(dir.Path, ct, "query", url, "items", "--snapshotOnly", "--filter", "qty > 1", "--fields", "name");
            var wrong = await RunAsync(dir.Path, ct, "query", url, "feed", "--subid", "x");
            var unknown = await RunAsync(dir.Path, ct, "query", url, "nope");
            var both = await RunAsync(dir.Path, ct, "query", url, "items", "--snapshotOnly", "--updateOnly");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(once.Code, Is.Zero, once.Stdout);
                Assert.That(Bodies(once.Stdout), Is.EqualTo(new[] { """{"name": "n2", "_mkio_ref": "R", "_mkio_row": "i0002"}""" }), once.Stdout);
                Assert.That(wrong.Code, Is.EqualTo(1));
                Assert.That(wrong.Stdout, Does.EndWith("Error: Protocol mismatch: service 'feed' is 'stream', not 'query'"));
                Assert.That(unknown.Code, Is.EqualTo(1));
                Assert.That(unknown.Stdout, Does.EndWith("Error: Unknown service: 'nope'. Available services: cache, feed, items, log, put"));
                Assert.That(both.Code, Is.EqualTo(1));
                Assert.That(both.Stdout, Does.StartWith("Error: --snapshotOnly and --updateOnly cannot be combined\nUsage: mkio query"));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Stream_WithoutRefPrintsOnlyNewRows_WithRefResumes(CancellationToken ct)
    {
        var (host, dir, writer) = await StartAsync(ct);
        await using (host)
        await using (writer)
        using (dir)
        {
            var first = await writer.RequestAsync("""{"service":"log","data":{"text":"old"}}""", ct);
            var firstRef = first.GetProperty("ref").GetString()!;
            _ = await writer.RequestAsync("""{"service":"log","data":{"text":"older"}}""", ct);
            await using var live = MkioProcess.StartInterruptible(dir.Path, "stream", Url(host), "feed", "--fields", "text");
            await live.WaitForStdoutAsync(Subscribed(), ct);
            _ = await writer.RequestAsync("""{"service":"log","data":{"text":"new"}}""", ct);
            await live.WaitForStdoutAsync(UpdateHeader(), ct);
            await live.TerminateAsync(ct);
            await live.WaitForExitAsync(ct);

            await using var resumed = MkioProcess.StartInterruptible(dir.Path, "stream", Url(host), "feed", "--ref", firstRef, "--fields", "text");
            await resumed.WaitForStdoutAsync(SnapshotHeader(), ct);
            await resumed.TerminateAsync(ct);
            await resumed.WaitForExitAsync(ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(Bodies(live.Stdout), Is.EqualTo(new[] { """{"text": "new"}""" }), live.Stdout);
                Assert.That(live.Stdout, Does.Contain("UPDATE insert ref="));
                Assert.That(Bodies(resumed.Stdout), Is.EqualTo(new[] { """{"text": "older"}""", """{"text": "new"}""" }), resumed.Stdout);
            }
        }
    }

    [GeneratedRegex(@"SNAPSHOT \((\d+) rows\)")]
    private static partial Regex AnySnapshotHeader();

    [GeneratedRegex(@"SNAPSHOT \(0 rows\)")]
    private static partial Regex EmptySnapshotHeader();

    /// <summary>Writes events e1..e<paramref name="n"/> through <c>log</c>; their refs.</summary>
    private static async Task<string[]> LogAsync(TestSocket writer, int n, CancellationToken ct)
    {
        var refs = new string[n];
        for (var i = 1; i <= n; i++)
        {
            refs[i - 1] = (await writer.RequestAsync($$$"""{"service":"log","data":{"text":"e{{{i}}}"}}""", ct)).GetProperty("ref").GetString()!;
        }

        return refs;
    }

    private static int[] PageSizes(string stdout) => [.. AnySnapshotHeader().Matches(stdout).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];

    [Test, CancelAfter(90_000)]
    public async Task Stream_MaxCount_PagesForwardThenGoesLive(CancellationToken ct)
    {
        var (host, dir, writer) = await StartAsync(ct);
        await using (host)
        await using (writer)
        using (dir)
        {
            await LogAsync(writer, 5, ct);
            await using var p = MkioProcess.StartInterruptible(dir.Path, "stream", Url(host), "feed", "--maxcount", "2", "--fields", "text");
            await p.WaitForStdoutAsync(EmptySnapshotHeader(), ct);
            _ = await writer.RequestAsync("""{"service":"log","data":{"text":"e6"}}""", ct);
            await p.WaitForStdoutAsync(UpdateHeader(), ct);
            await p.TerminateAsync(ct);
            await p.WaitForExitAsync(ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(PageSizes(p.Stdout), Is.EqualTo(new[] { 2, 2, 1, 0 }), "three pages, then the live subscribe after the last row");
                Assert.That(Bodies(p.Stdout), Is.EqualTo(Enumerable.Range(1, 6).Select(i => $$"""{"text": "e{{i}}"}""")), p.Stdout);
            }
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task Stream_BeforeWithMaxCount_PagesBackwardsFromTheRef_ThenStops(CancellationToken ct)
    {
        var (host, dir, writer) = await StartAsync(ct);
        await using (host)
        await using (writer)
        using (dir)
        {
            var refs = await LogAsync(writer, 5, ct);
            var (code, stdout) = await RunAsync(dir.Path, ct, "stream", Url(host), "feed", "--ref", refs[4], "--before", "--maxcount", "2", "--fields", "text");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(code, Is.Zero, stdout);
                Assert.That(PageSizes(stdout), Is.EqualTo(new[] { 2, 2 }));
                Assert.That(Bodies(stdout), Is.EqualTo(new[] { "e3", "e4", "e1", "e2" }.Select(t => $$"""{"text": "{{t}}"}""")), "the page nearest the ref first, oldest first within a page");
            }
        }
    }

    [TestCase("stream", "feed", "--maxcount", "0", "Error: --maxcount must be a positive integer, got '0'\nUsage: mkio stream")]
    [TestCase("subpub", "cache", "--filter", "x", "Error: unknown option: --filter\nUsage: mkio subpub")]
    [CancelAfter(60_000)]
    public async Task Invalid_ClearErrorExit1(string command, string service, string a, string b, string expected, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        string[] extra = b.Length == 0 ? [a] : [a, b];
        var (code, stdout) = await RunAsync(dir.Path, ct, [command, "1", service, .. extra]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(stdout, Does.StartWith(expected));
        }
    }

    /// <summary>Runs <c>mkio subpub</c> with <paramref name="args"/> until its first update after <paramref name="writes"/>; its stdout and row bodies.</summary>
    private static async Task<(string Stdout, string[] Bodies)> SubPubAsync(CancellationToken ct, string[] args, params string[] writes)
    {
        var (host, dir, writer) = await StartAsync(ct);
        await using (host)
        await using (writer)
        using (dir)
        {
            await using var p = MkioProcess.StartInterruptible(dir.Path, ["subpub", Url(host), "cache", .. args]);
            await p.WaitForStdoutAsync(SnapshotHeader(), ct);
            foreach (var write in writes)
            {
                _ = await writer.RequestAsync(write, ct);
            }

            await p.WaitForStdoutAsync(UpdateHeader(), ct);
            await p.TerminateAsync(ct);
            await p.WaitForExitAsync(ct);
            return (p.Stdout, Bodies(p.Stdout));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task SubPub_WholeServiceWithSubidAndFields(CancellationToken ct)
    {
        var (stdout, bodies) = await SubPubAsync(ct, ["--subid", "s", "--fields", "qty"], """{"service":"put","data":{"id":"i0001","name":"n1","qty":9}}""");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(stdout, Does.Contain("SNAPSHOT (2 rows)"), stdout);
            Assert.That(bodies[..2].Select(b => b[..9]), Is.EqualTo(new[] { "{\"qty\": 1", "{\"qty\": 2" }), stdout);
            Assert.That(bodies[^1], Does.StartWith("{\"qty\": 9"), stdout);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task SubPub_Topics_OneRowPerTopicThenTheirUpdates(CancellationToken ct)
    {
        var (stdout, bodies) = await SubPubAsync(
            ct,
            ["i0002", "nope", "--fields", "qty"],
            """{"service":"put","data":{"id":"i0001","name":"n1","qty":9}}""",
            """{"service":"put","data":{"id":"i0002","name":"n2","qty":8}}""");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(stdout, Does.Contain("SNAPSHOT (2 rows)"), stdout);
            Assert.That(bodies[0], Does.StartWith("{\"qty\": 2").And.Contain("\"_mkio_topic\": \"i0002\"").And.Contain("\"_mkio_exists\": true"), stdout);
            Assert.That(bodies[1], Does.Contain("\"_mkio_topic\": \"nope\"").And.Contain("\"_mkio_exists\": false"), stdout);
            Assert.That(bodies[^1], Does.StartWith("{\"qty\": 8"), "only the followed topic's update: " + stdout);
        }
    }
}
