using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>CONFORMANCE item 64 (PROTOCOL.md §6.4): msgid echo on results and errors, any JSON type, never stored.</summary>
[Parallelizable(ParallelScope.Children)]
public class MsgIdTests
{
    [TestCase("7")]
    [TestCase("\"req-42\"")]
    [TestCase("0")]
    [TestCase("-3")]
    [TestCase("2.5")]
    [TestCase("true")]
    [TestCase("false")]
    [TestCase("\"\"")]
    [TestCase("[1,\"a\",null]")]
    [TestCase("{\"k\":[1,{\"z\":\"\\u00e9\"}]}")]
    [TestCase("12345678901234567890123")]
    [CancelAfter(30_000)]
    public async Task MsgId_AnyJsonType_EchoedOnResultErrorAndCheck(string msgid, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            $$$"""{"service":"add_order","ref":"m1","msgid":{{{msgid}}},"data":{"id":"1","symbol":"A","qty":1}}""",
            $$$"""{"service":"add_order","ref":"m2","msgid":{{{msgid}}},"data":{"id":"1","symbol":"A","qty":1}}""",
            $$$"""{"service":"add_order","ref":"m3","msgid":{{{msgid}}},"data":{"id":"3"}}""",
            $$$"""{"service":"add_order","type":"check","ref":"m1","msgid":{{{msgid}}}}""",
            $$$"""{"service":"nosuch","ref":"m5","msgid":{{{msgid}}}}""",
            $$$"""{"ref":"m6","msgid":{{{msgid}}}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo($$$"""{"type":"result","service":"add_order","ref":"m1","msgid":{{{msgid}}},"ok":true}"""));
            Assert.That(replies[1].Text, Is.EqualTo($$$"""{"type":"error","message":"{{{StoreErrors.UniqueJson("orders", "id")}}}","ref":"m2","msgid":{{{msgid}}}}"""));
            Assert.That(replies[2].Text, Is.EqualTo($$$"""{"type":"error","message":"Missing field: 'symbol'","ref":"m3","msgid":{{{msgid}}}}"""));
            Assert.That(replies[3].Text, Is.EqualTo($$$"""{"type":"result","service":"add_order","ref":"m1","msgid":{{{msgid}}},"ok":true}"""));
            Assert.That(replies[4].Text, Is.EqualTo($$$"""{"type":"error","message":"Unknown service: nosuch","ref":"m5","msgid":{{{msgid}}}}"""));
            Assert.That(replies[5].Text, Is.EqualTo($$$"""{"type":"error","message":"Missing 'service' field","ref":"m6","msgid":{{{msgid}}}}"""));
            Assert.That(TxTest.Query(host, "SELECT * FROM orders").Single(), Is.EqualTo(new object?[] { "1", "A", 1L, 0.0, "pending", "m1" }), "msgid is never stored");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task MsgId_AbsentOrNull_NoMsgIdKey(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","ref":"n1","data":{"id":"1","symbol":"A","qty":1}}""",
            """{"service":"add_order","ref":"n2","msgid":null,"data":{"id":"2","symbol":"A","qty":1}}""",
            """{"service":"add_order","ref":"n3","msgid":null,"data":{"id":"2","symbol":"A","qty":1}}""",
            """{"service":"add_order","type":"check","ref":"n2","msgid":null}""",
        ], ct);

        Assert.That(replies.Select(r => r.Text), Is.EqualTo(new[]
        {
            """{"type":"result","service":"add_order","ref":"n1","ok":true}""",
            """{"type":"result","service":"add_order","ref":"n2","ok":true}""",
            $$"""{"type":"error","message":"{{StoreErrors.UniqueJson("orders", "id")}}","ref":"n3"}""",
            """{"type":"result","service":"add_order","ref":"n2","ok":true}""",
        }));
    }

    /// <summary>Item 64's last clause: the msgid of a transaction is echoed on its result but never on the updates it causes.</summary>
    [Test, CancelAfter(30_000)]
    public async Task MsgId_OnTransaction_NeverOnTheResultingUpdates(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        await sub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await ws.SendAsync("""{"service":"add_order","ref":"u1","msgid":7,"data":{"id":"1","symbol":"A","qty":1}}""", cancellationToken: ct);
        var result = await ws.ReceiveRawAsync(ct);
        var updates = new[] { (await sub.ReceiveRawAsync(ct)).Text, (await sub.ReceiveRawAsync(ct)).Text };
        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"u1","msgid":7,"ok":true}"""));
            Assert.That(updates, Has.All.StartsWith("""{"type":"update","service":""").And.All.Contains("\"ref\":\"u1\""));
            Assert.That(updates, Has.None.Contains("msgid"));
        }
    }
}
