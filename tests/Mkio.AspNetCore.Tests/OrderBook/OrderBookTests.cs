using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mkio.AspNetCore.Tests.Lifecycle;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.OrderBook;

/// <summary>
/// The seed order-book config (samples/OrderBook/mkio.toml, CONFIG.md §8) end to end over Kestrel and
/// a SQLite file: the order flows of CONFIG.md §8, the bind-to-client-data quirk of SERVICES.md §5.6,
/// and the same model written code-first, which must behave identically.
/// </summary>
public class OrderBookTests
{
    private const string IndexHtml = "<!doctype html><title>order book</title>";

    private static string Tx(string op, string data, string? @ref = null) =>
        @ref is null
            ? $$"""{"service":"orders","op":"{{op}}","data":{{data}}}"""
            : $$"""{"service":"orders","op":"{{op}}","ref":"{{@ref}}","data":{{data}}}""";

    /// <summary>Starts a host in a fresh folder holding <c>static/index.html</c>, from the seed TOML or from code.</summary>
    private static async Task<MkioTestHost> StartAsync(bool fromToml, CancellationToken ct)
    {
        var dir = new TempDirectory();
        try
        {
            Directory.CreateDirectory(dir.File("static"));
            await File.WriteAllTextAsync(Path.Combine(dir.File("static"), "index.html"), IndexHtml, ct);
            return fromToml
                ? await MkioTestHost.StartAsync(_ => { }, ct, directory: dir, tomlPath: Fixtures.OrderBookToml)
                : await MkioTestHost.StartAsync(Mkio.Testing.OrderBookModel.Sample, ct, directory: dir);
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>Stops the host (checkpointing WAL) and removes its folder.</summary>
    private static async Task StopAsync(MkioTestHost host)
    {
        await host.DisposeAsync();
        host.Directory.Dispose();
    }

    private static List<object?[]> Rows(MkioTestHost host, string sql) =>
        LifecycleSupport.QueryFile(host.Directory.File("orders.db"), sql);

    private static string Ref(JsonElement reply) => reply.GetProperty("ref").GetString()!;

    [Test, CancelAfter(60_000)]
    public async Task SeedConfig_OrderFlows_WriteOrdersAndExactAuditRows(CancellationToken ct)
    {
        var host = await StartAsync(fromToml: true, ct);
        try
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            var placed = await ws.RequestAsync(Tx("new", """{"side":"Buy","symbol":"A","qty":100,"price":12.34}""", "o1"), ct);
            var accepted = await ws.RequestAsync(Tx("accept", """{"id":1}""", "o1-accept"), ct);
            var filled = await ws.RequestAsync(Tx("fill", """{"id":1}"""), ct);
            var placed2 = await ws.RequestAsync(Tx("new", """{"side":"Sell","symbol":"B","qty":5,"price":7}""", "o2"), ct);
            var cancelled = await ws.RequestAsync(Tx("cancel", """{"id":2}""", "o2-cancel"), ct);
            var placed3 = await ws.RequestAsync(Tx("new", """{"side":"Buy","symbol":"C","qty":1,"price":0.5}""", "o3"), ct);
            var rejected = await ws.RequestAsync(Tx("reject", """{"id":3}""", "o3-reject"), ct);
            var missing = await ws.RequestAsync(Tx("accept", """{"id":999}""", "ghost"), ct);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(placed.GetRawText(), Is.EqualTo("""{"type":"result","service":"orders","ref":"o1","ok":true}"""));
                Assert.That(accepted.GetRawText(), Is.EqualTo("""{"type":"result","service":"orders","ref":"o1-accept","ok":true}"""));
                Assert.That(filled.GetProperty("ok").GetBoolean(), Is.True, filled.GetRawText());
                Assert.That(placed2.GetRawText(), Is.EqualTo("""{"type":"result","service":"orders","ref":"o2","ok":true}"""));
                Assert.That(cancelled.GetRawText(), Is.EqualTo("""{"type":"result","service":"orders","ref":"o2-cancel","ok":true}"""));
                Assert.That(placed3.GetRawText(), Is.EqualTo("""{"type":"result","service":"orders","ref":"o3","ok":true}"""));
                Assert.That(rejected.GetRawText(), Is.EqualTo("""{"type":"result","service":"orders","ref":"o3-reject","ok":true}"""));

                // SERVICES.md §5.6: the update matches nothing, the bind reads the client data, which lacks 'status'.
                Assert.That(missing.GetRawText(), Is.EqualTo("""{"type":"error","message":"Missing field: 'status'","ref":"ghost"}"""));
            }

            // The [static] "/" route serves index.html from the working directory's ./static.
            using (var http = host.CreateHttpClient())
            {
                Assert.That(await http.GetStringAsync(new Uri("/", UriKind.Relative), ct), Is.EqualTo(IndexHtml));
            }

            var fillRef = Ref(filled);
            await ws.CloseAsync();
            await host.StopAsync();

            Assert.That(Rows(host, "SELECT id, side, symbol, qty, price, status, _mkio_ref FROM orders ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { 1L, "Buy", "A", 100L, 12.34, "filled", fillRef },
                new object?[] { 2L, "Sell", "B", 5L, 7.0, "cancelled", "o2-cancel" },
                new object?[] { 3L, "Buy", "C", 1L, 0.5, "rejected", "o3-reject" },
            }));
            Assert.That(Rows(host, "SELECT id, event, order_id, status, _mkio_ref FROM audit_log ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { 1L, "new", 1L, "pending", "o1" },
                new object?[] { 2L, "accepted", 1L, "accepted", "o1-accept" },
                new object?[] { 3L, "filled", 1L, "filled", fillRef },
                new object?[] { 4L, "new", 2L, "pending", "o2" },
                new object?[] { 5L, "cancelled", 2L, "cancelled", "o2-cancel" },
                new object?[] { 6L, "new", 3L, "pending", "o3" },
                new object?[] { 7L, "rejected", 3L, "rejected", "o3-reject" },
            }), "the failed accept of order 999 is rolled back whole: no audit row");
        }
        finally
        {
            await StopAsync(host);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task SeedConfig_Discovery_ListsServicesAndOpsInConfigOrder(CancellationToken ct)
    {
        var host = await StartAsync(fromToml: true, ct);
        try
        {
            using var http = host.CreateHttpClient();
            var list = await http.GetStringAsync(new Uri("/api/services", UriKind.Relative), ct);
            var services = JsonNode.Parse(list)!.AsArray();
            using (Assert.EnterMultipleScope())
            {
                Assert.That(services.Select(s => (string?)s!["name"]), Is.EqualTo(new[] { "orders", "last_trade", "audit_feed", "all_orders" }));
                Assert.That(services[0]!["ops"]!.AsArray().Select(o => (string?)o), Is.EqualTo(new[] { "new", "accept", "reject", "fill", "cancel" }));
                Assert.That(services[0]!["tables"]!.AsArray().Select(o => (string?)o), Is.EqualTo(new[] { "orders", "audit_log" }));
            }
        }
        finally
        {
            await StopAsync(host);
        }
    }

    /// <summary>One script run against a host: every reply with refs masked, and the final tables.</summary>
    private static async Task<(List<string> Replies, List<object?[]> Orders, List<object?[]> Audit, string Discovery, HttpStatusCode Index)> RunScriptAsync(bool fromToml, CancellationToken ct)
    {
        string[] script =
        [
            Tx("new", """{"side":"Buy","symbol":"A","qty":100,"price":12.34}"""),
            Tx("new", """{"side":"Sell","symbol":"A","qty":50,"price":12.5}""", "s2"),
            Tx("new", """{"side":"Buy","symbol":"B","qty":10}"""),
            Tx("accept", """{"id":1}"""),
            Tx("fill", """{"id":1}""", "f1"),
            Tx("reject", """{"id":2}"""),
            Tx("cancel", """{"id":3,"status":"withdrawn"}"""),
            Tx("accept", """{"id":42}""", "ghost"),
            Tx("accept", """{"id":43,"status":"accepted"}""", "ghost-with-status"),
            Tx("fill", """{}"""),
            Tx("nope", """{"id":1}"""),
            """{"service":"orders","data":{"id":1}}""",
            Tx("new", """{"side":"Buy","qty":1}"""),
            Tx("new", """{"side":"Buy","symbol":"Z","qty":1,"price":"12.5"}""", "text-price"),
            """{"service":"orders","type":"check","ref":"f1"}""",
            """{"service":"all_orders"}""",
            """{"service":"audit_feed","type":"check","ref":"x"}""",
        ];
        var host = await StartAsync(fromToml, ct);
        try
        {
            var replies = new List<string>();
            var refs = new Dictionary<string, string>(StringComparer.Ordinal);
            await using (var ws = await host.ConnectAsync("ws", ct))
            {
                foreach (var m in script)
                {
                    var reply = await ws.RequestAsync(m, ct);
                    var text = reply.GetRawText();
                    if (reply.TryGetProperty("ref", out var r) && r.GetString() is { } refText && refText.Length >= 20 && refText[8] == ' ')
                    {
                        // A server-generated ref: equal across hosts only in shape.
                        refs[refText] = $"<ref{refs.Count}>";
                        text = text.Replace($"\"ref\":\"{refText}\"", $"\"ref\":\"{refs[refText]}\"", StringComparison.Ordinal);
                    }

                    replies.Add(text);
                }

                await ws.CloseAsync();
            }

            using var http = host.CreateHttpClient();
            var discovery = await http.GetStringAsync(new Uri("/api/services", UriKind.Relative), ct);
            using var index = await http.GetAsync(new Uri("/", UriKind.Relative), ct);
            var status = index.StatusCode;
            await host.StopAsync();

            static object? Mask(object? v, Dictionary<string, string> refs) => v is string s && refs.TryGetValue(s, out var m) ? m : v;
            var orders = Rows(host, "SELECT * FROM orders ORDER BY id").Select(r => r.Select(v => Mask(v, refs)).ToArray()).ToList();
            var audit = Rows(host, "SELECT * FROM audit_log ORDER BY id").Select(r => r.Select(v => Mask(v, refs)).ToArray()).ToList();
            return (replies, orders, audit, discovery, status);
        }
        finally
        {
            await StopAsync(host);
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task CodeFirstModel_SameScriptAsSeedToml_IdenticalRepliesAndTables(CancellationToken ct)
    {
        var toml = await RunScriptAsync(fromToml: true, ct);
        var code = await RunScriptAsync(fromToml: false, ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code.Replies, Is.EqualTo(toml.Replies));
            Assert.That(code.Orders, Is.EqualTo(toml.Orders));
            Assert.That(code.Audit, Is.EqualTo(toml.Audit));
            Assert.That(code.Discovery, Is.EqualTo(toml.Discovery));
            Assert.That(code.Index, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(toml.Index, Is.EqualTo(HttpStatusCode.OK));
        }

        // The script itself behaves as the seed defines (so "identical" is not "identically broken").
        using (Assert.EnterMultipleScope())
        {
            Assert.That(toml.Replies[0], Is.EqualTo("""{"type":"result","service":"orders","ref":"<ref0>","ok":true}"""));
            Assert.That(toml.Replies[7], Is.EqualTo("""{"type":"error","message":"Missing field: 'status'","ref":"ghost"}"""));
            Assert.That(toml.Replies[10], Does.StartWith("""{"type":"error","message":"Unknown op: 'nope'. Available ops: new, accept, reject, fill, cancel","""));
            Assert.That(toml.Replies[11], Does.StartWith("""{"type":"error","message":"Multiple ops defined"""));
            Assert.That(toml.Replies[12], Does.StartWith("""{"type":"error","message":"Missing field: 'symbol'","""));
            Assert.That(toml.Orders.Select(r => r[5]), Is.EqualTo(new object?[] { "filled", "rejected", "withdrawn", "pending" }));
            Assert.That(toml.Audit.Select(r => (r[1], r[2], r[3])), Is.EqualTo(new (object?, object?, object?)[]
            {
                ("new", 1L, "pending"),
                ("new", 2L, "pending"),
                ("new", 3L, "pending"),
                ("accepted", 1L, "accepted"),
                ("filled", 1L, "filled"),
                ("rejected", 2L, "rejected"),
                ("cancelled", 3L, "withdrawn"),
                ("accepted", 43L, "accepted"),
                ("new", 4L, "pending"),
            }));
        }
    }
}
