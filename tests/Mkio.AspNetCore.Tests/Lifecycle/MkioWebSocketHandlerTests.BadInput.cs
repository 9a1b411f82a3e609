using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>
/// Hostile or broken input never takes the server down (PROTOCOL.md §9): each case is answered with
/// one error (or, for a WebSocket-level violation, a close of that socket only), the same socket keeps
/// working where the protocol allows it, and other connections are unaffected.
/// </summary>
public partial class MkioWebSocketHandlerTests
{
    /// <summary>Asserts a bystander connection still executes transactions, and the host is healthy.</summary>
    private static async Task AssertServerWorksAsync(MkioTestHost host, TestSocket bystander, string id, CancellationToken ct)
    {
        Assert.That((await bystander.RequestAsync(Insert(id), ct)).GetRawText(), Is.EqualTo(Ok(id)));
        using var http = host.CreateHttpClient();
        using var health = await http.GetAsync(new Uri("health", UriKind.Relative), ct);
        Assert.That(health.IsSuccessStatusCode, Is.True, "the health check still reports healthy");
    }

    private static void AssertInvalidJsonError(JsonElement reply)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("error"));
            Assert.That(reply.GetProperty("message").GetString(), Does.StartWith("Invalid JSON"));
            Assert.That(reply.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "type", "message" }), "a parse error carries no ref or msgid");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task ReceiveLoop_GarbageBinaryFrame_AnswersInvalidJsonAndKeepsTheSocket(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        await using var bystander = await host.ConnectAsync("ws", ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        var garbage = new byte[4096];
        new Random(1234).NextBytes(garbage);
        garbage[0] = 0xFF; // never valid UTF-8 nor JSON
        await ws.SendBytesAsync(garbage, WebSocketMessageType.Binary, ct);
        AssertInvalidJsonError(await ws.ReceiveAsync(ct));

        await ws.SendBytesAsync([], WebSocketMessageType.Binary, ct);
        AssertInvalidJsonError(await ws.ReceiveAsync(ct));

        await ws.SendAsync("{\"service\":\"add_order\",", cancellationToken: ct);
        AssertInvalidJsonError(await ws.ReceiveAsync(ct));

        Assert.That((await ws.RequestAsync(Insert("same-socket"), ct)).GetRawText(), Is.EqualTo(Ok("same-socket")));
        await AssertServerWorksAsync(host, bystander, "bystander", ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task ReceiveLoop_InvalidUtf8InTextFrame_ClosesWith1007OrAnswersErrorAndOthersKeepWorking(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        await using var bystander = await host.ConnectAsync("ws", ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        // A JSON object whose string holds an invalid UTF-8 sequence (a lone continuation byte and an overlong NUL).
        var bytes = Encoding.ASCII.GetBytes("""{"service":"add_order","ref":"bad","data":{"id":"bad","qty":1,"symbol":"__"}}""");
        var at = Array.IndexOf(bytes, (byte)'_');
        bytes[at] = 0x80;
        bytes[at + 1] = 0xC0;
        await ws.SendBytesAsync(bytes, WebSocketMessageType.Text, ct);

        // The WebSocket layer may refuse the frame (1007); if it lets it through, the parser must answer one error.
        JsonElement? reply = null;
        try
        {
            reply = await ws.ReceiveAsync(ct);
        }
        catch (InvalidOperationException)
        {
            // Closed without a reply.
        }

        if (reply is not { } r)
        {
            // The WebSocket layer (ManagedWebSocket) sends 1007 and tears the connection down right after,
            // so the close frame does not always reach the client first; any other close code is wrong.
            Assert.That(ws.CloseStatus, Is.Null.Or.EqualTo(WebSocketCloseStatus.InvalidPayloadData));
        }
        else
        {
            Assert.That(r.GetProperty("type").GetString(), Is.EqualTo("error"), r.GetRawText());
            Assert.That((await ws.RequestAsync(Insert("same-socket"), ct)).GetRawText(), Is.EqualTo(Ok("same-socket")));
        }

        Assert.That(await IdsAsync(host, ct), Does.Not.Contain("bad"));
        await AssertServerWorksAsync(host, bystander, "bystander", ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task ReceiveLoop_DeeplyNestedJson_AnswersInvalidJsonAndKeepsTheSocket(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        await using var bystander = await host.ConnectAsync("ws", ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        await ws.SendAsync(new string('[', 100_000), cancellationToken: ct);
        AssertInvalidJsonError(await ws.ReceiveAsync(ct));

        // Deep nesting inside an otherwise valid envelope, closed properly.
        var nested = new string('[', 50_000) + new string(']', 50_000);
        await ws.SendAsync($$$"""{"service":"add_order","ref":"deep","data":{"id":"deep","qty":1,"symbol":{{{nested}}}}}""", cancellationToken: ct);
        AssertInvalidJsonError(await ws.ReceiveAsync(ct));

        var objects = string.Concat(Enumerable.Repeat("{\"a\":", 50_000)) + "1" + new string('}', 50_000);
        await ws.SendAsync(objects, cancellationToken: ct);
        AssertInvalidJsonError(await ws.ReceiveAsync(ct));

        Assert.That((await ws.RequestAsync(Insert("same-socket"), ct)).GetRawText(), Is.EqualTo(Ok("same-socket")));
        Assert.That(await IdsAsync(host, ct), Is.EqualTo(new[] { "same-socket" }));
        await AssertServerWorksAsync(host, bystander, "bystander", ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task ReceiveLoop_HugeNumbers_AnswersEachRequestAndKeepsTheSocket(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        await using var bystander = await host.ConnectAsync("ws", ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        // An integer beyond 64 bits cannot be bound (Python's sqlite3 raises the same text).
        var digits = "9" + new string('0', 10_000);
        var tooLarge = await ws.RequestAsync($$$"""{"service":"add_order","ref":"big-int","data":{"id":"big-int","qty":{{{digits}}},"symbol":"S"}}""", ct);
        Assert.That(tooLarge.GetRawText(), Is.EqualTo("""{"type":"error","message":"Python int too large to convert to SQLite INTEGER","ref":"big-int"}"""));

        var negative = await ws.RequestAsync($$$"""{"service":"add_order","ref":"neg-int","data":{"id":"neg-int","qty":-{{{digits}}},"symbol":"S"}}""", ct);
        Assert.That(negative.GetRawText(), Is.EqualTo("""{"type":"error","message":"Python int too large to convert to SQLite INTEGER","ref":"neg-int"}"""));

        // Exponents beyond double range are infinities (as Python's json reads them); tiny ones are zero.
        // SQLite's INTEGER column keeps the infinity as a REAL; PostgreSQL's typed column refuses it (docs/postgres.md).
        var postgres = host.PostgresConnectionString is not null;
        var huge = await ws.RequestAsync("""{"service":"add_order","ref":"huge-real","data":{"id":"huge-real","qty":1e999999,"symbol":"S"}}""", ct);
        var tiny = await ws.RequestAsync("""{"service":"add_order","ref":"tiny-real","data":{"id":"tiny-real","qty":1e-999999,"symbol":"S"}}""", ct);
        var edge = await ws.RequestAsync("""{"service":"add_order","ref":"i64","data":{"id":"i64","qty":-9223372036854775808,"symbol":"S"}}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(huge.GetRawText(), Is.EqualTo(postgres
                ? """{"type":"error","message":"datatype mismatch: orders.qty is INTEGER in PostgreSQL and cannot store Infinity","ref":"huge-real"}"""
                : Ok("huge-real")));
            Assert.That(tiny.GetRawText(), Is.EqualTo(Ok("tiny-real")));
            Assert.That(edge.GetRawText(), Is.EqualTo(Ok("i64")));
        }

        var rows = await LifecycleSupport.QueryHostAsync(host, "SELECT id, qty FROM orders ORDER BY id", ct);
        var expected = new List<object?[]>
        {
            new object?[] { "huge-real", double.PositiveInfinity },
            new object?[] { "i64", long.MinValue },
            new object?[] { "tiny-real", 0L },
        };
        if (postgres)
        {
            expected.RemoveAt(0);
        }

        Assert.That(rows, Is.EqualTo(expected));

        Assert.That((await ws.RequestAsync(Insert("same-socket"), ct)).GetRawText(), Is.EqualTo(Ok("same-socket")));
        await AssertServerWorksAsync(host, bystander, "bystander", ct);
    }
}
