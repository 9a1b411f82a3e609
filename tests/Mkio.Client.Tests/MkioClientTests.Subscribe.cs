using System.Text.Json.Nodes;
using Mkio.Client.Tests.Support;
using Mkio.TestUtilities;
using static Mkio.Client.Tests.Support.ClientTest;

namespace Mkio.Client.Tests;

/// <summary>Subscriptions against a real mkio server (PROTOCOL.md §7, CLIENTS.md §5).</summary>
public partial class MkioClientTests
{
    [TestCase("all_orders")]
    [TestCase("last_trade")]
    [CancelAfter(30_000)]
    public async Task SubscribeAsync_Service_SnapshotThenUpdatesCarryingTheTransactionRefs(string service, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);
        var r1 = await client.SendAsync("add_order", Order("1"), cancellationToken: ct);

        await using var sub = client.SubscribeAsync(service, cancellationToken: ct).GetAsyncEnumerator(ct);
        var snapshot = await sub.NextAsync();
        var r2 = await client.SendAsync("add_order", Order("2", "IBM", 5), cancellationToken: ct);
        var insert = await sub.NextAsync();
        var r3 = await client.SendAsync("update_order", new JsonObject { ["id"] = "1", ["qty"] = 10 }, cancellationToken: ct);
        var update = await sub.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(snapshot.Type, Is.EqualTo(MkioEventType.Snapshot));
            Assert.That(snapshot.Service, Is.EqualTo(service));
            Assert.That(snapshot.Ref, Is.EqualTo(r1.Ref));
            Assert.That(ChangesOf(snapshot), Is.EqualTo(new[] { ("snapshot", "1", r1.Ref) }));
            Assert.That(insert.Type, Is.EqualTo(MkioEventType.Update));
            Assert.That((insert.Op, insert.Ref), Is.EqualTo(("insert", r2.Ref)));
            Assert.That(insert.Row.GetProperty("symbol").GetString(), Is.EqualTo("IBM"));
            Assert.That((update.Op, update.Ref), Is.EqualTo(("update", r3.Ref)));
            Assert.That(update.Row.GetProperty("qty").GetInt32(), Is.EqualTo(10));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SubscribeAsync_Filter_OnlyMatchingRows(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);
        await client.SendAsync("add_order", Order("1", "AAPL"), cancellationToken: ct);
        await client.SendAsync("add_order", Order("2", "IBM"), cancellationToken: ct);

        await using var sub = client.SubscribeAsync("last_trade", filter: "symbol == 'IBM'", cancellationToken: ct).GetAsyncEnumerator(ct);
        var snapshot = await sub.NextAsync();
        await client.SendAsync("add_order", Order("3", "AAPL"), cancellationToken: ct);
        var ibm = await client.SendAsync("add_order", Order("4", "IBM"), cancellationToken: ct);
        var update = await sub.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(snapshot.Rows.EnumerateArray().Select(Id), Is.EqualTo(new[] { "2" }));
            Assert.That((Id(update.Row), update.Ref), Is.EqualTo(("4", ibm.Ref)));
        }
    }

    [TestCase("all_orders")]
    [TestCase("last_trade")]
    [CancelAfter(30_000)]
    public async Task SubscribeAsync_FromRef_FirstEventIsDeltaOfExactlyTheMissedChanges(string service, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);
        var r1 = await client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        var r2 = await client.SendAsync("add_order", Order("2"), cancellationToken: ct);
        var r3 = await client.SendAsync("update_order", new JsonObject { ["id"] = "1", ["qty"] = 7 }, cancellationToken: ct);
        var r4 = await client.SendAsync("delete_order", new JsonObject { ["id"] = "2" }, cancellationToken: ct);

        await using var sub = client.SubscribeAsync(service, fromRef: r2.Ref, cancellationToken: ct).GetAsyncEnumerator(ct);
        var delta = await sub.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(delta.Type, Is.EqualTo(MkioEventType.Delta));
            Assert.That(delta.Ref, Is.EqualTo(r4.Ref));
            Assert.That(delta.ResumedFrom, Is.EqualTo(r2.Ref));
            Assert.That(ChangesOf(delta).Select(c => (c.Op, c.Id)), Is.EqualTo(new[] { ("update", "1"), ("delete", "2") }));
            Assert.That(ChangesOf(delta).First().Ref, Is.EqualTo(r3.Ref));
            Assert.That(r1.Ref, Is.Not.Empty);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SubscribeAsync_TypedRows_DeserializedWithJsonTypeInfo(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);
        var r1 = await client.SendAsync("add_order", Order("1", "AAPL", 3), cancellationToken: ct);

        await using var sub = client.SubscribeAsync("all_orders", ClientTestJson.Default.OrderRow, cancellationToken: ct).GetAsyncEnumerator(ct);
        var snapshot = await sub.NextAsync();
        await client.SendAsync("update_order", new JsonObject { ["id"] = "1", ["qty"] = 4 }, cancellationToken: ct);
        var update = await sub.NextAsync();
        await client.SendAsync("delete_order", new JsonObject { ["id"] = "1" }, cancellationToken: ct);
        var delete = await sub.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(snapshot.Rows, Is.EqualTo(new[] { new OrderRow("1", "AAPL", 3, 0.0, "pending", r1.Ref) }));
            Assert.That((update.Type, update.Op, update.Row?.Qty), Is.EqualTo((MkioEventType.Update, "update", 4L)));
            Assert.That((delete.Op, delete.Row?.Id), Is.EqualTo(("delete", "1")));
            Assert.That(update.Rows, Is.Empty);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SubscribeAsync_FilterThatDoesNotParse_EndsWithSubscriptionRejected(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);

        await using var sub = client.SubscribeAsync("all_orders", filter: "status ==", cancellationToken: ct).GetAsyncEnumerator(ct);
        var ex = Assert.ThrowsAsync<MkioSubscriptionRejectedException>(async () => await sub.MoveNextAsync());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Service, Is.EqualTo("all_orders"));
            Assert.That(ex.Message, Is.Not.Empty);
            Assert.That(ex.Message, Is.EqualTo(ex.Reply!.Value.GetProperty("message").GetString()));
            Assert.That(ex.Reply.Value.GetProperty("type").GetString(), Is.EqualTo("nack"));
        }

        // The nack is never taken as a reply: the next ref-less transaction gets its own result.
        var r = await client.SendAsync("add_order", Order("1"), msgId: "after-nack", cancellationToken: ct);
        Assert.That(r.MsgId?.GetString(), Is.EqualTo("after-nack"));
    }

    [Test, CancelAfter(30_000)]
    public async Task SubscribeAsync_UnknownService_RejectedWithoutStealingARefLessReply(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, cancellationToken: ct);
        await using var client = await ConnectAsync(host.WsUrl, ct);

        // A ref-less transaction is pending (queued behind the held writer) when the
        // subscribe's "Unknown service" error (ref-less too) arrives.
        // Replies leave in request order, so the error only comes once the transaction completes.
        Task<MkioResult> pending;
        Task<bool> rejected;
        Task<MkioResult> secondTask;
        await using var sub = client.SubscribeAsync("no_such_service", cancellationToken: ct).GetAsyncEnumerator(ct);
        using (await host.HoldWriterAsync(ct))
        {
            pending = client.SendAsync("add_order", Order("1"), msgId: "first", cancellationToken: ct);
            rejected = sub.MoveNextAsync().AsTask();
            secondTask = client.SendAsync("add_order", Order("2"), msgId: "second", cancellationToken: ct);
            await host.WaitForQueuedWritesAsync(1, ct);
        }

        var second = await secondTask;
        var ex = Assert.ThrowsAsync<MkioSubscriptionRejectedException>(async () => await rejected);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Message, Is.EqualTo("Unknown service: no_such_service"));
            Assert.That((await pending).MsgId?.GetString(), Is.EqualTo("first"));
            Assert.That(second.MsgId?.GetString(), Is.EqualTo("second"));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SubscribeAsync_TransactionService_RejectedByTheServersNack(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);

        // The server answers a subscribe to a transaction service with a nack (issue 9; the reference is
        // silent, which the client detects only from the reply to a later request).
        await using var sub = client.SubscribeAsync("add_order", cancellationToken: ct).GetAsyncEnumerator(ct);
        var ex = Assert.ThrowsAsync<MkioSubscriptionRejectedException>(async () => await sub.MoveNextAsync());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Message, Is.EqualTo("Service 'add_order' is a transaction service; it does not accept subscriptions (subscribe to a subpub, stream or query service)"));
            Assert.That(ex.Reply?.GetProperty("type").GetString(), Is.EqualTo("nack"));
        }

        // Replies still pair up: the next request gets its own answer.
        var check = await client.CheckAsync("add_order", "r", ct);
        Assert.That(check.IsKnown, Is.False);
    }

    [Test, CancelAfter(30_000)]
    public async Task SubscribeAsync_SameServiceAgain_ReplacesAndEndsTheOldEnumeration(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);
        await client.SendAsync("add_order", Order("1", "AAPL"), cancellationToken: ct);

        await using var old = client.SubscribeAsync("last_trade", cancellationToken: ct).GetAsyncEnumerator(ct);
        Assert.That((await old.NextAsync()).Type, Is.EqualTo(MkioEventType.Snapshot));

        await using var replacement = client.SubscribeAsync("last_trade", filter: "symbol == 'IBM'", cancellationToken: ct).GetAsyncEnumerator(ct);
        var snapshot = await replacement.NextAsync();
        Assert.That(await old.MoveNextAsync(), Is.False, "the old enumeration ends");

        await client.SendAsync("add_order", Order("2", "AAPL"), cancellationToken: ct);
        var ibm = await client.SendAsync("add_order", Order("3", "IBM"), cancellationToken: ct);
        var update = await replacement.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(snapshot.Rows.GetArrayLength(), Is.Zero);
            Assert.That((update.Op, Id(update.Row), update.Ref), Is.EqualTo(("insert", "3", ibm.Ref)), "one update, with the new filter");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SubscribeAsync_Cancelled_ThrowsAndAllowsANewSubscription(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await using var client = await ConnectAsync(host.Ws(), ct);

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await using (var sub = client.SubscribeAsync("all_orders", cancellationToken: cancel.Token).GetAsyncEnumerator(ct))
        {
            Assert.That((await sub.NextAsync()).Type, Is.EqualTo(MkioEventType.Snapshot));
            var waiting = sub.MoveNextAsync().AsTask();
            await cancel.CancelAsync();
            Assert.That(async () => await waiting, Throws.InstanceOf<OperationCanceledException>());
        }

        // Cancelled before it starts: nothing is sent.
        Assert.That(async () => await client.SubscribeAsync("all_orders", cancellationToken: cancel.Token).GetAsyncEnumerator(ct).MoveNextAsync(),
            Throws.InstanceOf<OperationCanceledException>());

        await using var again = client.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        Assert.That((await again.NextAsync()).Type, Is.EqualTo(MkioEventType.Snapshot));
        var r = await client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        var update = await again.NextAsync();
        Assert.That((update.Op, update.Ref), Is.EqualTo(("insert", r.Ref)));
    }
}
