using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.RegularExpressions;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// <c>mkio serve</c> as a real process (CLI.md §3, PROTOCOL.md §1.1, SERVICES.md §14; CONFORMANCE
/// items 131, 139, 151): start-up lines, error exits without stack traces, SIGTERM shutdown.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public partial class ServeCommandTests
{
    private const string Config = """
        host = "127.0.0.1"
        db_path = "serve.db"
        batch_max_wait_ms = 1.0

        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER" }

        [services.add_order]
        type = "transaction"
        table = "orders"
        op_type = "insert"
        fields = ["id", "symbol", "qty"]
        """;

    [GeneratedRegex(@"^======== Running on http://127\.0\.0\.1:(\d+) ========$")]
    private static partial Regex RunningLine();

    private static string WriteConfig(TempDirectory dir, string text, string name = "cfg.toml")
    {
        File.WriteAllText(dir.File(name), text);
        return name;
    }

    private static void AssertNoStackTrace(MkioProcess p) =>
        Assert.That(p.Output, Does.Not.Contain("   at "), "no stack trace is printed");

    /// <summary>Starts <c>mkio serve cfg.toml --port 0</c> and returns the process and the port it printed.</summary>
    private static async Task<(MkioProcess Process, int Port)> ServeAsync(TempDirectory dir, CancellationToken ct, params string[] extra)
    {
        var p = MkioProcess.Start(dir.Path, ["serve", "cfg.toml", "--port", "0", .. extra]);
        try
        {
            var m = await p.WaitForStdoutAsync(RunningLine(), ct);
            return (p, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
        catch
        {
            await p.DisposeAsync();
            throw;
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Serve_MissingConfig_PrintsNotFoundAndExits1(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, "serve", "missing.toml");
        var code = await p.WaitForExitAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(p.Output, Does.Contain("Config file not found: missing.toml"));
            AssertNoStackTrace(p);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Serve_NoArgumentAndNoMkioToml_PrintsNotFoundForTheDefaultAndExits1(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, "serve");
        var code = await p.WaitForExitAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(p.Output, Does.Contain("Config file not found: mkio.toml"));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Serve_ConfigWithErrors_PrintsOneLinePerErrorWithoutStackTraceAndExits1(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        WriteConfig(dir, """
            db_path = "serve.db"

            [tables.orders]
            columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT" }

            [services.add_order]
            type = "transaction"
            table = "ordrs"
            op_type = "insert"
            fields = ["id"]

            [services.feed]
            type = "stream"
            primary_table = "audit"
            """);
        await using var p = MkioProcess.Start(dir.Path, "serve", "cfg.toml");
        var code = await p.WaitForExitAsync(ct);
        var lines = p.StderrLines.Where(l => l.Length > 0).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.EqualTo(1));
            AssertNoStackTrace(p);
            Assert.That(lines, Is.EqualTo(new[]
            {
                "Invalid mkio configuration in cfg.toml (2 errors):",
                "  cfg.toml(8,1): services.add_order.table: unknown table 'ordrs' (did you mean 'orders'?); declare it under [tables].",
                "  cfg.toml(14,1): services.feed.primary_table: unknown table 'audit'; declare it under [tables].",
            }), "one line per error, each with the file as given and its position");
            Assert.That(p.Stdout, Does.Not.Contain("Running on"));
            Assert.That(File.Exists(dir.File("serve.db")), Is.False, "an invalid config creates no database");
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task Serve_PortZero_PrintsBoundPortAndServesDiscoveryThere(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        WriteConfig(dir, Config);
        var (p, port) = await ServeAsync(dir, ct);
        await using (p)
        {
            await p.WaitForStdoutAsync(new Regex(@"^\(Press CTRL\+C to quit\)$"), ct);
            var lines = p.Stdout.Split('\n');
            Assert.That(port, Is.Not.Zero);
            Assert.That(lines.TakeLast(2), Is.EqualTo(new[] { $"======== Running on http://127.0.0.1:{port} ========", "(Press CTRL+C to quit)" }));

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var body = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/api/services"), ct);
            Assert.That(body, Is.EqualTo("""[{"name": "add_order", "type": "transaction", "tables": ["orders"]}]"""));

            await p.TerminateAsync(ct);
            Assert.That(await p.WaitForExitAsync(ct), Is.Zero, p.Output);
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task Serve_Admin_MapsTheAdminPage_WithoutItNotMapped(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        WriteConfig(dir, Config);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var (plain, plainPort) = await ServeAsync(dir, ct);
        await using (plain)
        {
            using var missing = await http.GetAsync(new Uri($"http://127.0.0.1:{plainPort}/mkio/admin/api/overview"), ct);
            Assert.That(missing.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.NotFound), "opt-in");
            await plain.TerminateAsync(ct);
            Assert.That(await plain.WaitForExitAsync(ct), Is.Zero, plain.Output);
        }

        var (p, port) = await ServeAsync(dir, ct, "--admin");
        await using (p)
        {
            Assert.That(p.Stdout, Does.Contain($"mkio: admin page http://127.0.0.1:{port}/mkio/admin/"));
            var overview = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/mkio/admin/api/overview"), ct);
            var page = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/mkio/admin/"), ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(overview, Does.Contain("\"name\":\"add_order\",\"type\":\"transaction\""));
                Assert.That(page, Does.Contain("<title>mkio admin</title>"));
            }

            await p.TerminateAsync(ct);
            Assert.That(await p.WaitForExitAsync(ct), Is.Zero, p.Output);
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task Serve_Sigterm_AnswersQueuedWriteClosesWith1001CheckpointsAndExits0(CancellationToken ct)
    {
        using var dir = new TempDirectory();

        // The writer commits as soon as nothing else is queued, so the writes may be answered before or during the
        // shutdown's drain (keeping them queued across the stop is covered in-process, behind a held writer).
        WriteConfig(dir, Config);
        var (p, port) = await ServeAsync(dir, ct);
        await using (p)
        {
            var ws = new Uri($"ws://127.0.0.1:{port}/ws");
            var monitor = await TestSocket.ConnectAsync(ws, ct);
            var client = await TestSocket.ConnectAsync(ws, ct);
            try
            {
                Assert.That((await monitor.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct)).GetRawText(), Is.EqualTo("""{"type":"monitor_ack","service":"add_order"}"""));
                const string Tx = """{"service":"add_order","ref":"queued","data":{"id":"q1","symbol":"A","qty":1}}""";
                const string Tx2 = """{"service":"add_order","ref":"next","data":{"id":"q2","symbol":"B","qty":2}}""";
                await client.SendAsync(Tx, cancellationToken: ct);
                await client.SendAsync(Tx2, cancellationToken: ct);

                // The monitor sees each request as it is dispatched. A connection dispatches one message
                // at a time and a transaction is in the writer's queue before the next one is dispatched:
                // once the second is seen, the first is queued (the second may still be on its way). The
                // writer commits as soon as nothing else is queued, so the first one's reply may be
                // monitored in between.
                Assert.That((await monitor.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$"""{"direction":"in","service":"add_order","message":{{Tx}}}"""));
                var next = (await monitor.ReceiveAsync(ct)).GetRawText();
                if (next.StartsWith("""{"direction":"out",""", StringComparison.Ordinal))
                {
                    Assert.That(next, Is.EqualTo("""{"direction":"out","service":"add_order","message":{"type":"result","service":"add_order","ref":"queued","ok":true}}"""));
                    next = (await monitor.ReceiveAsync(ct)).GetRawText();
                }

                Assert.That(next, Is.EqualTo($$"""{"direction":"in","service":"add_order","message":{{Tx2}}}"""));

                await p.TerminateAsync(ct);
                var reply = await client.ReceiveAsync(ct);
                var second = await client.ReceiveAsync(ct);
                await client.Closed.WaitAsync(ct);
                await monitor.Closed.WaitAsync(ct);
                using (Assert.EnterMultipleScope())
                {
                    Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"queued","ok":true}"""));

                    // Queued in time, or refused because the writer was already stopping (F19): answered either way.
                    Assert.That(second.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"next","ok":true}""")
                        .Or.EqualTo("""{"type":"error","message":"Writer is stopping, no new submissions accepted","ref":"next"}"""));
                    Assert.That(client.CloseStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
                    Assert.That(monitor.CloseStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
                }
            }
            finally
            {
                // The clients go away once closed.
                await client.DisposeAsync();
                await monitor.DisposeAsync();
            }

            var code = await p.WaitForExitAsync(ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(code, Is.Zero, p.Output);
                AssertNoStackTrace(p);
                Assert.That(File.Exists(dir.File("serve.db-wal")), Is.False, "WAL checkpointed (item 131)");
                Assert.That(File.Exists(dir.File("serve.db-shm")), Is.False);
            }
        }

        // The same database restarts with its data (now with a short batch window).
        WriteConfig(dir, Config);
        var (again, port2) = await ServeAsync(dir, ct);
        await using (again)
        {
            await using var ws = await TestSocket.ConnectAsync(new Uri($"ws://127.0.0.1:{port2}/ws"), ct);
            var dup = await ws.RequestAsync("""{"service":"add_order","ref":"dup","data":{"id":"q1","symbol":"A","qty":1}}""", ct);
            Assert.That(dup.GetRawText(), Is.EqualTo("""{"type":"error","message":"UNIQUE constraint failed: orders.id","ref":"dup"}"""));
            await ws.CloseAsync();
            await again.TerminateAsync(ct);
            Assert.That(await again.WaitForExitAsync(ct), Is.Zero, again.Output);
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task Serve_SigtermWithIdleClientThatNeverAnswersTheClose_StillExits0(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        WriteConfig(dir, Config);
        var (p, port) = await ServeAsync(dir, ct);
        await using (p)
        {
            // A client that reads the close frame but never completes the closing handshake (it stays connected).
            await using var ws = await TestSocket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), ct);
            Assert.That((await ws.RequestAsync("""{"service":"add_order","ref":"r","data":{"id":"1","symbol":"A","qty":1}}""", ct)).GetProperty("ok").GetBoolean(), Is.True);
            await p.TerminateAsync(ct);
            await ws.Closed.WaitAsync(ct);
            Assert.That(ws.CloseStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
            var code = await p.WaitForExitAsync(ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(code, Is.Zero, p.Output);
                Assert.That(File.Exists(dir.File("serve.db-wal")), Is.False);
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Serve_PortAlreadyInUse_PrintsOneLineErrorAndExits1(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        WriteConfig(dir, Config);
        using var occupied = new TcpListener(IPAddress.Loopback, 0);
        occupied.Start();
        var port = ((IPEndPoint)occupied.LocalEndpoint).Port;

        await using var p = MkioProcess.Start(dir.Path, "serve", "cfg.toml", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var code = await p.WaitForExitAsync(ct);
        var lines = p.StderrLines.Where(l => l.Length > 0).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.EqualTo(1));
            AssertNoStackTrace(p);
            Assert.That(lines, Has.Count.EqualTo(1), p.Stderr);
            Assert.That(lines.FirstOrDefault(), Does.Contain("address already in use").And.Contain($"127.0.0.1:{port}"));
            Assert.That(p.Stdout, Does.Not.Contain("Running on"));
            Assert.That(File.Exists(dir.File("serve.db")), Is.False, "the port is checked before the database is created or opened");
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Help_ListsServeAndExits0(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, "--help");
        var code = await p.WaitForExitAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.Zero);
            Assert.That(p.Stdout, Does.Match(@"(?m)^\s+serve\b"));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task ServeHelp_DescribesArgumentsAndOptionsAndExits0(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, "serve", "--help");
        var code = await p.WaitForExitAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.Zero);
            Assert.That(p.Stdout, Does.Contain("--host").And.Contain("--port").And.Contain("--admin").And.Contain("config"));
            Assert.That(File.Exists(dir.File("mkio.db")), Is.False, "help starts nothing");
        }
    }

    [Test]
    public void MkioDll_IsNextToTheTestAssembly() =>
        Assert.That(File.Exists(MkioProcess.MkioDll), Is.True);
}
