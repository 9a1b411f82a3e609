using Mkio.AspNetCore.Tests.Transactions;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Dispatch;

/// <summary>CONFORMANCE items 38–39 (PROTOCOL.md §1.6, §5 step 2): the per-service endpoint <c>/ws/{service}</c>.</summary>
[Parallelizable(ParallelScope.Children)]
public class ServiceEndpointTests
{
    [Test, CancelAfter(30_000)]
    public async Task PerServiceEndpoint_MessageWithoutService_ExecutedAgainstUrlService(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws/add_order", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"ref":"u1","data":{"id":"1","symbol":"AAPL","qty":100}}""",
            """{"type":"check","ref":"u1","msgid":"c"}""",
            """{"data":{"id":"1","symbol":"AAPL","qty":100},"ref":"u2"}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"u1","ok":true}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"u1","msgid":"c","ok":true}"""));
            Assert.That(replies[2].Text, Is.EqualTo($$"""{"type":"error","message":"{{StoreErrors.UniqueJson("orders", "id")}}","ref":"u2"}"""));
            Assert.That(TxTest.Query(host, "SELECT id, symbol, qty, _mkio_ref FROM orders"), Is.EqualTo(new[] { new object[] { "1", "AAPL", 100L, "u1" } }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task PerServiceEndpoint_BodyNamesOtherService_UrlWins(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws/add_order", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"delete_order","ref":"w1","data":{"id":"1","symbol":"AAPL","qty":5}}""",
            """{"service":"nosuch","ref":"w2","data":{"id":"2","symbol":"MSFT","qty":6}}""",
            """{"service":["x"],"ref":"w3","data":{"id":"3","symbol":"IBM","qty":7}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"w1","ok":true}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"w2","ok":true}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"w3","ok":true}"""));
            Assert.That(TxTest.Column(host, "SELECT id FROM orders ORDER BY id"), Is.EqualTo(new object[] { "1", "2", "3" }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task PerServiceEndpoint_UnknownUrlService_EveryMessageGetsUnknownService(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws/nosuch", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","ref":"n1","data":{"id":"1","symbol":"AAPL","qty":100}}""",
            """{"ref":"n2","msgid":2,"data":{"id":"2","symbol":"AAPL","qty":100}}""",
            """{"type":"check","ref":"n1"}""",
            """{"service":"add_order","type":"subscribe"}""",
            """{"type":"unsubscribe"}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Unknown service: nosuch","ref":"n1"}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"error","message":"Unknown service: nosuch","ref":"n2","msgid":2}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"error","message":"Unknown service: nosuch","ref":"n1"}"""));
            Assert.That(replies[3].Text, Is.EqualTo("""{"type":"error","message":"Unknown service: nosuch"}"""));
            Assert.That(replies[4].Text, Is.EqualTo("""{"type":"error","message":"Unknown service: nosuch"}"""));
            Assert.That(TxTest.Count(host, "orders"), Is.Zero);
        }
    }
}
