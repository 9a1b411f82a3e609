using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Mkio.Client.Tests.Support;
using Mkio.TestUtilities;
using static Mkio.Client.Tests.Support.ClientTest;

namespace Mkio.Client.Tests;

/// <summary>Lost connections, reconnects and gap-free resubscription (CLIENTS.md §1, §5).</summary>
public partial class MkioClientTests
{
    [Test, CancelAfter(120_000)]
    public async Task SubscribeAsync_ServerRestartOnTheSamePort_ResumesWithoutGapOrDuplicate([Values] bool writeWhileDown, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var port = ClientTestHost.FreePort();
        var host1 = await ClientTestHost.StartAsync(FixtureAOnFile, dir, port, ct);
        await using var client = new MkioClient(new Uri($"ws://127.0.0.1:{port}/ws"), Fast());
        var connects = Channel.CreateUnbounded<MkioConnectionState>();
        var disconnects = Channel.CreateUnbounded<MkioDisconnectedEventArgs>();
        client.Connected += (_, _) => connects.Writer.TryWrite(client.State);
        client.Disconnected += (_, e) => disconnects.Writer.TryWrite(e);
        await client.ConnectAsync(ct);
        Assert.That(await connects.Reader.ReadAsync(ct), Is.EqualTo(MkioConnectionState.Open));

        var r1 = await client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        await using var sub = client.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        var events = new List<MkioEvent> { await sub.NextAsync() };
        var r2 = await client.SendAsync("add_order", Order("2"), cancellationToken: ct);
        events.Add(await sub.NextAsync());

        await host1.DisposeAsync();
        var lost = await disconnects.Reader.ReadAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(lost.WillReconnect, Is.True);
            Assert.That(client.State, Is.EqualTo(MkioConnectionState.Reconnecting));
        }

        var missed = new List<(string Op, string Id, string Ref)>();
        if (writeWhileDown)
        {
            // Another server on the same database takes writes while the client's server is down.
            await using var writerHost = await ClientTestHost.StartAsync(FixtureAOnFile, dir, cancellationToken: ct);
            await using var writer = await ConnectAsync(writerHost.WsUrl, ct, Fast(reconnect: false));
            missed.Add(("insert", "3", (await writer.SendAsync("add_order", Order("3"), cancellationToken: ct)).Ref));
            missed.Add(("update", "1", (await writer.SendAsync("update_order", new JsonObject { ["id"] = "1", ["qty"] = 11 }, cancellationToken: ct)).Ref));
            await writer.SendAsync("delete_order", new JsonObject { ["id"] = "2" }, cancellationToken: ct);
            missed.Add(("delete", "2", r2.Ref));
        }

        await using var host2 = await ClientTestHost.StartAsync(FixtureAOnFile, dir, port, ct);
        Assert.That(await connects.Reader.ReadAsync(ct), Is.EqualTo(MkioConnectionState.Open));
        var resumed = await sub.NextAsync();
        events.Add(resumed);
        var r4 = await client.SendAsync("add_order", Order("4"), cancellationToken: ct);
        events.Add(await sub.NextAsync());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(events.Select(e => e.Type), Is.EqualTo(new[] { MkioEventType.Snapshot, MkioEventType.Update, MkioEventType.Delta, MkioEventType.Update }));
            Assert.That(ChangesOf(events[0]), Is.EqualTo(new[] { ("snapshot", "1", r1.Ref) }));
            Assert.That(ChangesOf(events[1]), Is.EqualTo(new[] { ("insert", "2", r2.Ref) }));
            Assert.That(ChangesOf(events[2]), Is.EqualTo(missed), "exactly the changes missed while disconnected");
            Assert.That(events[2].ResumedFrom, Is.EqualTo(r2.Ref), "resubscribed from the last ref received");
            Assert.That(events[0].ResumedFrom, Is.Null);
            Assert.That(ChangesOf(events[3]), Is.EqualTo(new[] { ("insert", "4", r4.Ref) }));
        }

        // The state the events describe is the server's.
        var state = new Dictionary<string, JsonElement>();
        events.ForEach(e => Apply(state, e));
        await using var fresh = await ConnectAsync(host2.WsUrl, ct);
        await using var check = fresh.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        var truth = (await check.NextAsync()).Rows.EnumerateArray().ToDictionary(Id, r => r.GetRawText());
        Assert.That(state.ToDictionary(kv => kv.Key, kv => kv.Value.GetRawText()), Is.EquivalentTo(truth));
    }

    [Test, CancelAfter(120_000)]
    public async Task SubscribeAsync_ConnectionDroppedRepeatedlyDuringWrites_EveryChangeExactlyOnceInCommitOrder(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, cancellationToken: ct);
        await using var subscriber = await ConnectAsync(new Uri(host.WsUrl + "?tag=sub"), ct);
        await using var writer = await ConnectAsync(new Uri(host.WsUrl + "?tag=writer"), ct);
        var reconnects = 0;
        subscriber.Connected += (_, _) => Interlocked.Increment(ref reconnects);

        await using var sub = subscriber.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        Assert.That((await sub.NextAsync()).Rows.GetArrayLength(), Is.Zero);

        const int n = 60;
        var writes = Task.Run(async () =>
        {
            var refs = new List<string>();
            for (var i = 0; i < n; i++)
            {
                var r = i % 3 == 2
                    ? await writer.SendAsync("update_order", new JsonObject { ["id"] = $"{i - 1}", ["qty"] = i }, cancellationToken: ct)
                    : await writer.SendAsync("add_order", Order($"{i}"), cancellationToken: ct);
                refs.Add(r.Ref);
            }

            return refs;
        }, ct);

        var seen = new List<string>();
        var aborts = 0;
        var deltas = 0;
        // Each dropped connection is resumed by exactly one delta (possibly empty, when the missed
        // updates had already arrived before the drop).
        while (seen.Count < n || deltas < aborts)
        {
            var e = await sub.NextAsync();
            Assert.That(e.Type, Is.Not.EqualTo(MkioEventType.Snapshot), "the change log covers the gap: a delta, never a snapshot");
            deltas += e.Type == MkioEventType.Delta ? 1 : 0;
            seen.AddRange(ChangesOf(e).Select(c => c.Ref));
            if ((aborts == 0 && seen.Count >= n / 3) || (aborts == 1 && deltas == 1 && seen.Count >= 2 * n / 3))
            {
                Assert.That(host.AbortConnections("sub"), Is.EqualTo(1));
                aborts++;
            }
        }

        var committed = await writes;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(seen, Is.EqualTo(committed), "no gap, no duplicate, commit order");
            Assert.That(aborts, Is.GreaterThanOrEqualTo(1));
            Assert.That(deltas, Is.EqualTo(aborts), "one resume per dropped connection");
            Assert.That(Volatile.Read(ref reconnects), Is.EqualTo(aborts));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task SendAsync_ConnectionDroppedWhilePending_FailsWithConnectionLostAndCanBeChecked(CancellationToken ct)
    {
        // The writer is held: the transaction is still pending on the server when the connection drops.
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, cancellationToken: ct);
        using var hold = await host.HoldWriterAsync(ct);
        await using var client = await ConnectAsync(host.WsUrl, ct, Fast(clientRefs: true));
        var connects = Channel.CreateUnbounded<bool>();
        var disconnects = Channel.CreateUnbounded<MkioDisconnectedEventArgs>();
        client.Connected += (_, _) => connects.Writer.TryWrite(true);
        client.Disconnected += (_, e) => disconnects.Writer.TryWrite(e);

        var refless = client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        var check = client.CheckAsync("add_order", "20000101 00:00:00.000000000000", ct);
        Assert.That(host.AbortConnections(), Is.EqualTo(1));

        var lost = Assert.ThrowsAsync<MkioConnectionLostException>(() => refless);
        var lostDisconnect = await disconnects.Reader.ReadAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(lost!.Service, Is.EqualTo("add_order"));
            Assert.That(MkioRef.IsWellFormed(lost.Ref), Is.True, lost.Ref);
            Assert.That(lost.Message, Does.Contain(lost.Ref));
            Assert.That(lostDisconnect.WillReconnect, Is.True);
            Assert.That(lostDisconnect.Exception, Is.Not.Null);
        }

        // A check sent before the drop either got its answer first or is lost too.
        try
        {
            await check;
        }
        catch (MkioConnectionLostException ex)
        {
            Assert.That(ex.Ref, Is.EqualTo("20000101 00:00:00.000000000000"));
        }

        await connects.Reader.ReadAsync(ct);
        var status = await client.CheckAsync("add_order", lost.Ref!, ct);
        Assert.That(status.Ref, Is.EqualTo(lost.Ref));
    }

    [Test, CancelAfter(60_000)]
    public async Task ConnectionLost_ReconnectOff_StateClosedAndRequestsAndSubscriptionsFail(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, cancellationToken: ct);
        await using var client = await ConnectAsync(host.WsUrl, ct, Fast(reconnect: false));
        var disconnects = Channel.CreateUnbounded<MkioDisconnectedEventArgs>();
        client.Disconnected += (_, e) => disconnects.Writer.TryWrite(e);
        await using var sub = client.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        await sub.NextAsync();

        host.AbortConnections();
        var lost = await disconnects.Reader.ReadAsync(ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(lost.WillReconnect, Is.False);
            Assert.That(client.State, Is.EqualTo(MkioConnectionState.Closed));
            Assert.That(async () => await sub.MoveNextAsync(), Throws.InstanceOf<MkioConnectionLostException>());
            Assert.That(() => client.SendAsync("add_order", Order("1"), cancellationToken: ct), Throws.InstanceOf<MkioConnectionLostException>());
            Assert.That(async () => await client.SubscribeAsync("last_trade", cancellationToken: ct).GetAsyncEnumerator(ct).MoveNextAsync(), Throws.InstanceOf<MkioConnectionLostException>());
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task SendAsync_WhileReconnecting_WaitsForTheNewConnection(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var port = ClientTestHost.FreePort();
        var host1 = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, port, ct);
        await using var client = await ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), ct);
        var disconnects = Channel.CreateUnbounded<MkioDisconnectedEventArgs>();
        client.Disconnected += (_, e) => disconnects.Writer.TryWrite(e);

        await host1.DisposeAsync();
        await disconnects.Reader.ReadAsync(ct);
        var waiting = client.SendAsync("add_order", Order("1"), msgId: "queued", cancellationToken: ct);
        Assert.That(waiting.IsCompleted, Is.False);

        await using var host2 = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, port, ct);
        Assert.That((await waiting).MsgId?.GetString(), Is.EqualTo("queued"));
    }
}
