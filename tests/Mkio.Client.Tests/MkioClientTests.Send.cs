using System.Text.Json;
using System.Text.Json.Nodes;
using Mkio.Client.Tests.Support;
using Mkio.TestUtilities;
using static Mkio.Client.Tests.Support.ClientTest;

namespace Mkio.Client.Tests;

/// <summary>Transactions and checks against a real mkio server (PROTOCOL.md §6, CLIENTS.md §5).</summary>
public partial class MkioClientTests
{
    [Test, CancelAfter(30_000)]
    public async Task SendAsync_Transaction_ReturnsResultWithServerRef(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);

        var first = await client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        var second = await client.SendAsync("add_order", Order("2"), cancellationToken: ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.Service, Is.EqualTo("add_order"));
            Assert.That(MkioRef.IsWellFormed(first.Ref), Is.True, first.Ref);
            Assert.That(MkioRef.Compare(second.Ref, first.Ref), Is.EqualTo(1), "server refs follow commit order");
            Assert.That(first.MsgId, Is.Null);
            Assert.That(first.IsKnown, Is.True);
            Assert.That(first.Reply.GetProperty("ok").GetBoolean(), Is.True);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SendAsync_ServerError_ThrowsMkioServerExceptionWithServerMessageAndRef(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);
        await client.SendAsync("add_order", Order("1"), cancellationToken: ct);

        var duplicate = Assert.ThrowsAsync<MkioServerException>(() => client.SendAsync("add_order", Order("1"), msgId: "m-dup", cancellationToken: ct));
        var missing = Assert.ThrowsAsync<MkioServerException>(() => client.SendAsync("add_order", new JsonObject { ["id"] = "2" }, @ref: "my-ref", cancellationToken: ct));
        var unknown = Assert.ThrowsAsync<MkioServerException>(() => client.SendAsync("nope", Order("3"), cancellationToken: ct));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(duplicate!.Message, Is.EqualTo("UNIQUE constraint failed: orders.id"));
            Assert.That(MkioRef.IsWellFormed(duplicate.Ref), Is.True, duplicate.Ref);
            Assert.That(duplicate.MsgId?.GetString(), Is.EqualTo("m-dup"));
            Assert.That(duplicate.Service, Is.EqualTo("add_order"));
            Assert.That(missing!.Message, Is.EqualTo("Missing field: 'symbol'"));
            Assert.That(missing.Ref, Is.EqualTo("my-ref"));
            Assert.That(unknown!.Message, Is.EqualTo("Unknown service: nope"));
            Assert.That(unknown.Ref, Is.Null);
        }

        // Errors never break correlation: the next request gets its own reply.
        var ok = await client.SendAsync("add_order", Order("4"), msgId: "after", cancellationToken: ct);
        Assert.That(ok.MsgId?.GetString(), Is.EqualTo("after"));
    }

    [Test, CancelAfter(30_000)]
    public async Task SendAsync_MsgId_IsEchoedWhateverItsJsonType(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);

        var text = await client.SendAsync("add_order", Order("1"), msgId: "req-42", cancellationToken: ct);
        var number = await client.SendAsync("add_order", Order("2"), msgId: 7, cancellationToken: ct);
        var obj = await client.SendAsync("add_order", Order("3"), msgId: new JsonObject { ["n"] = 1 }, cancellationToken: ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(text.MsgId?.GetString(), Is.EqualTo("req-42"));
            Assert.That(number.MsgId?.GetInt32(), Is.EqualTo(7));
            Assert.That(obj.MsgId?.GetRawText(), Is.EqualTo("""{"n":1}"""));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SendAsync_ExplicitOrClientRefs_RefIsUsedAndCorrelatedByRef(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Fast(clientRefs: true));

        var explicitRef = await client.SendAsync("add_order", Order("1"), @ref: "ref1", cancellationToken: ct);
        var generated = await Task.WhenAll(Enumerable.Range(2, 20).Select(i => client.SendAsync("add_order", Order($"{i}"), msgId: i, cancellationToken: ct)));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(explicitRef.Ref, Is.EqualTo("ref1"));
            Assert.That(generated.Select(r => MkioRef.IsWellFormed(r.Ref)), Is.All.True);
            Assert.That(generated.Select(r => r.Ref).Distinct().Count(), Is.EqualTo(20));
            Assert.That(generated.Select(r => r.MsgId!.Value.GetInt32()), Is.EqualTo(Enumerable.Range(2, 20)));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task SendAsync_ManyConcurrentRefless_EachGetsItsOwnReplyInFifoOrder(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);
        for (var k = 0; k < 10; k++)
        {
            await client.SendAsync("add_order", Order($"x{k}"), cancellationToken: ct);
        }

        // Every 10th request collides with an existing row: errors are interleaved with results.
        const int n = 300;
        var tasks = Enumerable.Range(0, n)
            .Select(i => Task.Run(async () =>
            {
                var id = i % 10 == 0 ? $"x{i / 10 % 10}" : $"o{i}";
                try
                {
                    var r = await client.SendAsync("add_order", Order(id), msgId: i, cancellationToken: ct);
                    return (i, ok: true, msgid: r.MsgId!.Value.GetInt32(), Ref: r.Ref);
                }
                catch (MkioServerException ex)
                {
                    return (i, ok: false, msgid: ex.MsgId!.Value.GetInt32(), Ref: ex.Ref!);
                }
            }, ct))
            .ToArray();
        var replies = await Task.WhenAll(tasks);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Where(r => r.msgid != r.i), Is.Empty, "a reply was handed to another request");
            Assert.That(replies.Where(r => r.ok == (r.i % 10 == 0)), Is.Empty, "errors go to exactly the colliding requests");
            Assert.That(replies.Select(r => r.Ref).Distinct().Count(), Is.EqualTo(n));
        }

        // The refs the client reported are the ones stamped on the rows.
        await using var sub = client.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        var snapshot = await sub.NextAsync();
        var stamped = snapshot.Rows.EnumerateArray().ToDictionary(Id, r => r.GetProperty("_mkio_ref").GetString());
        Assert.That(replies.Where(r => r.ok).Where(r => stamped[$"o{r.i}"] != r.Ref), Is.Empty);
    }

    [Test, CancelAfter(30_000)]
    public async Task SendAsync_DataOverloads_AllWriteTheSameTransaction(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);

        await client.SendAsync("add_order", Order("json-object", "A", 1), cancellationToken: ct);
        using (var doc = JsonDocument.Parse("""{"id":"json-element","symbol":"B","qty":2}"""))
        {
            await client.SendAsync("add_order", doc.RootElement, cancellationToken: ct);
        }

        await client.SendAsync("add_order", new NewOrder("typed", "C", 3), ClientTestJson.Default.NewOrder, cancellationToken: ct);
        await client.SendAsync("add_order", new { id = "anonymous", symbol = "D", qty = 4 }, cancellationToken: ct);
        await client.SendAsync("add_order", new Dictionary<string, object> { ["id"] = "dictionary", ["symbol"] = "E", ["qty"] = 5 }, cancellationToken: ct);

        await using var sub = client.SubscribeAsync("all_orders", ClientTestJson.Default.OrderRow, cancellationToken: ct).GetAsyncEnumerator(ct);
        var snapshot = await sub.NextAsync();
        Assert.That(snapshot.Rows.Select(r => (r.Id, r.Symbol, r.Qty)).OrderBy(r => r.Qty), Is.EqualTo(new (string, string, long?)[]
        {
            ("json-object", "A", 1), ("json-element", "B", 2), ("typed", "C", 3), ("anonymous", "D", 4), ("dictionary", "E", 5),
        }));
    }

    [Test, CancelAfter(30_000)]
    public async Task SendAsync_BadArguments_ThrowArgumentExceptions(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);
        using var array = JsonDocument.Parse("[1,2]");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => client.SendAsync("add_order", array.RootElement, cancellationToken: ct), Throws.ArgumentException.With.Message.Contains("JSON object"));
            Assert.That(() => client.SendAsync("", Order("1"), cancellationToken: ct), Throws.ArgumentException);
            Assert.That(() => client.SendAsync("add_order", Order("1"), @ref: "", cancellationToken: ct), Throws.ArgumentException);
            Assert.That(() => client.CheckAsync("add_order", "", ct), Throws.ArgumentException);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task CheckAsync_KnownAndUnknownRefs_ReportsWhetherCommitted(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);
        var sent = await client.SendAsync("add_order", Order("1"), cancellationToken: ct);

        var known = await client.CheckAsync("add_order", sent.Ref, ct);
        var unknown = await client.CheckAsync("add_order", "20000101 00:00:00.000000000000", ct);
        var wrongKind = Assert.ThrowsAsync<MkioServerException>(() => client.CheckAsync("all_orders", sent.Ref, ct));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(known.IsKnown, Is.True);
            Assert.That(known.Ref, Is.EqualTo(sent.Ref));
            Assert.That(unknown.IsKnown, Is.False);
            Assert.That(unknown.Status, Is.EqualTo("unknown"));
            Assert.That(unknown.Ref, Is.EqualTo("20000101 00:00:00.000000000000"));
            Assert.That(wrongKind!.Ref, Is.EqualTo(sent.Ref));
            Assert.That(wrongKind.Message, Does.Contain("all_orders"));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SendAsync_Cancelled_LaterRefLessRequestsStillGetTheirOwnReplies(CancellationToken ct)
    {
        // The writer is held until three transactions are in: nothing is answered before then.
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, cancellationToken: ct);
        await using var client = await ConnectAsync(host.WsUrl, ct);

        using var cancelA = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task<MkioResult> b, c;
        using (await host.HoldWriterAsync(ct))
        {
            var a = client.SendAsync("add_order", Order("a"), msgId: "a", cancellationToken: cancelA.Token);
            b = client.SendAsync("add_order", Order("b"), msgId: "b", cancellationToken: ct);
            await cancelA.CancelAsync();
            Assert.That(async () => await a, Throws.InstanceOf<OperationCanceledException>());

            c = client.SendAsync("add_order", Order("c"), msgId: "c", cancellationToken: ct);
            await host.WaitForQueuedWritesAsync(3, ct);
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That((await b).MsgId?.GetString(), Is.EqualTo("b"));
            Assert.That((await c).MsgId?.GetString(), Is.EqualTo("c"));
        }

        // The cancelled transaction still committed (cancellation only stops waiting).
        await using var sub = client.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        Assert.That((await sub.NextAsync()).Rows.EnumerateArray().Select(Id).Order(), Is.EqualTo(new[] { "a", "b", "c" }));
    }

    [Test, CancelAfter(30_000)]
    public async Task SendAsync_RequestTimeout_ThrowsTimeoutExceptionAndKeepsCorrelation(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, cancellationToken: ct);
        await using var client = await ConnectAsync(host.WsUrl, ct, Fast(requestTimeout: TimeSpan.FromSeconds(2)));

        using (await host.HoldWriterAsync(ct))
        {
            var timedOut = Assert.ThrowsAsync<TimeoutException>(() => client.SendAsync("add_order", Order("slow"), msgId: "slow", cancellationToken: ct));
            Assert.That(timedOut!.Message, Does.Contain("add_order"));
        }

        // The late reply (sent once the writer is released) is consumed by the timed-out request, not by this one.
        var next = await client.SendAsync("add_order", Order("next"), msgId: "next", cancellationToken: ct);
        Assert.That(next.MsgId?.GetString(), Is.EqualTo("next"));
    }
}
