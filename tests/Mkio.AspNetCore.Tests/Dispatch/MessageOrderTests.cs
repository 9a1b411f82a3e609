using System.Text.Json;
using Mkio.AspNetCore.Tests.Transactions;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Dispatch;

/// <summary>CONFORMANCE items 41–42 (PROTOCOL.md §5 step 7, §10).</summary>
[Parallelizable(ParallelScope.Children)]
public class MessageOrderTests
{
    [TestCase("bogus")]
    [TestCase("transaction")]
    [TestCase("")]
    [TestCase("Subscribe")]
    [TestCase("CHECK")]
    [CancelAfter(30_000)]
    public async Task Dispatch_NonControlType_ExecutedAsTransaction(string type, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync($$$"""{"service":"add_order","type":"{{{type}}}","ref":"t41","data":{"id":"1","symbol":"A","qty":1}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"t41","ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT id, _mkio_ref FROM orders"), Is.EqualTo(new[] { new object[] { "1", "t41" } }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Dispatch_NonStringType_ExecutedAsTransaction(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","type":5,"ref":"n1","data":{"id":"1","symbol":"A","qty":1}}""",
            """{"service":"add_order","type":null,"ref":"n2","data":{"id":"2","symbol":"A","qty":1}}""",
            """{"service":"add_order","type":["subscribe"],"ref":"n3","data":{"id":"3","symbol":"A","qty":1}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Text), Is.EqualTo(new[]
            {
                """{"type":"result","service":"add_order","ref":"n1","ok":true}""",
                """{"type":"result","service":"add_order","ref":"n2","ok":true}""",
                """{"type":"result","service":"add_order","ref":"n3","ok":true}""",
            }));
            Assert.That(TxTest.Count(host, "orders"), Is.EqualTo(3));
        }
    }

    /// <summary>
    /// Item 42: N ref-less transactions sent back to back (all sent before any reply is read) get N
    /// replies in request order. Every 7th request reuses an earlier id and must fail in its place.
    /// </summary>
    [Test, CancelAfter(60_000)]
    public async Task Dispatch_PipelinedRefLessTransactions_RepliesInRequestOrder(CancellationToken ct)
    {
        const int n = 60;
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            TxTest.FixtureAOnFile(o);
            o.BatchMaxWaitMs = 3;
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        static bool Fails(int i) => i % 7 == 6;
        var messages = Enumerable.Range(0, n)
            .Select(i => $$$"""{"service":"add_order","msgid":{{{i}}},"data":{"id":"{{{(Fails(i) ? i - 1 : i)}}}","symbol":"S","qty":{{{i}}}}}""")
            .ToList();
        var replies = await TxTest.PipelineAsync(ws, messages, ct);

        var stored = TxTest.Query(host, "SELECT id, _mkio_ref FROM orders").ToDictionary(r => (string)r[0]!, r => (string)r[1]!);
        using (Assert.EnterMultipleScope())
        {
            for (var i = 0; i < n; i++)
            {
                var r = replies[i].Json;
                Assert.That(r.GetProperty("msgid").GetInt32(), Is.EqualTo(i), replies[i].Text);
                var @ref = TxTest.Ref(r);
                Assert.That(@ref, Does.Match(TxTest.RefFormat()));
                if (Fails(i))
                {
                    Assert.That(replies[i].Text, Is.EqualTo($$$"""{"type":"error","message":"{{{StoreErrors.UniqueJson("orders", "id")}}}","ref":"{{{@ref}}}","msgid":{{{i}}}}"""));
                }
                else
                {
                    Assert.That(replies[i].Text, Is.EqualTo($$$"""{"type":"result","service":"add_order","ref":"{{{@ref}}}","msgid":{{{i}}},"ok":true}"""));
                    Assert.That(stored[i.ToString(System.Globalization.CultureInfo.InvariantCulture)], Is.EqualTo(@ref), "row stamped with the ref of its own reply");
                }

                if (i > 0)
                {
                    Assert.That(string.CompareOrdinal(@ref, TxTest.Ref(replies[i - 1].Json)), Is.Positive, "refs are generated in commit order");
                }
            }

            Assert.That(stored, Has.Count.EqualTo(Enumerable.Range(0, n).Count(i => !Fails(i))));
        }
    }
}
