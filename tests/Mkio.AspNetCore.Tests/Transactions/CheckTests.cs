using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>CONFORMANCE items 66–68 and the check part of 152 (PROTOCOL.md §6.6, §10; SERVICES.md §5.8).</summary>
[Parallelizable(ParallelScope.Children)]
public class CheckTests
{
    [Test, CancelAfter(30_000)]
    public async Task Check_CommittedRef_ResultOk(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var tx = await ws.RequestAsync("""{"service":"add_order","ref":"c66","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        var generated = await ws.RequestAsync("""{"service":"add_order","data":{"id":"2","symbol":"A","qty":1}}""", ct);
        var genRef = TxTest.Ref(generated);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","type":"check","ref":"c66"}""",
            """{"service":"add_order","type":"check","ref":"c66","msgid":"k1","data":{"ignored":true}}""",
            $$"""{"service":"add_order","type":"check","ref":"{{genRef}}"}""",
        ], ct);
        await using var other = await host.ConnectAsync("ws/add_order", ct);
        var fromOtherSocket = await other.RequestAsync("""{"type":"check","ref":"c66","msgid":3}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(tx.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"c66","ok":true}"""));
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"c66","ok":true}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"c66","msgid":"k1","ok":true}"""));
            Assert.That(replies[2].Text, Is.EqualTo($$"""{"type":"result","service":"add_order","ref":"{{genRef}}","ok":true}"""));
            Assert.That(fromOtherSocket.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"c66","msgid":3,"ok":true}"""));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Check_UnknownFailedOrOtherServiceRef_StatusUnknownOkTrue(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","ref":"ok1","data":{"id":"1","symbol":"A","qty":1}}""",
            """{"service":"add_order","ref":"bad1","data":{"id":"1","symbol":"A","qty":1}}""",
            """{"service":"add_order","type":"check","ref":"19700101 00:00:00.000000000000"}""",
            """{"service":"add_order","type":"check","ref":"nope","msgid":"c1"}""",
            """{"service":"add_order","type":"check","ref":"bad1"}""",
            """{"service":"update_order","type":"check","ref":"ok1"}""",
            """{"service":"add_order","type":"check"}""",
            """{"service":"add_order","type":"check","ref":null,"msgid":7}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[1].Text, Is.EqualTo($$"""{"type":"error","message":"{{StoreErrors.UniqueJson("orders", "id")}}","ref":"bad1"}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"19700101 00:00:00.000000000000","status":"unknown","ok":true}"""));
            Assert.That(replies[3].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"nope","msgid":"c1","status":"unknown","ok":true}"""));
            Assert.That(replies[4].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"bad1","status":"unknown","ok":true}"""), "failed transactions are not cached");
            Assert.That(replies[5].Text, Is.EqualTo("""{"type":"result","service":"update_order","ref":"ok1","status":"unknown","ok":true}"""), "each service has its own cache");
            Assert.That(replies[6].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"","status":"unknown","ok":true}"""));
            Assert.That(replies[7].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"","msgid":7,"status":"unknown","ok":true}"""));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Check_MoreResultsThanChangeLogSize_OldestEvicted(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.ChangeLogSize = 2; // the global key does not apply to transaction services
            o.Transaction("small", tx => tx.Insert("orders", ["id", "symbol"]).ChangeLogSize(3));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var messages = new List<string>();
        for (var i = 1; i <= 4; i++)
        {
            messages.Add($$$"""{"service":"small","ref":"s{{{i}}}","data":{"id":"s{{{i}}}","symbol":"A"}}""");
            messages.Add($$$"""{"service":"add_order","ref":"a{{{i}}}","data":{"id":"a{{{i}}}","symbol":"A"}}""");
        }

        for (var i = 1; i <= 4; i++)
        {
            messages.Add($$"""{"service":"small","type":"check","ref":"s{{i}}"}""");
            messages.Add($$"""{"service":"add_order","type":"check","ref":"a{{i}}"}""");
        }

        var replies = await TxTest.PipelineAsync(ws, messages, ct);
        var checks = replies.Skip(8).Select(r => r.Json.TryGetProperty("status", out _) ? $"{TxTest.Ref(r.Json)}:unknown" : $"{TxTest.Ref(r.Json)}:ok");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Take(8).Select(r => r.Json.GetProperty("type").GetString()), Is.All.EqualTo("result"));
            Assert.That(checks, Is.EqualTo(new[] { "s1:unknown", "a1:ok", "s2:ok", "a2:ok", "s3:ok", "a3:ok", "s4:ok", "a4:ok" }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Check_EmptyRefTransaction_CachedUnderEmptyKey(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var tx = await ws.RequestAsync("""{"service":"add_order","ref":"","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        var check = await ws.RequestAsync("""{"service":"add_order","type":"check","ref":""}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(check.GetProperty("type").GetString(), Is.EqualTo("result"));
            Assert.That(check.TryGetProperty("status", out _), Is.False, check.GetRawText());
            Assert.That(TxTest.Ref(tx), Does.Match(TxTest.RefFormat()));
        }
    }

    /// <summary>F17: a check sent right behind a transaction (without waiting) waits for it and finds it.</summary>
    [Test, CancelAfter(30_000)]
    public async Task Check_SentRightAfterTransaction_FindsIt(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        using var messagesIn = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.service.messages");
        await using var ws = await host.ConnectAsync("ws", ct);
        Task<List<TestSocket.Received>> pipeline;

        // The writer is held until the check has arrived: the transaction is still queued when the check is dispatched.
        using (await host.HoldWriterAsync(ct))
        {
            pipeline = TxTest.PipelineAsync(ws,
            [
                """{"service":"add_order","ref":"f1","data":{"id":"1","symbol":"A","qty":1}}""",
                """{"service":"add_order","type":"check","ref":"f1","msgid":"k"}""",
                """{"service":"add_order","ref":"f2","data":{"id":"2","symbol":"A","qty":1}}""",
                """{"service":"add_order","ref":"f3","data":{"id":"2","symbol":"A","qty":1}}""",
                """{"service":"add_order","type":"check","ref":"f3"}""",
                """{"service":"add_order","type":"check","ref":"f2"}""",
            ], ct);
            await host.WaitForQueuedWritesAsync(1, ct);
            await messagesIn.WaitForMeasurementsAsync(2, ct);
        }

        var replies = await pipeline;

        Assert.That(replies.Select(r => r.Text), Is.EqualTo(new[]
        {
            """{"type":"result","service":"add_order","ref":"f1","ok":true}""",
            """{"type":"result","service":"add_order","ref":"f1","msgid":"k","ok":true}""",
            """{"type":"result","service":"add_order","ref":"f2","ok":true}""",
            $$"""{"type":"error","message":"{{StoreErrors.UniqueJson("orders", "id")}}","ref":"f3"}""",
            """{"type":"result","service":"add_order","ref":"f3","status":"unknown","ok":true}""",
            """{"type":"result","service":"add_order","ref":"f2","ok":true}""",
        }));
    }
}
