using System.Text.Json;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>ReqRep services end to end over real Kestrel: every reply form, every error, the read-only connection, row and time bounds.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class ReqRepTests
{
    [TestCase("""{"type":"request","service":"price","reqid":"r1","data":{"item":"a1"}}""", """{"type":"reply","service":"price","reqid":"r1","value":3.0}""")]
    [TestCase("""{"type":"request","service":"price","reqid":"r2","data":{"item":"zz"}}""", """{"type":"reply","service":"price","reqid":"r2","value":null}""")]
    [TestCase("""{"type":"request","service":"price","reqid":"sqli","data":{"item":"a1' OR '1'='1"}}""", """{"type":"reply","service":"price","reqid":"sqli","value":null}""")]
    [TestCase("""{"type":"request","service":"list","reqid":7,"data":{"min":3}}""", """{"type":"reply","service":"list","reqid":7,"rows":[{"id":"A1","qty":10},{"id":"B2","qty":3}]}""")]
    [TestCase("""{"type":"request","service":"priced","reqid":"p"}""", """{"type":"reply","service":"priced","reqid":"p","rows":[{"item":"A1","gross":2.25},{"item":"B2","gross":3.375},{"item":"C3","gross":10.5}]}""")]
    [TestCase("""{"type":"request","service":"tax","data":{"amount":50}}""", """{"type":"reply","service":"tax","value":10.0}""")]
    [TestCase("""{"type":"request","service":"echo","reqid":"","data":{"name":"ann","n":21}}""", """{"type":"reply","service":"echo","reqid":"","row":{"who":"ann","twice":42}}""")]
    [TestCase("""{"service":"tax","reqid":"no-type","data":{"amount":5}}""", """{"type":"reply","service":"tax","reqid":"no-type","value":1.0}""")]
    [TestCase("""{"type":"check","service":"tax","reqid":"chk","data":{"amount":1}}""", """{"type":"reply","service":"tax","reqid":"chk","value":0.2}""")]
    [TestCase("""{"type":"request","service":"list","reqid":"m","data":{}}""", """{"type":"error","message":"You did not supply a value for binding parameter :min.","reqid":"m"}""")]
    [TestCase("""{"type":"request","service":"tax","reqid":"e","data":{}}""", """{"type":"error","message":"Unknown field: amount","reqid":"e"}""")]
    [TestCase("""{"type":"request","service":"tax","reqid":"d","data":[1]}""", """{"type":"error","message":"'data' must be a JSON object","reqid":"d"}""")]
    [TestCase("""{"type":"request","service":"add_item","ref":"x","reqid":"q","txnid":"t"}""", """{"type":"error","message":"Service 'add_item' uses protocol 'transaction', not 'reqrep'","ref":"x","reqid":"q"}""")]
    [TestCase("""{"type":"subscribe","service":"price","protocol":"reqrep","subid":"s","ref":"r"}""", """{"type":"nack","service":"price","message":"reqrep does not support subscriptions \u2014 use type 'request'","ref":"r","subid":"s"}""")]
    [TestCase("""{"type":"subscribe","service":"price","protocol":"query","txnid":"t1"}""", """{"type":"nack","service":"price","message":"Protocol mismatch: service 'price' is 'reqrep', not 'query'","txnid":"t1"}""")]
    [TestCase("""{"type":"subscribe","service":"items","protocol":"stream","subid":"x"}""", """{"type":"nack","service":"items","message":"Protocol mismatch: service 'items' is 'query', not 'stream'","subid":"x"}""")]
    [TestCase("""{"type":"request","service":"nope","reqid":"u","txnid":"t"}""", """{"type":"nack","service":"nope","message":"Unknown service: 'nope'. Available services: add_item, echo, items, list, price, priced, prices, spin, tax, wipe","txnid":"t"}""")]
    [TestCase("""{"service":"nope","ref":"r"}""", """{"type":"error","message":"Unknown service: nope","ref":"r"}""")]
    [CancelAfter(60_000)]
    public async Task Request_ExactWireText(string request, string expected, CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync(request, ct), Is.EqualTo(expected));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Request_WritingSql_RefusedOnTheReadOnlyConnectionAndTableUnchanged(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            var error = await ws.AskAsync("""{"type":"request","service":"wipe","reqid":"w"}""", ct);
            var after = await ws.AskAsync("""{"type":"request","service":"list","reqid":"l","data":{"min":0}}""", ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(error, Is.EqualTo("""{"type":"error","message":"attempt to write a readonly database","reqid":"w"}"""));
                Assert.That(JsonDocument.Parse(after).RootElement.GetProperty("rows").GetArrayLength(), Is.EqualTo(3));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Request_OverTheTimeLimit_InterruptedAndTheReaderStaysUsable(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, configure: o => o.ReqRepTimeoutMs = 200);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);

            // More requests than pooled readers: each interrupted reader must serve normal requests again.
            var replies = new List<string>();
            for (var i = 0; i < 5; i++)
            {
                replies.Add(await ws.AskAsync("""{"type":"request","service":"spin","reqid":"s"}""", ct));
                replies.Add(await ws.AskAsync("""{"type":"request","service":"price","reqid":"p","data":{"item":"b2"}}""", ct));
            }

            using (Assert.EnterMultipleScope())
            {
                Assert.That(replies.Where((_, i) => i % 2 == 0), Has.All.EqualTo("""{"type":"error","message":"Service 'spin': the query was interrupted after 200 ms (ReqRepTimeoutMs)","reqid":"s"}"""));
                Assert.That(replies.Where((_, i) => i % 2 == 1), Has.All.EqualTo("""{"type":"reply","service":"price","reqid":"p","value":4.5}"""));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Request_MoreRowsThanTheLimit_Error(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, configure: o => o.ReqRepMaxRows = 2);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(
                    await ws.AskAsync("""{"type":"request","service":"list","reqid":"l","data":{"min":0}}""", ct),
                    Is.EqualTo("""{"type":"error","message":"Service 'list': the result has more than 2 rows (ReqRepMaxRows)","reqid":"l"}"""));
                Assert.That(
                    await ws.AskAsync("""{"type":"request","service":"list","reqid":"l","data":{"min":4}}""", ct),
                    Is.EqualTo("""{"type":"reply","service":"list","reqid":"l","rows":[{"id":"A1","qty":10}]}"""));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Requests_Pipelined_RepliesInRequestOrderAndSeeEarlierTransactions(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            await ws.SendAsync("""{"service":"add_item","ref":"t1","data":{"id":"D4","name":"dates","price":3.0,"qty":50}}""", cancellationToken: ct);
            for (var i = 0; i < 20; i++)
            {
                await ws.SendAsync($$$"""{"type":"request","service":"price","reqid":{{{i}}},"data":{"item":"d4"}}""", cancellationToken: ct);
            }

            var first = (await ws.ReceiveRawAsync(ct)).Text;
            var reqids = new List<int>();
            for (var i = 0; i < 20; i++)
            {
                var reply = await ws.ReceiveAsync(ct);
                Assert.That(reply.GetProperty("value").GetDouble(), Is.EqualTo(6.0));
                reqids.Add(reply.GetProperty("reqid").GetInt32());
            }

            using (Assert.EnterMultipleScope())
            {
                Assert.That(first, Is.EqualTo("""{"type":"result","service":"add_item","ref":"t1","ok":true}"""));
                Assert.That(reqids, Is.EqualTo(Enumerable.Range(0, 20)));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Monitor_SeesRequestInAndReplyOut(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var monitor = await host.ConnectAsync("ws", ct);
            Assert.That(await monitor.AskAsync("""{"type":"monitor","service":"tax"}""", ct), Is.EqualTo("""{"type":"monitor_ack","service":"tax"}"""));
            await using var ws = await host.ConnectAsync("ws", ct);
            await ws.AskAsync("""{"type":"request","service":"tax","reqid":"m","data":{"amount":10}}""", ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That((await monitor.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"direction":"in","service":"tax","message":{"type":"request","service":"tax","reqid":"m","data":{"amount":10}}}"""));
                Assert.That((await monitor.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"direction":"out","service":"tax","message":{"type":"reply","service":"tax","reqid":"m","value":2.0}}"""));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task LaterAndZeroOneZeroClients_OnOneServerAtOnce_EachGetsItsOwnShapes(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var old = await host.ConnectAsync("ws", ct);
            await using var later = await host.ConnectAsync("ws", ct);
            var snapshot = await old.AskAsync("""{"type":"subscribe","service":"items"}""", ct);
            // The update may arrive before or after the transaction's result.
            var pair = new[] { await old.AskAsync("""{"service":"add_item","ref":"t9","msgid":5,"data":{"id":"E5","name":"eggs","price":0.5}}""", ct), (await old.ReceiveRawAsync(ct)).Text };
            var result = pair.Single(f => f.StartsWith("""{"type":"result""", StringComparison.Ordinal));
            var update = pair.Single(f => f.StartsWith("""{"type":"update""", StringComparison.Ordinal));
            var reply = await later.AskAsync("""{"type":"request","service":"list","reqid":"n","data":{"min":0}}""", ct);
            var unknown = await old.AskAsync("""{"service":"_mkio","ref":"u"}""", ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(JsonDocument.Parse(snapshot).RootElement.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "type", "service", "ref", "rows" }));
                Assert.That(result, Is.EqualTo("""{"type":"result","service":"add_item","ref":"t9","msgid":5,"ok":true}"""));
                Assert.That(update, Is.EqualTo("""{"type":"update","service":"items","ref":"t9","op":"insert","row":{"id":"E5","name":"eggs","price":0.5,"qty":0,"_mkio_ref":"t9"}}"""));
                Assert.That(JsonDocument.Parse(reply).RootElement.GetProperty("rows").GetArrayLength(), Is.EqualTo(4));
                Assert.That(unknown, Is.EqualTo("""{"type":"error","message":"Unknown service: _mkio","ref":"u"}"""));
            }
        }
    }
}

/// <summary>Monitoring every service: only with the later-protocol option; 0.1.0 monitor errors otherwise.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class MonitorAllTests
{
    [Test, CancelAfter(60_000)]
    public async Task MonitorWithoutService_WithOption_TapsEveryServiceIncludingIdentity(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, configure: o => o.LaterProtocol = true);
        await using (host)
        using (dir)
        {
            await using var monitor = await host.ConnectAsync("ws", ct);
            var ack = await monitor.AskAsync("""{"type":"monitor","ref":"m1"}""", ct);
            var unknown = await monitor.AskAsync("""{"type":"monitor","service":"nope","txnid":"t","ref":"r"}""", ct);
            var unknownOld = await monitor.AskAsync("""{"type":"monitor","service":"nope"}""", ct);
            await using var ws = await host.ConnectAsync("ws", ct);
            await ws.AskAsync("""{"type":"request","service":"_mkio","reqid":"i","data":{"table":"nope"}}""", ct);
            await ws.AskAsync("""{"service":"add_item","ref":"a1","data":{"id":"Q","name":"q"}}""", ct);
            var seen = new List<string>();
            for (var i = 0; i < 4; i++)
            {
                seen.Add((await monitor.ReceiveRawAsync(ct)).Text);
            }

            using (Assert.EnterMultipleScope())
            {
                Assert.That(ack, Is.EqualTo("""{"type":"monitor_ack","ref":"m1"}"""));
                Assert.That(unknown, Is.EqualTo("""{"type":"error","message":"Unknown service: 'nope'. Available services: add_item, echo, items, list, price, priced, prices, spin, tax, wipe","ref":"r","txnid":"t"}"""));
                Assert.That(unknownOld, Is.EqualTo("""{"type":"error","message":"Unknown service: nope"}"""));
                Assert.That(seen[0], Does.StartWith("""{"direction":"in","service":"_mkio","""));
                Assert.That(seen[1], Is.EqualTo("""{"direction":"out","service":"_mkio","message":{"type":"error","message":"Unknown table: 'nope' (available: items)","reqid":"i","service":"_mkio"}}"""));
                Assert.That(seen[2], Does.StartWith("""{"direction":"in","service":"add_item","""));
                Assert.That(seen[3], Is.EqualTo("""{"direction":"out","service":"add_item","message":{"type":"result","service":"add_item","ref":"a1","ok":true}}"""));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task MonitorWithoutService_WithoutOption_ZeroOneZeroError(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var monitor = await host.ConnectAsync("ws", ct);
            Assert.That(await monitor.AskAsync("""{"type":"monitor","ref":"m1"}""", ct), Is.EqualTo("""{"type":"error","message":"Missing 'service' field","ref":"m1"}"""));
        }
    }
}
