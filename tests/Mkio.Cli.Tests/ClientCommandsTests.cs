using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// <c>mkio services/send/subscribe/monitor</c> as real processes against in-process servers (CLI.md §4–§8;
/// CONFORMANCE items 132–141, with the [FIX] exit status: <c>send</c> exits 1 when a message failed).
/// </summary>
[Parallelizable(ParallelScope.Children)]
public partial class ClientCommandsTests
{
    [GeneratedRegex(@"^\[(\d+)/(\d+)\] ok ref=\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$")]
    private static partial Regex OkLine();

    [GeneratedRegex(@"^\[\d{2}:\d{2}:\d{2}\.\d{3}\] SNAPSHOT \((\d+) rows\)")]
    private static partial Regex SnapshotHeader();

    [GeneratedRegex(@"^\[\d{2}:\d{2}:\d{2}\.\d{3}\] UPDATE insert ref=\d{8} ")]
    private static partial Regex UpdateInsertHeader();

    [GeneratedRegex(@"^---$")]
    private static partial Regex MonitorStarted();

    [GeneratedRegex(@"^\[\d{2}:\d{2}:\d{2}\.\d{3}\] << OUT result$")]
    private static partial Regex OutResult();

    private static string Base(MkioTestHost host) => host.BaseUri.ToString().TrimEnd('/');

    /// <summary>Runs <c>mkio args…</c> to completion (bounded by <paramref name="ct"/>).</summary>
    private static async Task<(int Code, string Stdout, string Output)> RunAsync(string dir, CancellationToken ct, params string[] args)
    {
        await using var p = MkioProcess.Start(dir, args);
        var code = await p.WaitForExitAsync(ct);
        Assert.That(p.Output, Does.Not.Contain("   at "), "no stack trace");
        return (code, p.Stdout, p.Output);
    }

    private static string[] Lines(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The snapshot a fresh subscriber gets (raw JSON).</summary>
    private static async Task<JsonElement> SnapshotAsync(MkioTestHost host, string service, CancellationToken ct)
    {
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync($$"""{"service":"{{service}}","type":"subscribe"}""", ct);
        Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("snapshot"), reply.GetRawText());
        return reply.GetProperty("rows").Clone();
    }

    private static async Task<MkioTestHost> StartOrderBookAsync(CancellationToken ct)
    {
        var dir = new TempDirectory();
        try
        {
            Directory.CreateDirectory(dir.File("static"));
            await File.WriteAllTextAsync(Path.Combine(dir.File("static"), "index.html"), "<!doctype html>", ct);
            return await MkioTestHost.StartAsync(_ => { }, ct, directory: dir, tomlPath: Fixtures.OrderBookToml);
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    private static async Task StopAsync(MkioTestHost host, TempDirectory? extra = null)
    {
        var dir = host.Directory;
        await host.DisposeAsync();
        dir.Dispose();
        extra?.Dispose();
    }

    // ------------------------------------------------------------------ send

    [Test, CancelAfter(60_000)]
    public async Task Send_InlineJsonWithOp_PrintsOkAndCreatesOrder_132(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        var (code, stdout, output) = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "--op", "place", """{"side":"Buy","symbol":"A","qty":100,"price":150.0}""");
        Assert.That(code, Is.Zero, output);
        Assert.That(Lines(stdout), Has.Length.EqualTo(1));
        Assert.That(Lines(stdout)[0], Does.Match(OkLine()));
        var rows = await SnapshotAsync(host, "all_orders", ct);
        Assert.That(rows.GetArrayLength(), Is.EqualTo(1));
        Assert.That(rows[0].GetProperty("symbol").GetString(), Is.EqualTo("A"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_JsonArrayFileAndCsvFile_ConvertsTypes_133(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("orders.json"), """[{"side":"Buy","symbol":"J1","qty":1,"price":1.5},{"side":"Sell","symbol":"J2","qty":2,"price":2.5}]""", ct);
        await File.WriteAllTextAsync(dir.File("orders.csv"), "side,symbol,qty,price\nBuy,C1,100,150.0\n", ct);

        var json = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "orders.json", "--op", "place");
        Assert.That(json.Code, Is.Zero, json.Output);
        Assert.That(Lines(json.Stdout), Has.Length.EqualTo(2));
        Assert.That(Lines(json.Stdout), Has.All.Match(OkLine()));
        Assert.That(Lines(json.Stdout)[1], Does.StartWith("[2/2] ok ref="));

        var csv = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "--op", "place", "orders.csv");
        Assert.That(csv.Code, Is.Zero, csv.Output);
        Assert.That(Lines(csv.Stdout)[0], Does.Match(OkLine()));

        var rows = await SnapshotAsync(host, "all_orders", ct);
        Assert.That(rows.GetArrayLength(), Is.EqualTo(3));
        var c1 = rows.EnumerateArray().Single(r => r.GetProperty("symbol").GetString() == "C1");
        Assert.That(c1.GetProperty("qty").GetRawText(), Is.EqualTo("100"), "int conversion");
        Assert.That(c1.GetProperty("price").GetRawText(), Is.EqualTo("150.0"), "float conversion");
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_FailedRow_PrintsErrorInOrderAndExits1_134(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        var (code, stdout, output) = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "--op", "place",
            """[{"side":"Buy","symbol":"A","qty":1,"price":1.0},{"symbol":"no side"},{"side":"Sell","symbol":"B","qty":2,"price":2.0}, 7]""");
        Assert.That(code, Is.EqualTo(1), "[FIX] send exits 1 when any message failed");
        var lines = Lines(stdout);
        Assert.That(lines, Has.Length.EqualTo(4), output);
        Assert.That(lines[0], Does.StartWith("[1/4] ok ref="));
        Assert.That(lines[1], Is.EqualTo("[2/4] error: Missing field: 'side'"));
        Assert.That(lines[2], Does.StartWith("[3/4] ok ref="));
        Assert.That(lines[3], Is.EqualTo("[4/4] error: item 4 is not a JSON object"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_JsonFileWithNaNAndInfinity_SentAsBareTokens_ServerStoresThemAsPython(CancellationToken ct)
    {
        // Python's json.load reads NaN/-Infinity as floats and the Python client's json.dumps writes them back as bare tokens; mkio send
        // does the same, and the server accepts them inside data as the reference does (PROTOCOL.md §2): SQLite binds NaN as NULL and
        // keeps -Infinity as a REAL, which the snapshot writes back as the bare token. The string "NaN" is an ordinary string.
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("nonfinite.json"), """
            [{"side":"Buy","symbol":"N1","qty":1,"price":NaN},
             {"side":"Buy","symbol":"I1","qty":2,"price":-Infinity},
             {"side":"Buy","symbol":"NaN","qty":3,"price":1.5}]
            """, ct);

        var (code, stdout, output) = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "--op", "place", "nonfinite.json");
        Assert.That(code, Is.Zero, output);
        var lines = Lines(stdout);
        Assert.That(lines, Has.Length.EqualTo(3), output);
        Assert.That(lines, Has.All.Match(OkLine()), output);

        // The snapshot holds a bare -Infinity (not strict JSON): read it as text.
        await using var ws = await host.ConnectAsync("ws", ct);
        await ws.SendAsync("""{"service":"all_orders","type":"subscribe"}""", cancellationToken: ct);
        var snapshot = (await ws.ReceiveRawAsync(ct)).Text;
        Assert.That(snapshot, Does.Contain("""{"id":1,"side":"Buy","symbol":"N1","qty":1,"price":null,"status":"pending","""));
        Assert.That(snapshot, Does.Contain("""{"id":2,"side":"Buy","symbol":"I1","qty":2,"price":-Infinity,"status":"pending","""));
        Assert.That(snapshot, Does.Contain("""{"id":3,"side":"Buy","symbol":"NaN","qty":3,"price":1.5,"status":"pending","""));
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_UnknownService_ReportedPerRow(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        var (code, stdout, _) = await RunAsync(dir.Path, ct, "send", Base(host), "nosuch", """{"a":1}""");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Is.EqualTo("[1/1] error: Unknown service: nosuch"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_StructuredCsv_EnvelopeOpDataColumnsConverted_135(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("place.csv"), "service,op,data.side,data.symbol,data.qty,data.price,data.event\norders,place,Buy,A,5,1.25,new\n", ct);
        await File.WriteAllTextAsync(dir.File("status.csv"), "service,data.id,data.status,data.event,op\norders,1,accepted,acc,update_status\n", ct);
        var place = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "place.csv");
        Assert.That(place.Code, Is.Zero, place.Output);
        var status = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "status.csv");
        Assert.That(status.Code, Is.Zero, status.Output);
        Assert.That(Lines(status.Stdout)[0], Does.Match(OkLine()));

        var orders = await SnapshotAsync(host, "all_orders", ct);
        Assert.That(orders[0].GetProperty("id").GetRawText(), Is.EqualTo("1"));
        Assert.That(orders[0].GetProperty("status").GetString(), Is.EqualTo("accepted"));
        Assert.That(orders[0].GetProperty("qty").GetRawText(), Is.EqualTo("5"));
        var audit = await SnapshotAsync(host, "audit_feed", ct);
        Assert.That(audit.EnumerateArray().Select(r => r.GetProperty("event").GetString()), Is.EqualTo(new[] { "new", "acc" }));
        Assert.That(audit[1].GetProperty("order_id").GetRawText(), Is.EqualTo("1"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_CsvPerRowOp_EachRowUsesItsOp_136(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("rows.csv"), "op,data.side,data.symbol,data.qty,data.price,data.id,data.status,data.event\nplace,Buy,A,1,2.5,,,new\nupdate_status,,,,,1,filled,fill\n", ct);
        var (code, stdout, output) = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "rows.csv");
        Assert.That(code, Is.Zero, output);
        var lines = Lines(stdout);
        Assert.That(lines, Has.Length.EqualTo(2));
        Assert.That(lines[0], Does.StartWith("[1/2] ok ref="));
        Assert.That(lines[1], Does.StartWith("[2/2] ok ref="));
        var orders = await SnapshotAsync(host, "all_orders", ct);
        Assert.That(orders[0].GetProperty("status").GetString(), Is.EqualTo("filled"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_EmptyRefCell_DoesNotHang_141(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("r.csv"), "ref,op,side,symbol,qty,price\n,place,Buy,A,1,2.0\nmyref-1,place,Buy,B,1,2.0\n", ct);
        var (code, stdout, output) = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "r.csv");
        Assert.That(code, Is.Zero, output);
        var lines = Lines(stdout);
        Assert.That(lines[0], Does.Match(OkLine()), "an empty ref cell is treated as no ref");
        Assert.That(lines[1], Is.EqualTo("[2/2] ok ref=myref-1"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_ServerNotRunning_OneLineErrorExit1(CancellationToken ct)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var dir = new TempDirectory();
        var (code, stdout, _) = await RunAsync(dir.Path, ct, "send", $"127.0.0.1:{port}", "orders", """{"a":1}""");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Is.EqualTo($"Error: could not connect to ws://127.0.0.1:{port}/ws. Is the mkio server running?"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_InvalidData_OneLineErrors(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("bad.json"), "{nope", ct);
        var missing = await RunAsync(dir.Path, ct, "send", "1", "orders", "missing.csv");
        Assert.That((missing.Code, missing.Stdout), Is.EqualTo((1, "Error: file not found: missing.csv")));
        var bad = await RunAsync(dir.Path, ct, "send", "1", "orders", "bad.json");
        Assert.That(bad.Code, Is.EqualTo(1));
        Assert.That(bad.Stdout, Does.StartWith("Error: invalid JSON in bad.json: "));
        var inline = await RunAsync(dir.Path, ct, "send", "1", "orders", "[1,");
        Assert.That(inline.Code, Is.EqualTo(1));
        Assert.That(inline.Stdout, Does.StartWith("Error: invalid JSON data: "));
    }

    [Test, CancelAfter(120_000)]
    public async Task Send_OrderBookFixture_ReachesFinalState(CancellationToken ct)
    {
        var host = await StartOrderBookAsync(ct);
        var dir = new TempDirectory();
        try
        {
            await File.WriteAllTextAsync(dir.File("new.csv"), "service,op,msgid,data.side,data.symbol,data.qty,data.price\norders,new,1,Buy,A,100,12.34\norders,new,2,Buy,B,200,23.45\norders,new,3,Sell,B,300,34.56\n", ct);
            await File.WriteAllTextAsync(dir.File("accept.csv"), "service,op,msgid,data.id\norders,accept,4,1\norders,accept,5,2\n", ct);
            await File.WriteAllTextAsync(dir.File("reject.json"), """{"service": "orders", "op": "reject", "msgid": "8", "data": {"id": 3}}""", ct);
            await File.WriteAllTextAsync(dir.File("fill.csv"), "service,op,msgid,data.id\norders,fill,6,1\n", ct);
            await File.WriteAllTextAsync(dir.File("cancel.csv"), "service,op,msgid,data.id\norders,cancel,7,2\n", ct);
            var counts = new Dictionary<string, int> { ["new.csv"] = 3, ["accept.csv"] = 2, ["reject.json"] = 1, ["fill.csv"] = 1, ["cancel.csv"] = 1 };
            string? fillRef = null;
            foreach (var (file, n) in counts)
            {
                var (code, stdout, output) = await RunAsync(dir.Path, ct, "send", Base(host), "orders", file);
                Assert.That(code, Is.Zero, $"{file}: {output}");
                var lines = Lines(stdout);
                Assert.That(lines, Has.Length.EqualTo(n), file);
                for (var i = 0; i < n; i++)
                {
                    Assert.That(lines[i], Does.Match(OkLine()).And.StartWith($"[{i + 1}/{n}] ok ref="), file);
                }

                if (file == "fill.csv")
                {
                    fillRef = lines[0]["[1/1] ok ref=".Length..];
                }
            }

            var orders = await SnapshotAsync(host, "all_orders", ct);
            Assert.That(orders.EnumerateArray().Select(r => (r.GetProperty("id").GetInt32(), r.GetProperty("status").GetString())),
                Is.EqualTo(new[] { (1, "filled"), (2, "cancelled"), (3, "rejected") }));
            var audit = await SnapshotAsync(host, "audit_feed", ct);
            Assert.That(audit.EnumerateArray().Select(r => r.GetProperty("event").GetString()),
                Is.EqualTo(new[] { "new", "new", "new", "accepted", "accepted", "rejected", "filled", "cancelled" }));
            var last = await SnapshotAsync(host, "last_trade", ct);
            Assert.That(last.GetArrayLength(), Is.EqualTo(1));
            Assert.That(last[0].GetRawText(), Is.EqualTo($$"""{"symbol":"A","price":12.34,"time":"{{fillRef}}"}"""));
        }
        finally
        {
            await StopAsync(host, dir);
        }
    }

    // ------------------------------------------------------------------ arguments (140)

    [TestCase(new[] { "send", "1", "orders", "--bogus", "{}" }, "Unknown option: --bogus\nUsage: mkio send <url> <service> [--op <name>] <data>")]
    [TestCase(new[] { "send", "1", "orders", "{}", "--op" }, "Error: --op requires a value")]
    [TestCase(new[] { "send", "1", "orders", "--op", "x" }, "Error: no data argument provided")]
    [TestCase(new[] { "subscribe", "1", "svc", "--nope" }, "Unknown option: --nope\nUsage: mkio subscribe <url> <service> [--filter <expr>] [--ref <ver>]")]
    [TestCase(new[] { "subscribe", "1", "svc", "--filter" }, "Error: --filter requires a value")]
    [TestCase(new[] { "subscribe", "1", "svc", "--ref" }, "Error: --ref requires a value")]
    [TestCase(new[] { "subscribe", "1" }, "Usage: mkio subscribe <url> <service> [--filter <expr>] [--ref <ver>]")]
    [TestCase(new[] { "monitor", "1", "svc", "--x" }, "Unknown option: --x\nUsage: mkio monitor <url> <service>")]
    [TestCase(new[] { "services" }, "Usage: mkio services <url> [service]\n  mkio services http://localhost:8080\n  mkio services http://localhost:8080 orders")]
    [CancelAfter(60_000)]
    public async Task Arguments_ErrorsPrintMessageAndExit1_140(string[] args, string expected, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var (code, stdout, _) = await RunAsync(dir.Path, ct, args);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Is.EqualTo(expected));
    }

    // ------------------------------------------------------------------ services (138)

    [Test, CancelAfter(60_000)]
    public async Task Services_ListDetailAndUnknown_138(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        var list = await RunAsync(dir.Path, ct, "services", Base(host));
        Assert.That(list.Code, Is.Zero, list.Output);
        Assert.That(list.Stdout, Is.EqualTo("""
            SERVICE     TYPE         DETAILS
            ----------  -----------  ------------------------------
            orders      transaction  tables=orders,audit_log
            last_trade  subpub       table=orders, watch=orders
            audit_feed  stream       table=audit_log, watch=audit_log
            all_orders  query        table=orders, watch=orders
            """.ReplaceLineEndings("\n")));

        // Shorthand host:port works for HTTP too.
        var detail = await RunAsync(dir.Path, ct, "services", host.BaseUri.Authority, "last_trade");
        Assert.That(detail.Code, Is.Zero, detail.Output);
        Assert.That(detail.Stdout.TrimEnd('\n'), Is.EqualTo("""
            Service: last_trade (subpub)
            
              Table: orders
              Key: id
              Filter by: status, symbol
            
              Schema:
                id      INTEGER  (primary key)
                side    TEXT
                symbol  TEXT
                qty     INTEGER
                price   REAL
                status  TEXT
            
              Subscribe protocol:
                Message: {"service": "last_trade", "type": "subscribe", "filter": "<expr>"}
                Response types: snapshot, delta, update
                Recovery: Send the last ref you received as "ref" when resubscribing: you get a delta of the changes since then from the change log, or a full snapshot when that ref is too old.
                change_log_size: 100
            
              Example:
                mkio subscribe <url> last_trade
                mkio subscribe <url> last_trade --filter "status == '...'"
                mkio subscribe <url> last_trade --ref "<ref from last message>"
            """.ReplaceLineEndings("\n")));

        var tx = await RunAsync(dir.Path, ct, "services", Base(host), "orders");
        Assert.That(tx.Code, Is.Zero, tx.Output);
        var txLines = tx.Stdout.Split('\n');
        Assert.That(txLines[0], Is.EqualTo("Service: orders (transaction)"));
        Assert.That(txLines, Does.Contain("  Operations:"));
        Assert.That(txLines, Does.Contain("    place          side*, symbol*, qty, price=0"));
        Assert.That(txLines, Does.Contain("    update_status  status='pending', id* (key)"));
        Assert.That(txLines, Does.Contain("  place:"));
        Assert.That(txLines, Does.Contain("    auto: id (autoincrement), status (default)"));
        Assert.That(txLines, Does.Contain("    id      INTEGER     required, key"));
        Assert.That(txLines, Does.Contain("    side    TEXT        required"));
        Assert.That(txLines, Does.Contain("    qty     INTEGER   "), "padding is kept without notes");
        Assert.That(txLines, Does.Contain("    + audit_log: order_id=$0.id, status=$0.status"));
        Assert.That(txLines, Does.Contain("""    Check: {"service": "orders", "type": "check", "ref": "<ref>"}"""));

        var unknown = await RunAsync(dir.Path, ct, "services", Base(host), "nosuch");
        Assert.That((unknown.Code, unknown.Stdout), Is.EqualTo((1, "Unknown service: nosuch")));
    }

    [Test, CancelAfter(60_000)]
    public async Task Services_ConnectionRefused_Exit1(CancellationToken ct)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var dir = new TempDirectory();
        var (code, stdout, _) = await RunAsync(dir.Path, ct, "services", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Does.StartWith($"Error connecting to http://localhost:{port}/api/services: "));
    }

    // ------------------------------------------------------------------ subscribe / monitor

    [Test, CancelAfter(90_000)]
    public async Task Subscribe_PrintsSnapshotThenUpdate(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        await using (var ws = await host.ConnectAsync("ws", ct))
        {
            var r = await ws.RequestAsync("""{"service":"orders","op":"place","data":{"side":"Buy","symbol":"A","qty":1,"price":2.5,"event":"caf\u00e9"}}""", ct);
            Assert.That(r.GetProperty("ok").GetBoolean(), Is.True, r.GetRawText());
        }

        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, "subscribe", Base(host), "audit_feed");
        var snap = await p.WaitForStdoutAsync(SnapshotHeader(), ct);
        Assert.That(snap.Groups[1].Value, Is.EqualTo("1"));
        await using (var ws = await host.ConnectAsync("ws", ct))
        {
            var r = await ws.RequestAsync("""{"service":"orders","op":"place","data":{"side":"Sell","symbol":"B","qty":2,"price":3.0,"event":"second"}}""", ct);
            Assert.That(r.GetProperty("ok").GetBoolean(), Is.True, r.GetRawText());
        }

        await p.WaitForStdoutAsync(UpdateInsertHeader(), ct);
        await p.WaitForStdoutAsync(new Regex("second"), ct);
        var lines = p.Stdout.Split('\n');
        Assert.That(lines[0], Does.Match(SnapshotHeader()).And.Match(@" ref=\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$"));
        Assert.That(lines[1], Does.Match("""^  \{"id": 1, "event": "caf\\u00e9", "order_id": 1, "status": "pending", "_mkio_ref": "\d{8} [0-9:.]+"\}$"""));
        Assert.That(lines[2], Does.Match(UpdateInsertHeader()));
        Assert.That(lines[3], Does.Match("""^  \{"id": 2, "event": "second", "order_id": 2, "status": "pending", "_mkio_ref": "[^"]+"\}$"""));
        Assert.That(p.Stdout.Contains('\u001b', StringComparison.Ordinal), Is.False, "no colour when not a TTY");
    }

    [TestCase("add_order", "", "Error: Service 'add_order' is a transaction service; it does not accept subscriptions (subscribe to a subpub, stream or query service)")]
    [TestCase("all_orders", "stauts == 'pending'", "Error: Unknown field: stauts. Available fields: id, symbol, qty, price, status, _mkio_ref. Did you mean 'status'?")]
    [CancelAfter(90_000)]
    public async Task Subscribe_Rejected_PrintsTheNackAndExitsOne(string service, string filter, string error, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        using var dir = new TempDirectory();
        var r = filter.Length == 0
            ? await RunAsync(dir.Path, ct, "subscribe", Base(host), service)
            : await RunAsync(dir.Path, ct, "subscribe", Base(host), service, "--filter", filter);
        var lines = Lines(r.Stdout);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(r.Code, Is.EqualTo(1), r.Output);
            Assert.That(lines[0], Does.Match(@"^\[[^\]]+\] nack: \{""type"": ""nack"", ""service"": """ + service + @""""), r.Output);
            Assert.That(lines[^1], Is.EqualTo(error));
        }
    }

    [Test, CancelAfter(90_000)]
    public async Task Monitor_PrintsInAndOut_MsgIdIsEnvelope_137(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, "monitor", Base(host), "orders");
        await p.WaitForStdoutAsync(MonitorStarted(), ct);
        await File.WriteAllTextAsync(dir.File("m.csv"), "msgid,op,side,symbol,qty,price\nm-1,place,Buy,A,1,2.0\n", ct);
        var send = await RunAsync(dir.Path, ct, "send", Base(host), "orders", "m.csv");
        Assert.That(send.Code, Is.Zero, send.Output);
        await p.WaitForStdoutAsync(OutResult(), ct);
        await p.WaitForStdoutAsync(new Regex("^}$"), ct);
        var wsUrl = "ws://" + host.BaseUri.Authority + "/ws";
        var text = p.Stdout;
        var expected = $$"""
            Monitoring service: orders
            Connected to: {{wsUrl}}
            ---
            [T] >> IN  (message)
            {
              "service": "orders",
              "data": {
                "side": "Buy",
                "symbol": "A",
                "qty": 1,
                "price": 2.0
              },
              "op": "place",
              "msgid": "m-1"
            }

            [T] << OUT result
            {
              "type": "result",
              "service": "orders",
              "ref": "REF",
              "msgid": "m-1",
              "ok": true
            }
            """.ReplaceLineEndings("\n");
        var normalized = Regex.Replace(text, @"^\[\d{2}:\d{2}:\d{2}\.\d{3}\]", "[T]", RegexOptions.Multiline);
        normalized = Regex.Replace(normalized, @"""ref"": ""\d{8} [0-9:.]+""", "\"ref\": \"REF\"");
        Assert.That(normalized.TrimEnd('\n'), Is.EqualTo(expected));
    }

    [Test, CancelAfter(60_000)]
    public async Task Monitor_UnknownService_Exit1_138(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        var (code, stdout, _) = await RunAsync(dir.Path, ct, "monitor", Base(host), "nosuch");
        Assert.That((code, stdout), Is.EqualTo((1, "Error: Unknown service: nosuch")));
    }
}
