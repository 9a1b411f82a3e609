using System.Net.WebSockets;
using System.Text.Json;
using Mkio.AspNetCore.Tests.Transactions;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Dispatch;

/// <summary>CONFORMANCE items 34–37 and 44 (PROTOCOL.md §5 steps 1–5, §9): dispatcher errors, exact envelopes, socket kept open.</summary>
[Parallelizable(ParallelScope.Children)]
public class DispatchErrorTests
{
    private const string Insert = """{"service":"add_order","ref":"after","data":{"id":"after","symbol":"A","qty":1}}""";
    private const string InsertResult = """{"type":"result","service":"add_order","ref":"after","ok":true}""";

    [TestCase("""{"ref":"r1", bad}""")]
    [TestCase("""{"service":"add_order","ref":"r1",}""")]
    [TestCase("""{"service":"add_order""")]
    [TestCase("""not json""")]
    [TestCase("""   """)]
    [CancelAfter(30_000)]
    public async Task Dispatch_InvalidJson_ErrorWithoutRefAndSocketStaysOpen(string frame, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws, [frame, Insert], ct);

        var error = replies[0].Json;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "type", "message" }), replies[0].Text);
            Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("error"));
            Assert.That(error.GetProperty("message").GetString(), Is.Not.Empty);
            Assert.That(replies[1].Text, Is.EqualTo(InsertResult));
            Assert.That(ws.State, Is.EqualTo(WebSocketState.Open));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Dispatch_BinaryFrameWithInvalidUtf8_ErrorAndSocketStaysOpen(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        byte[] frame = [.. "{\"service\":\"add_order\",\"ref\":\"x\",\"data\":{\"id\":\""u8, 0xFF, 0xFE, .. "\"}}"u8];
        await ws.SendBytesAsync(frame, WebSocketMessageType.Binary, ct);
        var error = await ws.ReceiveAsync(ct);
        var after = await ws.RequestAsync(Insert, ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "type", "message" }), error.GetRawText());
            Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("error"));
            Assert.That(after.GetRawText(), Is.EqualTo(InsertResult));
        }
    }

    [TestCase("""[1, 2]""")]
    [TestCase("""[{"service":"add_order"}]""")]
    [TestCase("""
        "add_order"
        """)]
    [TestCase("""42""")]
    [TestCase("""null""")]
    [TestCase("""true""")]
    [CancelAfter(30_000)]
    public async Task Dispatch_JsonNotAnObject_MessageMustBeAJsonObject(string frame, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws, [frame, Insert], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Message must be a JSON object"}"""));
            Assert.That(replies[1].Text, Is.EqualTo(InsertResult));
        }
    }

    [TestCase("""{"ref":"r36","data":{"id":"1"}}""", """{"type":"error","message":"Missing 'service' field","ref":"r36"}""")]
    [TestCase("""{"ref":"r36","msgid":"m36","data":{}}""", """{"type":"error","message":"Missing 'service' field","ref":"r36","msgid":"m36"}""")]
    [TestCase("""{"service":"","ref":"r36"}""", """{"type":"error","message":"Missing 'service' field","ref":"r36"}""")]
    [TestCase("""{"service":null,"msgid":7}""", """{"type":"error","message":"Missing 'service' field","msgid":7}""")]
    [TestCase("""{"type":"check","ref":""}""", """{"type":"error","message":"Missing 'service' field","ref":""}""")]
    [TestCase("""{"type":"subscribe","ref":null,"msgid":null}""", """{"type":"error","message":"Missing 'service' field"}""")]
    [TestCase("""{}""", """{"type":"error","message":"Missing 'service' field"}""")]
    [CancelAfter(30_000)]
    public async Task Dispatch_NoService_MissingServiceFieldWithEchoes(string frame, string expected, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws, [frame, Insert], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo(expected));
            Assert.That(replies[1].Text, Is.EqualTo(InsertResult));
        }
    }

    [TestCase("""{"service":"nonexistent","ref":"r37","data":{}}""", """{"type":"error","message":"Unknown service: nonexistent","ref":"r37"}""")]
    [TestCase("""{"service":"nonexistent","ref":"r37","msgid":"m37"}""", """{"type":"error","message":"Unknown service: nonexistent","ref":"r37","msgid":"m37"}""")]
    [TestCase("""{"msgid":{"a":[1,2.5,"\u00e9"]},"service":"nonexistent"}""", """{"type":"error","message":"Unknown service: nonexistent","msgid":{"a":[1,2.5,"\u00e9"]}}""")]
    [TestCase("""{"service":"nonexistent","ref":""}""", """{"type":"error","message":"Unknown service: nonexistent","ref":""}""")]
    [TestCase("""{"service":"nonexistent","ref":null,"msgid":null}""", """{"type":"error","message":"Unknown service: nonexistent"}""")]
    [TestCase("""{"service":"nonexistent","type":"subscribe","ref":"s"}""", """{"type":"error","message":"Unknown service: nonexistent","ref":"s"}""")]
    [TestCase("""{"service":"nonexistent","type":"check","ref":"c"}""", """{"type":"error","message":"Unknown service: nonexistent","ref":"c"}""")]
    [TestCase("""{"service":"ADD_ORDER","ref":"case"}""", """{"type":"error","message":"Unknown service: ADD_ORDER","ref":"case"}""")]
    [CancelAfter(30_000)]
    public async Task Dispatch_UnknownService_UnknownServiceWithEchoes(string frame, string expected, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws, [frame, Insert], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo(expected));
            Assert.That(replies[1].Text, Is.EqualTo(InsertResult));
        }
    }

    /// <summary>Fix F11: unhashable service values get the unknown-service error instead of a dropped connection.</summary>
    [TestCase("""{"service":["add_order","x"],"ref":"r44","msgid":44,"data":{"id":"1","symbol":"A","qty":1}}""", "[")]
    [TestCase("""{"service":{"name":"add_order"},"ref":"r44","msgid":44,"data":{"id":"1","symbol":"A","qty":1}}""", "{")]
    [TestCase("""{"service":5,"ref":"r44","msgid":44,"data":{"id":"1","symbol":"A","qty":1}}""", "5")]
    [CancelAfter(30_000)]
    public async Task Dispatch_NonStringService_UnknownServiceAndNothingExecuted(string frame, string shownStart, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws, [frame, Insert], ct);

        var error = replies[0].Json;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(error.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "type", "message", "ref", "msgid" }), replies[0].Text);
            Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("error"));
            Assert.That(error.GetProperty("message").GetString(), Does.StartWith("Unknown service: " + shownStart));
            Assert.That(error.GetProperty("ref").GetString(), Is.EqualTo("r44"));
            Assert.That(error.GetProperty("msgid").GetInt32(), Is.EqualTo(44));
            Assert.That(replies[1].Text, Is.EqualTo(InsertResult));
            Assert.That(ws.State, Is.EqualTo(WebSocketState.Open));
            Assert.That(TxTest.Column(host, "SELECT id FROM orders"), Is.EqualTo(new object[] { "after" }));
        }
    }

    /// <summary>PROTOCOL.md §2: duplicate keys keep the last value (as Python's json module).</summary>
    [Test, CancelAfter(30_000)]
    public async Task Dispatch_DuplicateKeys_LastValueWins(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"nosuch","service":"add_order","ref":"first","ref":"dup","data":{"id":"1","symbol":"A","qty":1,"qty":2}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"dup","ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT id, qty, _mkio_ref FROM orders").Single(), Is.EqualTo(new object[] { "1", 2L, "dup" }));
        }
    }
}
