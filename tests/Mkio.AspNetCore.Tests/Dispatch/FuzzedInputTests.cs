using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Dispatch;

/// <summary>
/// Bad input never takes the server down nor corrupts data: thousands of mutated transaction messages
/// (seeded, so a failure reproduces) on one socket, each followed by a <c>check</c> probe. Every mutated
/// message gets at most one reply, the socket stays open, and the database holds exactly the rows whose
/// transactions were acknowledged.
/// </summary>
public class FuzzedInputTests
{
    private const int Messages = 2_000;

    private static readonly string[] Fragments =
    [
        "\"", "{", "}", "[", "]", ",", ":", "null", "true", "false", "0", "-0", "1e999", "-1e999", "1.5", "12345678901234567890123",
        "NaN", "Infinity", "-Infinity", "\"\\ud800\"", "\"\\u0000\"", "\"é\"", "\"op\"", "\"ref\"", "\"msgid\"", "\"data\"",
        "\"service\"", "\"type\"", "\"check\"", "\"subscribe\"", "\"add_order\"", "\"id\"", "\"qty\"", "\\", "\\u", "\u00ff",
        new string('x', 10_000), new string('[', 300), "{\"a\":" + new string('[', 200),
    ];

    private static void Orders(MkioOptions o)
    {
        o.DbPath = DbFile;
        o.BatchMaxWaitMs = 1.0;
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER")
                .Column("price", "REAL"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "symbol", "qty", "price"]))
            .Query("all_orders", q => q.From("orders").Filterable("symbol", "qty", "price"));
    }

    private const string FilterAlphabet = "()'\"=!<>+-*/%,. 0123456789abcdefghijklmnopqrstuvwxyzANDORNTILKESU_\\$#@[]{}é\u0000";

    private static readonly string[] FilterBases =
    [
        "symbol == 'S' and qty > 5",
        "(qty * 2 + price) / 3 >= 1.5 or not symbol LIKE 'A%'",
        "UPPER(symbol) IN ('A', 'B') and price IS NOT NULL",
        "IF(qty > 1, price, -price) < 0 or LEN(symbol) != 2",
    ];

    private static string MutateFilter(Random random)
    {
        var f = new StringBuilder(FilterBases[random.Next(FilterBases.Length)]);
        var edits = 1 + random.Next(4);
        for (var e = 0; e < edits; e++)
        {
            var at = random.Next(f.Length + 1);
            switch (random.Next(4))
            {
                case 0 when f.Length > 0:
                    f[Math.Min(at, f.Length - 1)] = FilterAlphabet[random.Next(FilterAlphabet.Length)];
                    break;
                case 1 when f.Length > 0:
                    var start = Math.Min(at, f.Length - 1);
                    f.Remove(start, Math.Min(1 + random.Next(6), f.Length - start));
                    break;
                case 2:
                    f.Insert(at, random.Next(10) == 0 ? new string('(', 500) : random.Next(10) == 0 ? string.Concat(Enumerable.Repeat("not ", 400)) : FilterAlphabet[random.Next(FilterAlphabet.Length)].ToString());
                    break;
                default:
                    f.Insert(at, random.Next(2) == 0 ? " and " : " or ");
                    break;
            }
        }

        return f.ToString();
    }

    private static byte[] Mutate(Random random, int i)
    {
        var text = random.Next(3) switch
        {
            0 => $$$"""{"service":"add_order","ref":"f{{{i}}}","data":{"id":"{{{i}}}","symbol":"S","qty":{{{i}}},"price":1.5}}""",
            1 => $$$"""{"service":"add_order","msgid":{{{i}}},"data":{"id":"m{{{i}}}","symbol":"S{{{i}}}"}}""",
            _ => $$$"""{"type":"transaction","service":"add_order","ref":"g{{{i}}}","op":"default","data":{"id":"g{{{i}}}","symbol":"T","qty":null}}""",
        };
        var bytes = new List<byte>(Encoding.UTF8.GetBytes(text));
        var edits = 1 + random.Next(3);
        for (var e = 0; e < edits; e++)
        {
            var at = random.Next(bytes.Count + 1);
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0:
                    bytes[Math.Min(at, bytes.Count - 1)] = (byte)random.Next(256);
                    break;
                case 1 when bytes.Count > 0:
                    var start = Math.Min(at, bytes.Count - 1);
                    bytes.RemoveRange(start, Math.Min(1 + random.Next(8), bytes.Count - start));
                    break;
                case 2 when bytes.Count > 0:
                    var from = random.Next(bytes.Count);
                    var span = bytes.GetRange(from, Math.Min(1 + random.Next(12), bytes.Count - from));
                    bytes.InsertRange(at, span);
                    break;
                default:
                    bytes.InsertRange(at, Encoding.UTF8.GetBytes(Fragments[random.Next(Fragments.Length)]));
                    break;
            }
        }

        return [.. bytes];
    }

    [Test, CancelAfter(300_000)]
    public async Task MutatedMessages_EachAnsweredAtMostOnce_SocketStaysOpen_DatabaseHoldsExactlyTheAcknowledged(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var random = new Random(20261125);
        var acknowledged = new HashSet<string>(StringComparer.Ordinal);
        var replies = 0;
        for (var i = 0; i < Messages; i++)
        {
            var message = Mutate(random, i);
            await ws.SendBytesAsync(message, WebSocketMessageType.Binary, ct);
            await ws.SendAsync($$"""{"service":"add_order","type":"check","ref":"probe-{{i}}"}""", cancellationToken: ct);

            var others = new List<string>();
            while (true)
            {
                var r = await ws.ReceiveRawAsync(ct);
                if (r.Text.Contains($"\"ref\":\"probe-{i}\"", StringComparison.Ordinal) && r.Text.StartsWith("{\"type\":\"result\"", StringComparison.Ordinal))
                {
                    break;
                }

                others.Add(r.Text);
            }

            var shown = Encoding.UTF8.GetString(message);
            Assert.That(others, Has.Count.LessThanOrEqualTo(1), $"message {i}: {shown}");
            foreach (var o in others)
            {
                replies++;
                Assert.That(o, Does.StartWith("{\"type\":\"result\"").Or.StartWith("{\"type\":\"error\""), $"message {i}: {shown}");
                using var doc = JsonDocument.Parse(o);
                var root = doc.RootElement;
                if (root.GetProperty("type").GetString() == "result" && root.TryGetProperty("ok", out var ok) && ok.GetBoolean())
                {
                    Assert.That(acknowledged.Add(root.GetProperty("ref").GetString()!), Is.True, $"ref acknowledged twice: {o}");
                }
                else if (root.GetProperty("type").GetString() == "error")
                {
                    Assert.That(root.GetProperty("message").GetString(), Is.Not.Empty, o);
                }
            }
        }

        Assert.That(ws.State, Is.EqualTo(WebSocketState.Open));
        TestContext.Out.WriteLine($"{Messages} mutated messages: {replies} replies, {acknowledged.Count} committed.");
        Assert.That(replies, Is.GreaterThan(Messages / 2), "most mutated messages get an answer");
        Assert.That(acknowledged, Is.Not.Empty, "some mutations still commit (the oracle below is not vacuous)");

        // A clean transaction still works, and the database holds exactly the acknowledged rows.
        acknowledged.Add(await OkAsync(ws, """{"service":"add_order","ref":"final","data":{"id":"final","symbol":"Z"}}""", ct));
        var stored = ReadDb(host.Directory.File(DbFile), "SELECT _mkio_ref FROM orders").Select(r => (string)r["_mkio_ref"]!).ToHashSet(StringComparer.Ordinal);
        Assert.That(stored, Is.EquivalentTo(acknowledged));
        if (host.PostgresConnectionString is null)
        {
            // The SQLite file's own check (the PostgreSQL conformance run has no file to check).
            Assert.That(ReadDb(host.Directory.File(DbFile), "PRAGMA integrity_check").Single()["integrity_check"], Is.EqualTo("ok"));
        }
    }

    [Test, CancelAfter(300_000)]
    public async Task MutatedFilters_NackedOrSubscribed_NeverCrashOrHang(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"S","qty":9,"price":2.5}}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"AB","qty":1,"price":null}}""", ct);
        var random = new Random(1125);
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Messages / 2; i++)
        {
            var filter = MutateFilter(random);
            var subscribe = JsonSerializer.Serialize(new Dictionary<string, string> { ["service"] = "all_orders", ["type"] = "subscribe", ["filter"] = filter });
            await ws.SendAsync(subscribe, cancellationToken: ct);
            await ws.SendAsync($$$"""{"service":"add_order","type":"check","ref":"probe-{{{i}}}"}""", cancellationToken: ct);
            var reply = await ws.ReceiveAsync(ct);
            var type = reply.GetProperty("type").GetString()!;
            Assert.That(type, Is.AnyOf("snapshot", "nack"), $"filter {i}: {filter} → {reply.GetRawText()}");
            if (type == "nack")
            {
                Assert.That(reply.GetProperty("message").GetString(), Is.Not.Empty, filter);
            }
            else
            {
                Assert.That(reply.GetProperty("rows").GetArrayLength(), Is.InRange(0, 2), filter);
            }

            outcomes[type] = outcomes.GetValueOrDefault(type) + 1;
            var probe = await ws.ReceiveAsync(ct);
            Assert.That(probe.GetProperty("ref").GetString(), Is.EqualTo($"probe-{i}"), $"filter {i}: {filter} → {probe.GetRawText()}");
        }

        TestContext.Out.WriteLine(string.Join(", ", outcomes.Select(o => $"{o.Key}: {o.Value}")));
        Assert.That(outcomes.GetValueOrDefault("snapshot"), Is.GreaterThan(0), "some mutated filters still compile");
        Assert.That(outcomes.GetValueOrDefault("nack"), Is.GreaterThan(0), "some mutated filters are rejected");

        // The service still works for everyone: a new row reaches the last successful subscription or none, and a fresh subscriber sees both rows.
        await using var fresh = await host.ConnectAsync("ws", ct);
        var snapshot = await fresh.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        Assert.That(snapshot.GetProperty("rows").GetArrayLength(), Is.EqualTo(2));
    }
}
