using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>CONFORMANCE items 45–48, 51, 52 and 65 (PROTOCOL.md §3.5, §6.2, §6.5).</summary>
[Parallelizable(ParallelScope.Children)]
public class TransactionResultTests
{
    [Test, CancelAfter(30_000)]
    public async Task Insert_WithClientRef_ExactResultAndRowStampedWithRef(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"add_order","ref":"ref1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            // 45 + 46: exactly type, service, ref, ok — no rows, no generated values.
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"ref1","ok":true}"""));
            Assert.That(
                TxTest.Query(host, "SELECT id, symbol, qty, price, typeof(price), status, _mkio_ref FROM orders"),
                Is.EqualTo(new[] { new object?[] { "1", "AAPL", 100L, 0.0, "real", "pending", "ref1" } }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Insert_WithoutRef_GeneratedRefInResultAndRow(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var first = await ws.RequestAsync("""{"service":"add_order","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        var second = await ws.RequestAsync("""{"service":"add_order","ref":null,"data":{"id":"2","symbol":"AAPL","qty":100}}""", ct);

        var ref1 = TxTest.Ref(first);
        var ref2 = TxTest.Ref(second);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ref1, Does.Match(TxTest.RefFormat()));
            Assert.That(ref2, Does.Match(TxTest.RefFormat()));
            Assert.That(string.CompareOrdinal(ref2, ref1), Is.Positive);
            Assert.That(first.GetRawText(), Is.EqualTo($$"""{"type":"result","service":"add_order","ref":"{{ref1}}","ok":true}"""));
            Assert.That(second.GetRawText(), Is.EqualTo($$"""{"type":"result","service":"add_order","ref":"{{ref2}}","ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT id, _mkio_ref FROM orders ORDER BY id"), Is.EqualTo(new[] { new object[] { "1", ref1 }, new object[] { "2", ref2 } }));
        }
    }

    [TestCase("ref1")]
    [TestCase("r2")]
    [TestCase("20260404 15:30:45.123")]
    [TestCase("not a ref at all — Ünï")]
    [CancelAfter(30_000)]
    public async Task Insert_ClientRef_StoredVerbatim(string clientRef, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var data = System.Text.Json.JsonSerializer.Serialize(clientRef);
        var reply = await ws.RequestAsync($$$"""{"service":"add_order","ref":{{{data}}},"data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(TxTest.Ref(reply), Is.EqualTo(clientRef));
            Assert.That(TxTest.Scalar(host, "SELECT _mkio_ref FROM orders WHERE id = '1'"), Is.EqualTo(clientRef));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Insert_EmptyRef_SuccessCarriesGeneratedRefErrorCarriesEmptyRef(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","ref":"","data":{"id":"1","symbol":"AAPL","qty":100}}""",
            """{"service":"add_order","ref":"","data":{"id":"1","symbol":"AAPL","qty":100}}""",
            """{"service":"add_order","ref":"","msgid":"m","data":{"id":"2"}}""",
            """{"service":"add_order","ref":"","op":"x"}""",
        ], ct);

        var generated = TxTest.Ref(replies[0].Json);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(generated, Does.Match(TxTest.RefFormat()));
            Assert.That(replies[0].Text, Is.EqualTo($$"""{"type":"result","service":"add_order","ref":"{{generated}}","ok":true}"""));
            Assert.That(replies[1].Text, Is.EqualTo($$"""{"type":"error","message":"{{StoreErrors.UniqueJson("orders", "id")}}","ref":""}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'symbol'","ref":"","msgid":"m"}"""));
            Assert.That(replies[3].Text, Is.EqualTo("""{"type":"error","message":"Unknown op: 'x'","ref":""}"""));
            Assert.That(TxTest.Query(host, "SELECT id, _mkio_ref FROM orders"), Is.EqualTo(new[] { new object[] { "1", generated } }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task UpdateThenDelete_OfInsertedRow_BothOk(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var insert = await ws.RequestAsync("""{"service":"add_order","ref":"i","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        var update = await ws.RequestAsync("""{"service":"update_order","ref":"u","data":{"id":"1","qty":50}}""", ct);
        var afterUpdate = TxTest.Query(host, "SELECT id, symbol, qty, _mkio_ref FROM orders");
        var delete = await ws.RequestAsync("""{"service":"delete_order","ref":"d","data":{"id":"1"}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(insert.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"i","ok":true}"""));
            Assert.That(update.GetRawText(), Is.EqualTo("""{"type":"result","service":"update_order","ref":"u","ok":true}"""));
            Assert.That(delete.GetRawText(), Is.EqualTo("""{"type":"result","service":"delete_order","ref":"d","ok":true}"""));
            Assert.That(afterUpdate, Is.EqualTo(new[] { new object[] { "1", "AAPL", 50L, "u" } }));
            Assert.That(TxTest.Count(host, "orders"), Is.Zero);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task UpdateAndDelete_KeyMatchesNoRow_OkAndNothingChanged(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","ref":"i","data":{"id":"1","symbol":"AAPL","qty":100}}""",
            """{"service":"update_order","ref":"u","data":{"id":"nonexist","qty":5}}""",
            """{"service":"delete_order","ref":"d","data":{"id":"nonexist"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"update_order","ref":"u","ok":true}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"result","service":"delete_order","ref":"d","ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT id, qty, _mkio_ref FROM orders"), Is.EqualTo(new[] { new object[] { "1", 100L, "i" } }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Insert_DataCarriesMkioRef_ClientCannotSetIt(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"add_order","ref":"real","data":{"id":"1","symbol":"A","qty":1,"_mkio_ref":"forged","status":"ignored"}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"real","ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT status, _mkio_ref FROM orders"), Is.EqualTo(new[] { new object[] { "pending", "real" } }), "keys of data that are not parameters are ignored");
        }
    }
}
