using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Mkio.AspNetCore.Tests.Transactions;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Dispatch;

/// <summary>CONFORMANCE item 33 (PROTOCOL.md §1.6, §2): binary compact frames out; text, binary and fragmented frames in.</summary>
[Parallelizable(ParallelScope.Children)]
public class WireFrameTests
{
    [Test, CancelAfter(30_000)]
    public async Task Replies_TextAndBinaryRequests_AreBinaryFramesWithCompactJson(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        await ws.SendAsync("""{"service":"add_order","ref":"t1","data":{"id":"1","symbol":"A","qty":1}}""", WebSocketMessageType.Text, ct);
        var textResult = await ws.ReceiveRawAsync(ct);
        await ws.SendAsync("""{"service":"add_order","ref":"b1","data":{"id":"2","symbol":"A","qty":1}}""", WebSocketMessageType.Binary, ct);
        var binaryResult = await ws.ReceiveRawAsync(ct);
        await ws.SendAsync("""{"service":"add_order","ref":"b2","data":{"id":"2","symbol":"A","qty":1}}""", WebSocketMessageType.Binary, ct);
        var txError = await ws.ReceiveRawAsync(ct);
        await ws.SendAsync("""{"service":"nosuch","ref":"b3"}""", WebSocketMessageType.Binary, ct);
        var dispatchError = await ws.ReceiveRawAsync(ct);
        await ws.SendAsync("""{"service":"add_order","type":"check","ref":"t1"}""", WebSocketMessageType.Text, ct);
        var check = await ws.ReceiveRawAsync(ct);
        await ws.SendAsync("""[1, 2]""", WebSocketMessageType.Binary, ct);
        var notObject = await ws.ReceiveRawAsync(ct);

        using (Assert.EnterMultipleScope())
        {
            foreach (var r in new[] { textResult, binaryResult, txError, dispatchError, check, notObject })
            {
                Assert.That(r.Type, Is.EqualTo(WebSocketMessageType.Binary), r.Text);
            }

            Assert.That(textResult.Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"t1","ok":true}"""));
            Assert.That(binaryResult.Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"b1","ok":true}"""));
            Assert.That(txError.Text, Is.EqualTo($$"""{"type":"error","message":"{{StoreErrors.UniqueJson("orders", "id")}}","ref":"b2"}"""));
            Assert.That(dispatchError.Text, Is.EqualTo("""{"type":"error","message":"Unknown service: nosuch","ref":"b3"}"""));
            Assert.That(check.Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"t1","ok":true}"""));
            Assert.That(notObject.Text, Is.EqualTo("""{"type":"error","message":"Message must be a JSON object"}"""));
        }
    }

    [TestCase(false), TestCase(true), CancelAfter(30_000)]
    public async Task Receive_FragmentedMessageSplitInsideCharacter_IsReassembled(bool binary, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        using var raw = new ClientWebSocket();
        await raw.ConnectAsync(new Uri(host.WsBase, "ws"), ct);
        var type = binary ? WebSocketMessageType.Binary : WebSocketMessageType.Text;
        var bytes = Encoding.UTF8.GetBytes("""{"service":"Ünï","ref":"frag"}""");
        var split = Array.IndexOf(bytes, (byte)0xC3) + 1; // inside the two-byte 'Ü'
        await raw.SendAsync(bytes.AsMemory(0, 5), type, false, ct);
        await raw.SendAsync(bytes.AsMemory(5, split - 5), type, false, ct);
        await raw.SendAsync(bytes.AsMemory(split), type, true, ct);

        var buffer = new byte[4096];
        var count = 0;
        ValueWebSocketReceiveResult r;
        do
        {
            r = await raw.ReceiveAsync(buffer.AsMemory(count), ct);
            count += r.Count;
        }
        while (!r.EndOfMessage);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(r.MessageType, Is.EqualTo(WebSocketMessageType.Binary));
            Assert.That(Encoding.UTF8.GetString(buffer, 0, count), Is.EqualTo("""{"type":"error","message":"Unknown service: \u00dcn\u00ef","ref":"frag"}"""));
        }

        await raw.CloseAsync(WebSocketCloseStatus.NormalClosure, string.Empty, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Encoding_NonAsciiInErrorMessages_IsEscapedAsPython(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"Ünï"}""",
            """{"service":"😀","ref":"Ünï"}""",
            """{"service":"add_order","op":"é—x","ref":"r"}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Unknown service: \u00dcn\u00ef"}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"error","message":"Unknown service: \ud83d\ude00","ref":"\u00dcn\u00ef"}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"error","message":"Unknown op: '\u00e9\u2014x'","ref":"r"}"""));
        }
    }

    /// <summary>
    /// Item 43 for rows, until subscriptions exist: a stored row read by the server's read path and
    /// encoded by the wire writer (the path of query snapshots), and the change-event row.
    /// </summary>
    [Test, CancelAfter(30_000)]
    public async Task Encoding_RowWithNonAsciiRealAndInteger_EscapesTextAndKeepsFloatFraction(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.Transaction("add_priced", tx => tx.Insert("orders", ["id", "symbol", "qty", "price"]));
        }, ct);
        using var events = new EventRecorder(TxTest.Engine(host).Bus);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_priced","ref":"r43","data":{"id":"u1","symbol":"Ünï","qty":100,"price":150.0}}""",
            """{"service":"add_order","ref":"r43b","data":{"id":"u2","symbol":"a—b😀","qty":7}}""",
            """{"service":"add_priced","ref":"r43c","data":{"id":"u3","symbol":"x","qty":1,"price":2.5}}""",
        ], ct);
        Assert.That(replies.Select(r => r.Json.GetProperty("ok").GetBoolean()), Is.All.True);

        var rows = await TxTest.ServerReadAsync(host, "SELECT * FROM orders ORDER BY id", ct);
        var evs = events.Events;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rows.Select(TxTest.Json), Is.EqualTo(new[]
            {
                """{"id":"u1","symbol":"\u00dcn\u00ef","qty":100,"price":150.0,"status":"pending","_mkio_ref":"r43"}""",
                """{"id":"u2","symbol":"a\u2014b\ud83d\ude00","qty":7,"price":0.0,"status":"pending","_mkio_ref":"r43b"}""",
                """{"id":"u3","symbol":"x","qty":1,"price":2.5,"status":"pending","_mkio_ref":"r43c"}""",
            }));
            Assert.That(evs, Has.Count.EqualTo(3));
            Assert.That(TxTest.Json(evs[2].Row), Is.EqualTo("""{"id":"u3","symbol":"x","qty":1,"price":2.5,"status":"pending","_mkio_ref":"r43c"}"""));
            Assert.That(TxTest.Json(evs[0].Row), Does.StartWith("""{"id":"u1","symbol":"\u00dcn\u00ef","qty":100,"price":150"""));
        }
    }

    /// <summary>
    /// Item 43 end to end: the update and snapshot frames subscribers receive escape non-ASCII text as
    /// <c>\uXXXX</c> (surrogate pairs for astral characters) and write REAL values with a fraction,
    /// INTEGER values without — for a query (SQLite read) and a subpub (in-memory cache) service alike.
    /// </summary>
    [Test, CancelAfter(30_000)]
    public async Task Encoding_SubscribersFrames_EscapeNonAsciiAndKeepRealFraction(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.Transaction("add_priced", tx => tx.Insert("orders", ["id", "symbol", "qty", "price"]));
        }, ct);
        await using var live = await host.ConnectAsync("ws", ct);
        await live.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        await live.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        Assert.That((await ws.RequestAsync("""{"service":"add_priced","ref":"r43","data":{"id":"u1","symbol":"Ünï😀","qty":100,"price":150.0}}""", ct)).GetProperty("ok").GetBoolean(), Is.True);

        const string Row = """{"id":"u1","symbol":"\u00dcn\u00ef\ud83d\ude00","qty":100,"price":150.0,"status":"pending","_mkio_ref":"r43"}""";
        var updates = new[] { (await live.ReceiveRawAsync(ct)).Text, (await live.ReceiveRawAsync(ct)).Text };
        await using var late = await host.ConnectAsync("ws", ct);
        await late.SendAsync("""{"service":"all_orders","type":"subscribe"}""", cancellationToken: ct);
        var querySnapshot = (await late.ReceiveRawAsync(ct)).Text;
        await late.SendAsync("""{"service":"last_trade","type":"subscribe"}""", cancellationToken: ct);
        var subpubSnapshot = (await late.ReceiveRawAsync(ct)).Text;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(updates, Is.EquivalentTo(new[]
            {
                $$"""{"type":"update","service":"all_orders","ref":"r43","op":"insert","row":{{Row}}}""",
                $$"""{"type":"update","service":"last_trade","ref":"r43","op":"insert","row":{{Row}}}""",
            }));
            Assert.That(querySnapshot, Is.EqualTo($$"""{"type":"snapshot","service":"all_orders","ref":"r43","rows":[{{Row}}]}"""));
            Assert.That(subpubSnapshot, Is.EqualTo($$"""{"type":"snapshot","service":"last_trade","ref":"r43","rows":[{{Row}}]}"""));
        }
    }
}
