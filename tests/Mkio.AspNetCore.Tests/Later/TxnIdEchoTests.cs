using Mkio.TestUtilities;
using System.Text.Json;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>
/// Later clients send <c>txnid</c> where 0.1.0 clients send <c>msgid</c>: every reply to a transaction or check echoes
/// each of them under its own name (never one translated into the other), results and errors alike.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class TxnIdEchoTests
{
    [Test, CancelAfter(60_000)]
    public async Task Transaction_WithTxnId_ResultAndErrorEchoIt_MsgIdStaysMsgId(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            var ok = await ws.AskAsync("""{"service":"add_item","ref":"r1","txnid":"t-1","data":{"id":"x1","name":"one","price":1.5,"qty":1}}""", ct);
            var failed = JsonDocument.Parse(await ws.AskAsync("""{"service":"add_item","ref":"r2","txnid":7,"data":{"id":"x1","name":"again","price":1.5,"qty":1}}""", ct)).RootElement;
            var both = await ws.AskAsync("""{"service":"add_item","ref":"r3","msgid":"m-3","txnid":"t-3","data":{"id":"x3","name":"three","price":1.5,"qty":1}}""", ct);
            var old = await ws.AskAsync("""{"service":"add_item","ref":"r4","msgid":"m-4","data":{"id":"x4","name":"four","price":1.5,"qty":1}}""", ct);
            var check = await ws.AskAsync("""{"type":"check","service":"add_item","ref":"r1","txnid":"t-5"}""", ct);
            var nulled = await ws.AskAsync("""{"service":"add_item","ref":"r6","txnid":null,"data":{"id":"x6","name":"six","price":1.5,"qty":1}}""", ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(ok, Is.EqualTo("""{"type":"result","service":"add_item","ref":"r1","txnid":"t-1","ok":true}"""));
                Assert.That(failed.GetProperty("type").GetString(), Is.EqualTo("error"));
                Assert.That(failed.GetProperty("ref").GetString(), Is.EqualTo("r2"));
                Assert.That(failed.GetProperty("txnid").GetInt32(), Is.EqualTo(7), "a number is echoed as the number");
                Assert.That(failed.TryGetProperty("msgid", out _), Is.False);
                Assert.That(both, Is.EqualTo("""{"type":"result","service":"add_item","ref":"r3","msgid":"m-3","txnid":"t-3","ok":true}"""));
                Assert.That(old, Is.EqualTo("""{"type":"result","service":"add_item","ref":"r4","msgid":"m-4","ok":true}"""), "0.1.0 replies unchanged");
                Assert.That(check, Is.EqualTo("""{"type":"result","service":"add_item","ref":"r1","txnid":"t-5","ok":true}"""));
                Assert.That(nulled, Is.EqualTo("""{"type":"result","service":"add_item","ref":"r6","ok":true}"""), "a null txnid is not echoed");
            }
        }
    }
}
