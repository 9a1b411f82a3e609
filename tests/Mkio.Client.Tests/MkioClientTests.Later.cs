using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Mkio.Client.Tests.Support;
using Mkio.TestUtilities;
using static Mkio.Client.Tests.Support.ClientTest;

namespace Mkio.Client.Tests;

/// <summary>The later protocol (the client's default): subids, paging, filter-out deletes, reqrep, <c>_mkio</c>, resume.</summary>
public partial class MkioClientTests
{
    /// <summary>A config written the later way: items (id, name, qty), the later listeners and two reqrep services.</summary>
    private const string LaterToml = $"""
        name = "shop"
        version = "1.4.2"
        db_path = "later.db"

        [tables.items]
        columns = {"{"} id = "TEXT PRIMARY KEY", name = "TEXT NOT NULL", qty = "INTEGER DEFAULT 0" {"}"}

        {Fixtures.LaterListenersToml}

        [services.stock]
        protocol = "reqrep"
        sql = "SELECT qty FROM items WHERE id = :id"
        params = {"{"} id = "upper(item)" {"}"}
        reply = "qty * 2"

        [services.names]
        protocol = "reqrep"
        sql = "SELECT id, name FROM items ORDER BY id"
        """;

    private static MkioClientOptions Later() => Fast(protocol: MkioProtocol.Later);

    private static async Task<MkioTestHost> StartLaterAsync(CancellationToken ct)
    {
        var dir = new TempDirectory();
        var toml = dir.File("server.toml");
        await File.WriteAllTextAsync(toml, LaterToml, Encoding.UTF8, ct);
        return await MkioTestHost.StartAsync(_ => { }, ct, dir, tomlPath: toml);
    }

    private static Task<MkioResult> PutAsync(MkioClient client, string id, string name, int qty, CancellationToken ct) =>
        client.SendAsync("put", new JsonObject { ["id"] = id, ["name"] = name, ["qty"] = qty }, cancellationToken: ct);

    /// <summary>A1 apple (qty 10) and B2 bread (qty 3).</summary>
    private static async Task PutAppleAndBreadAsync(MkioClient client, CancellationToken ct)
    {
        await PutAsync(client, "A1", "apple", 10, ct);
        await PutAsync(client, "B2", "bread", 3, ct);
    }

    private static string[] RowIds(MkioEvent e) => [.. e.Rows.EnumerateArray().Select(Id)];

    [Test, CancelAfter(30_000)]
    public void Later_IsTheDefault_V010IsAnOption()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(new MkioClientOptions().Protocol, Is.EqualTo(MkioProtocol.Later));
            Assert.That(() => new MkioClient(new Uri("ws://h/ws"), new MkioClientOptions { Protocol = (MkioProtocol)7 }), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("Protocol"));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Later_Wire_SubscribeCarriesProtocolAndSubid_SendCarriesTxnid_GetmoreAndUnsubscribeBySubid(CancellationToken ct)
    {
        await using var server = await FakeServer.StartAsync(ct);
        await using var client = await ConnectAsync(server.WsUrl, ct, Later());
        var peer = await server.AcceptAsync(ct);

        var send = client.SendAsync("put", new JsonObject { ["id"] = "A" }, cancellationToken: ct);
        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"put","data":{"id":"A"},"txnid":"_mkio_t1"}"""));
        await peer.SendAsync("""{"type":"result","service":"put","ref":"s1","txnid":"_mkio_t1"}""", WebSocketMessageType.Text, ct);
        Assert.That((await send).MsgId?.GetString(), Is.EqualTo("_mkio_t1"));

        await using (var topics = client.SubscribeAsync("cache", new MkioSubscribeOptions { Protocol = "subpub", SubId = "t", Topics = ["A1", "B2"], Snapshot = false }, ct).GetAsyncEnumerator(ct))
        {
            var pending = topics.MoveNextAsync().AsTask();
            Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"cache","type":"subscribe","protocol":"subpub","subid":"t","snapshot":false,"topic":["A1","B2"]}"""));
            await peer.SendAsync("""{"type":"update","service":"cache","op":"update","row":{"id":"A1"},"subid":"t"}""", WebSocketMessageType.Text, ct);
            Assert.That(await pending, Is.True);
            Assert.That((topics.Current.Type, topics.Current.SubId), Is.EqualTo((MkioEventType.Update, "t")), "without a snapshot updates flow at once");
        }

        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"cache","type":"unsubscribe","subid":"t"}"""));
        var options = new MkioSubscribeOptions { Protocol = "query", Filter = "qty > 1", Fields = ["id"], MaxCount = 1, Updates = false };
        await using (var sub = client.SubscribeAsync("items", options, ct).GetAsyncEnumerator(ct))
        {
            var first = sub.MoveNextAsync().AsTask();
            Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"items","type":"subscribe","protocol":"query","subid":"_mkio_s1","filter":"qty \u003E 1","fields":["id"],"maxcount":1,"updates":false}"""));
            await peer.SendAsync("""{"type":"snapshot","service":"items","rows":[{"id":"A"}],"hasmore":true,"subid":"_mkio_s1"}""", WebSocketMessageType.Text, ct);
            Assert.That(await first, Is.True);
            Assert.That((sub.Current.Type, sub.Current.HasMore, sub.Current.SubId), Is.EqualTo((MkioEventType.Snapshot, true, "_mkio_s1")));

            var second = sub.MoveNextAsync().AsTask();
            Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"items","type":"getmore","subid":"_mkio_s1"}"""), "the page was taken: the next is asked for");
            await peer.SendAsync("""{"type":"snapshot","service":"items","rows":[{"id":"B"}],"hasmore":false,"subid":"_mkio_s1"}""", WebSocketMessageType.Text, ct);
            Assert.That(await second, Is.True);
            Assert.That((sub.Current.Type, sub.Current.HasMore, RowIds(sub.Current)), Is.EqualTo((MkioEventType.Page, false, new[] { "B" })));
        }

        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"items","type":"unsubscribe","subid":"_mkio_s1"}"""));

        var request = client.RequestAsync("stock", new JsonObject { ["item"] = "a" }, ct);
        var sent = JsonNode.Parse(await peer.ReceiveAsync(ct))!.AsObject();
        Assert.That(sent.Select(p => p.Key), Is.EqualTo(new[] { "service", "type", "reqid", "data" }));
        await peer.SendAsync($$"""{"type":"reply","service":"stock","reqid":"{{sent["reqid"]}}","value":20}""", WebSocketMessageType.Text, ct);
        Assert.That((await request).Value.GetInt32(), Is.EqualTo(20));
        peer.Done.TrySetResult();
    }

    [Test, CancelAfter(30_000)]
    public async Task V010_LaterOptionsAndCalls_AreRefused(CancellationToken ct)
    {
        await using var server = await FakeServer.StartAsync(ct);
        await using var client = await ConnectAsync(server.WsUrl, ct, Fast());
        await using var sub = client.SubscribeAsync("items", new MkioSubscribeOptions { MaxCount = 5 }, ct).GetAsyncEnumerator(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(async () => await sub.MoveNextAsync(), Throws.InvalidOperationException.With.Message.Contains("V010"));
            Assert.That(() => client.QueryAsync("items"), Throws.InvalidOperationException.With.Message.Contains("QueryAsync"));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_TwoSubscriptionsOnOneService_RouteBySubid_EndingOneKeepsTheOther(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());
        await PutAppleAndBreadAsync(client, ct);

        var all = client.SubscribeAsync("items", cancellationToken: ct).GetAsyncEnumerator(ct);
        await using var big = client.SubscribeAsync("items", new MkioSubscribeOptions { Filter = "qty > 5", Fields = ["qty"] }, ct).GetAsyncEnumerator(ct);
        var allSnapshot = await all.NextAsync();
        var bigSnapshot = await big.NextAsync();
        await PutAsync(client, "C3", "cheese", 7, ct);
        var allUpdate = await all.NextAsync();
        var bigUpdate = await big.NextAsync();

        await all.DisposeAsync();
        await PutAsync(client, "D4", "dates", 9, ct);
        var afterEnd = await big.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(allSnapshot.SubId, Is.Not.EqualTo(bigSnapshot.SubId));
            Assert.That(RowIds(allSnapshot), Is.EqualTo(new[] { "A1", "B2" }));
            Assert.That(bigSnapshot.Rows.EnumerateArray().Select(r => r.GetProperty("_mkio_row").GetString()), Is.EqualTo(new[] { "A1" }));
            Assert.That(bigSnapshot.Rows[0].TryGetProperty("name", out _), Is.False, "fields projection");
            Assert.That((allUpdate.Op, allUpdate.RowKey, allUpdate.SubId), Is.EqualTo(("upsert", "C3", allSnapshot.SubId)));
            Assert.That((bigUpdate.RowKey, bigUpdate.SubId), Is.EqualTo(("C3", bigSnapshot.SubId)));
            Assert.That(afterEnd.RowKey, Is.EqualTo("D4"), "the other subscription of the service goes on");
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_SendWithMsgId_TheServerEchoesTheTxnid(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());
        var result = await client.SendAsync("put", new JsonObject { ["id"] = "A1", ["name"] = "apple", ["qty"] = 1 }, msgId: "order-7", cancellationToken: ct);
        Assert.That(result.MsgId?.GetString(), Is.EqualTo("order-7"), "sent as txnid, echoed as txnid by the server");
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_TopicSubscription_AgainstTheServer_RowPerTopic_ThenUpdates(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());
        await PutAsync(client, "A1", "apple", 10, ct);

        await using var sub = client.SubscribeAsync("cache", new MkioSubscribeOptions { Topics = ["A1", "Z9"] }, ct).GetAsyncEnumerator(ct);
        var snapshot = await sub.NextAsync();
        await PutAsync(client, "A1", "apple", 4, ct);
        var update = await sub.NextAsync();

        var rows = snapshot.Rows.EnumerateArray().ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rows.Select(r => r.GetProperty("_mkio_topic").GetString()), Is.EqualTo(new[] { "A1", "Z9" }));
            Assert.That(rows.Select(r => r.GetProperty("_mkio_exists").GetBoolean()), Is.EqualTo(new[] { true, false }));
            Assert.That(update.Op, Is.EqualTo("update"));
            Assert.That(update.Row.GetProperty("_mkio_topic").GetString(), Is.EqualTo("A1"));
            Assert.That(update.Row.GetProperty("qty").GetInt32(), Is.EqualTo(4));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_RowLeavingTheFilter_ArrivesAsDelete(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());
        await PutAsync(client, "A1", "apple", 10, ct);

        await using var sub = client.SubscribeAsync("items", new MkioSubscribeOptions { Filter = "qty > 5" }, ct).GetAsyncEnumerator(ct);
        var snapshot = await sub.NextAsync();
        await PutAsync(client, "A1", "apple", 2, ct);
        var gone = await sub.NextAsync();
        await PutAsync(client, "A1", "apple", 1, ct);
        await PutAsync(client, "A1", "apple", 8, ct);
        var back = await sub.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(RowIds(snapshot), Is.EqualTo(new[] { "A1" }));
            Assert.That((gone.Operation, gone.RowKey, gone.Row.GetProperty("qty").GetInt32()), Is.EqualTo((MkioOperation.Delete, "A1", 2)));
            Assert.That((back.Op, back.RowKey, back.Row.GetProperty("qty").GetInt32()), Is.EqualTo(("upsert", "A1", 8)), "a change outside the filter after the delete sends nothing");
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_PagedSubscription_PagesAsTheConsumerReads_ThenUpdatesMadeMeanwhile_ThenLive(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());
        foreach (var id in new[] { "A", "B", "C", "D", "E" })
        {
            await PutAsync(client, id, id.ToLowerInvariant(), 1, ct);
        }

        await using var sub = client.SubscribeAsync("items", new MkioSubscribeOptions { MaxCount = 2 }, ct).GetAsyncEnumerator(ct);
        var first = await sub.NextAsync();
        await PutAsync(client, "F", "f", 1, ct);
        var pages = new List<MkioEvent> { first };
        while (pages[^1].HasMore)
        {
            pages.Add(await sub.NextAsync());
        }

        var buffered = await sub.NextAsync();
        await PutAsync(client, "G", "g", 1, ct);
        var live = await sub.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(pages.Select(p => p.Type), Is.EqualTo(new[] { MkioEventType.Snapshot, MkioEventType.Page, MkioEventType.Page }));
            Assert.That(pages.SelectMany(RowIds), Is.EqualTo(new[] { "A", "B", "C", "D", "E" }));
            Assert.That((buffered.Type, buffered.RowKey), Is.EqualTo((MkioEventType.Update, "F")));
            Assert.That((live.Type, live.RowKey), Is.EqualTo((MkioEventType.Update, "G")));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_QueryAsync_ReadsEveryRowPageByPage(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());
        for (var i = 0; i < 7; i++)
        {
            await PutAsync(client, $"I{i}", "n", i, ct);
        }

        var ids = new List<string>();
        await foreach (var row in client.QueryAsync("items", filter: "qty >= 2", pageSize: 2, cancellationToken: ct))
        {
            ids.Add(row.GetProperty("_mkio_row").GetString()!);
        }

        var none = await client.QueryAsync("items", filter: "qty > 100", cancellationToken: ct).CountAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ids, Is.EqualTo(new[] { "I2", "I3", "I4", "I5", "I6" }));
            Assert.That(none, Is.Zero);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_RequestAsync_ReplyForms_AndErrors(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());
        await PutAppleAndBreadAsync(client, ct);

        var value = await client.RequestAsync("stock", new JsonObject { ["item"] = "a1" }, ct);
        var missing = await client.RequestAsync("stock", JsonDocument.Parse("""{"item":"zz"}""").RootElement, ct);
        var rows = await client.RequestAsync("names", cancellationToken: ct);
        var wrongService = Assert.ThrowsAsync<MkioServerException>(() => client.RequestAsync("items", cancellationToken: ct));
        var unknown = Assert.ThrowsAsync<MkioServerException>(() => client.RequestAsync("nope", cancellationToken: ct));
        var after = await client.RequestAsync("stock", new JsonObject { ["item"] = "b2" }, ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(value.Value.GetInt32(), Is.EqualTo(20));
            Assert.That(value.ReqId, Is.Not.Null.And.Not.Empty);
            Assert.That(missing.Value.ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(rows.Rows.EnumerateArray().Select(r => r.GetProperty("name").GetString()), Is.EqualTo(new[] { "apple", "bread" }));
            Assert.That(wrongService!.Message, Is.EqualTo("Service 'items' uses protocol 'query', not 'reqrep'"));
            Assert.That(unknown!.Message, Does.StartWith("Unknown service: 'nope'. Available services:"));
            Assert.That(after.Value.GetInt32(), Is.EqualTo(6), "a nack answered its request: the next one gets its own reply");
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_IdentifyAsync_ReportsTheServer_AndChecksCompatibility(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());

        var plain = await client.IdentifyAsync(cancellationToken: ct);
        var ok = await client.IdentifyAsync(version: "1.4", protocol: "1.0", cancellationToken: ct);
        var bad = await client.IdentifyAsync(version: "2.0", protocol: "1.0", cancellationToken: ct);
        var thrown = Assert.ThrowsAsync<MkioIncompatibleServerException>(() => client.IdentifyAsync(version: "1.5", requireCompatible: true, cancellationToken: ct));

        using (Assert.EnterMultipleScope())
        {
            Assert.That((plain.Name, plain.Version, plain.Protocol), Is.EqualTo(("shop", "1.4.2", "1.0")));
            Assert.That(plain.Services["items"], Is.EqualTo("query"));
            Assert.That(plain.Services["stock"], Is.EqualTo("reqrep"));
            Assert.That(plain.Services.ContainsKey("_mkio"), Is.False);
            Assert.That(plain.Tables, Does.Contain("items"));
            Assert.That(plain.Compatible, Is.Null);
            Assert.That(ok.Compatible, Is.True);
            Assert.That(bad.Compatible, Is.False);
            Assert.That(bad.Compatibility, Is.EqualTo(new Dictionary<string, bool> { ["version"] = false, ["protocol"] = true }));
            Assert.That(thrown!.Message, Does.Contain("version").And.Contain("1.4.2"));
            Assert.That(thrown.Identity.Compatibility["version"], Is.False);
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_SubscribeToUnknownService_IsRejectedWithTheLaterNack(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());
        await using var sub = client.SubscribeAsync("nope", cancellationToken: ct).GetAsyncEnumerator(ct);
        var ex = Assert.ThrowsAsync<MkioSubscriptionRejectedException>(async () => await sub.MoveNextAsync());
        var reply = await client.RequestAsync("names", cancellationToken: ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Message, Does.StartWith("Unknown service: 'nope'"));
            Assert.That(reply.Rows.GetArrayLength(), Is.Zero, "requests after the rejection are answered");
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task Later_ServerRestart_QueryGetsANewSnapshot_StreamResumesAfterItsRef_SendsGoOn(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var port = ClientTestHost.FreePort();
        var host1 = await ClientTestHost.StartAsync(FixtureAOnFile, dir, port, ct);
        await using var client = new MkioClient(new Uri($"ws://127.0.0.1:{port}/ws"), Later());
        await client.ConnectAsync(ct);

        await client.SendAsync("add_order", Order("1"), cancellationToken: ct);
        await using var orders = client.SubscribeAsync("all_orders", cancellationToken: ct).GetAsyncEnumerator(ct);
        await using var trades = client.SubscribeAsync("last_trade", cancellationToken: ct).GetAsyncEnumerator(ct);
        var first = await orders.NextAsync();
        var tradeSnapshot = await trades.NextAsync();
        await client.SendAsync("add_order", Order("2"), cancellationToken: ct);
        var insert = await orders.NextAsync();
        _ = await trades.NextAsync();

        await host1.DisposeAsync();
        await using (var writerHost = await ClientTestHost.StartAsync(FixtureAOnFile, dir, cancellationToken: ct))
        await using (var writer = await ConnectAsync(writerHost.WsUrl, ct, Fast(reconnect: false, protocol: MkioProtocol.Later)))
        {
            await writer.SendAsync("add_order", Order("3"), cancellationToken: ct);
        }

        await using var host2 = await ClientTestHost.StartAsync(FixtureAOnFile, dir, port, ct);
        var again = await orders.NextAsync();
        var tradeResume = await trades.NextAsync();
        var r4 = await client.SendAsync("add_order", Order("4"), cancellationToken: ct);
        var live = await orders.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That((first.Type, first.SubId), Is.EqualTo((MkioEventType.Snapshot, "_mkio_s1")));
            Assert.That(tradeSnapshot.SubId, Is.Null, "a subpub subscription without topics keeps the 0.1.0 form");
            Assert.That(insert.RowKey, Is.EqualTo("2"));
            Assert.That((again.Type, again.SubId), Is.EqualTo((MkioEventType.Snapshot, "_mkio_s1")), "a query answers a resubscribe with a new snapshot");
            Assert.That(RowIds(again), Is.EqualTo(new[] { "1", "2", "3" }));
            Assert.That((tradeResume.Type, ChangesOf(tradeResume).Select(c => c.Id)), Is.EqualTo((MkioEventType.Delta, new[] { "3" })), "the 0.1.0 subpub subscription resumes with a delta");
            Assert.That((live.RowKey, live.Row.GetProperty("_mkio_ref").GetString()), Is.EqualTo(("4", r4.Ref)));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_And_V010_ClientsOnOneServer_EachGetsItsOwnShapes(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var later = await ConnectAsync(host.Ws(), ct, Later());
        await using var old = await ConnectAsync(host.Ws(), ct, Fast());
        await PutAsync(later, "A1", "apple", 10, ct);

        await using var laterSub = later.SubscribeAsync("items", cancellationToken: ct).GetAsyncEnumerator(ct);
        await using var oldSub = old.SubscribeAsync("items", cancellationToken: ct).GetAsyncEnumerator(ct);
        var laterSnapshot = await laterSub.NextAsync();
        var oldSnapshot = await oldSub.NextAsync();
        var r2 = await old.SendAsync("put", new JsonObject { ["id"] = "B2", ["name"] = "bread", ["qty"] = 3 }, cancellationToken: ct);
        var laterUpdate = await laterSub.NextAsync();
        var oldUpdate = await oldSub.NextAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That((laterSnapshot.SubId, laterSnapshot.Message.TryGetProperty("hasmore", out _)), Is.EqualTo(("_mkio_s1", true)));
            Assert.That(laterSnapshot.Rows[0].GetProperty("_mkio_row").GetString(), Is.EqualTo("A1"));
            Assert.That((oldSnapshot.SubId, oldSnapshot.Message.TryGetProperty("hasmore", out _)), Is.EqualTo(((string?)null, false)));
            Assert.That(oldSnapshot.Rows[0].TryGetProperty("_mkio_row", out _), Is.False, "0.1.0 rows are untagged");
            Assert.That((laterUpdate.RowKey, laterUpdate.Ref), Is.EqualTo(("B2", (string?)null)), "later query updates carry no ref");
            Assert.That((oldUpdate.Ref, oldUpdate.RowKey), Is.EqualTo((r2.Ref, (string?)null)));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_TypedSubscribeWithOptions_DeserializesPages(CancellationToken ct)
    {
        await using var host = await StartLaterAsync(ct);
        await using var client = await ConnectAsync(host.Ws(), ct, Later());
        await PutAppleAndBreadAsync(client, ct);

        await using var sub = client.SubscribeAsync("items", ClientTestJson.Default.ItemRow, new MkioSubscribeOptions { MaxCount = 1, Updates = false }, ct).GetAsyncEnumerator(ct);
        var first = await sub.NextAsync();
        var second = await sub.NextAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That((first.Type, first.HasMore, first.Rows.Single()), Is.EqualTo((MkioEventType.Snapshot, true, new ItemRow("A1", "apple", 10))));
            Assert.That((second.Type, second.HasMore, second.Rows.Single()), Is.EqualTo((MkioEventType.Page, false, new ItemRow("B2", "bread", 3))));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Later_QueryAsync_ConnectionLostMidway_ThrowsInsteadOfStartingOver(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var host = await ClientTestHost.StartAsync(Fixtures.FixtureA, dir, cancellationToken: ct);
        await using var client = new MkioClient(host.WsUrl, Later());
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Disconnected += (_, _) => lost.TrySetResult();
        await client.ConnectAsync(ct);
        foreach (var id in new[] { "1", "2", "3" })
        {
            await client.SendAsync("add_order", Order(id), cancellationToken: ct);
        }

        await using var rows = client.QueryAsync("all_orders", pageSize: 1, cancellationToken: ct).GetAsyncEnumerator(ct);
        var first = await rows.NextAsync();
        Assert.That(host.AbortConnections(), Is.EqualTo(1));
        await lost.Task.WaitAsync(ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Id(first), Is.EqualTo("1"));
            Assert.That(async () => await rows.MoveNextAsync(), Throws.InstanceOf<MkioConnectionLostException>().With.Message.Contains("paged query"));
        }
    }
}
