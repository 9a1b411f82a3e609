using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Mkio.Client.Tests.Support;
using static Mkio.Client.Tests.Support.ClientTest;

namespace Mkio.Client.Tests;

/// <summary>
/// What the client writes, and frames a real mkio server never sends (text frames, garbage),
/// against <see cref="FakeServer"/>.
/// </summary>
public partial class MkioClientTests
{
    [Test, CancelAfter(30_000)]
    public async Task Wire_MessageShapes_AreTheReferenceClients(CancellationToken ct)
    {
        await using var server = await FakeServer.StartAsync(ct);
        await using var client = await ConnectAsync(server.WsUrl, ct);
        var peer = await server.AcceptAsync(ct);

        var send = client.SendAsync("orders", new JsonObject { ["side"] = "Buy", ["qty"] = 1 }, op: "new", @ref: "r1", msgId: "m1", cancellationToken: ct);
        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"orders","data":{"side":"Buy","qty":1},"op":"new","msgid":"m1","ref":"r1"}"""));
        await peer.SendAsync("""{"type":"result","service":"orders","ref":"r1","msgid":"m1","ok":true}""", WebSocketMessageType.Text, ct);
        Assert.That((await send).Ref, Is.EqualTo("r1"), "text frames are accepted");

        var refless = client.SendAsync("orders", new JsonObject(), cancellationToken: ct);
        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"orders","data":{}}"""));
        await peer.SendAsync("""{"type":"result","service":"orders","ref":"s1","ok":true}""", WebSocketMessageType.Binary, ct);
        Assert.That((await refless).Ref, Is.EqualTo("s1"));

        var check = client.CheckAsync("orders", "r1", ct);
        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"orders","type":"check","ref":"r1"}"""));
        await peer.SendAsync("""{"type":"result","service":"orders","ref":"r1","ok":true}""", WebSocketMessageType.Text, ct);
        await check;

        await using (var sub = client.SubscribeAsync("feed", filter: "x > 1", fromRef: "c1", cancellationToken: ct).GetAsyncEnumerator(ct))
        {
            var first = sub.MoveNextAsync().AsTask();
            Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"feed","type":"subscribe","filter":"x \u003E 1","ref":"c1"}"""));
            await peer.SendAsync("""{"type":"snapshot","service":"feed","ref":"","rows":[]}""", WebSocketMessageType.Text, ct);
            Assert.That(await first, Is.True);
            Assert.That(sub.Current.Ref, Is.Null, "an empty ref is no cursor");
        }

        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"feed","type":"unsubscribe"}"""));
        peer.Done.TrySetResult();
    }

    [Test, CancelAfter(30_000)]
    public async Task Wire_NonFiniteFloatTokens_ArriveAsStrings(CancellationToken ct)
    {
        await using var server = await FakeServer.StartAsync(ct);
        await using var client = await ConnectAsync(server.WsUrl, ct);
        var peer = await server.AcceptAsync(ct);

        await using var sub = client.SubscribeAsync("feed", cancellationToken: ct).GetAsyncEnumerator(ct);
        var first = sub.MoveNextAsync().AsTask();
        await peer.ReceiveAsync(ct);
        await peer.SendAsync("""{"type":"snapshot","service":"feed","ref":"c1","rows":[{"id":1,"a":NaN,"b":-Infinity,"c":[Infinity],"s":"NaN \"Infinity\""}]}""", WebSocketMessageType.Binary, ct);
        Assert.That(await first, Is.True);
        Assert.That(sub.Current.Rows[0].GetRawText(), Is.EqualTo("""{"id":1,"a":"NaN","b":"-Infinity","c":["Infinity"],"s":"NaN \"Infinity\""}"""));
        peer.Done.TrySetResult();
    }

    [Test, CancelAfter(30_000)]
    public async Task Wire_FrameThatIsNotJson_DropsTheConnection_FailsPending_ResubscribesFromTheCursor(CancellationToken ct)
    {
        await using var server = await FakeServer.StartAsync(ct);
        await using var client = await ConnectAsync(server.WsUrl, ct);
        var peer = await server.AcceptAsync(ct);

        await using var sub = client.SubscribeAsync("feed", filter: "x > 1", cancellationToken: ct).GetAsyncEnumerator(ct);
        var first = sub.MoveNextAsync().AsTask();
        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"feed","type":"subscribe","filter":"x \u003E 1"}"""));
        await peer.SendAsync("""{"type":"snapshot","service":"feed","ref":"c1","rows":[]}""", WebSocketMessageType.Binary, ct);
        await peer.SendAsync("""{"type":"update","service":"feed","ref":"c2","op":"insert","row":{"id":1}}""", WebSocketMessageType.Binary, ct);
        Assert.That(await first, Is.True);
        Assert.That((await sub.NextAsync()).Ref, Is.EqualTo("c2"));

        var pending = client.SendAsync("orders", new JsonObject(), cancellationToken: ct);
        await peer.ReceiveAsync(ct);
        await peer.SendAsync("this is not json", WebSocketMessageType.Text, ct);

        var lost = Assert.ThrowsAsync<MkioConnectionLostException>(() => pending);
        Assert.That(lost!.InnerException, Is.InstanceOf<MkioProtocolException>());

        // The new connection resubscribes with the filter and the last ref seen.
        var again = await server.AcceptAsync(ct);
        Assert.That(await again.ReceiveAsync(ct), Is.EqualTo("""{"service":"feed","type":"subscribe","filter":"x \u003E 1","ref":"c2"}"""));
        await again.SendAsync("""{"type":"delta","service":"feed","ref":"c3","changes":[{"op":"insert","row":{"id":2}}]}""", WebSocketMessageType.Binary, ct);
        var delta = await sub.NextAsync();
        Assert.That((delta.Type, delta.Ref, delta.Changes.GetArrayLength()), Is.EqualTo((MkioEventType.Delta, "c3", 1)));
        peer.Done.TrySetResult();
        again.Done.TrySetResult();
    }

    [Test, CancelAfter(30_000)]
    public async Task Wire_UpdateBeforeTheAnswerToANewSubscribe_BelongsToTheOldOneAndIsDropped(CancellationToken ct)
    {
        await using var server = await FakeServer.StartAsync(ct);
        await using var client = await ConnectAsync(server.WsUrl, ct);
        var peer = await server.AcceptAsync(ct);

        await using var old = await SubscribedAsync(client, peer, "feed", "c1", ct);

        await using var replacement = client.SubscribeAsync("feed", filter: "x > 1", cancellationToken: ct).GetAsyncEnumerator(ct);
        var first = replacement.MoveNextAsync().AsTask();
        await peer.ReceiveAsync(ct);

        // Sent by the server for the old subscription before it handled the new subscribe.
        await peer.SendAsync("""{"type":"update","service":"feed","ref":"c2","op":"insert","row":{"id":1}}""", WebSocketMessageType.Binary, ct);
        await peer.SendAsync("""{"type":"snapshot","service":"feed","ref":"c2","rows":[{"id":1}]}""", WebSocketMessageType.Binary, ct);
        await peer.SendAsync("""{"type":"update","service":"feed","ref":"c3","op":"insert","row":{"id":2}}""", WebSocketMessageType.Binary, ct);

        Assert.That(await first, Is.True);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(replacement.Current.Type, Is.EqualTo(MkioEventType.Snapshot));
            Assert.That((await replacement.NextAsync()).Ref, Is.EqualTo("c3"));
            Assert.That(await old.MoveNextAsync(), Is.False);
        }

        peer.Done.TrySetResult();
    }

    [TestCase("""{"a":NaN}""", """{"a":"NaN"}""")]
    [TestCase("""[Infinity,-Infinity,1]""", """["Infinity","-Infinity",1]""")]
    [TestCase("""{"s":"NaN\\\"Infinity","n":NaN}""", """{"s":"NaN\\\"Infinity","n":"NaN"}""")]
    public void NonFiniteTokens_Quote_QuotesTokensOutsideStrings(string input, string expected) =>
        Assert.That(Encoding.UTF8.GetString(NonFiniteTokens.Quote(Encoding.UTF8.GetBytes(input))!), Is.EqualTo(expected));

    [Test]
    public void NonFiniteTokens_Quote_NoTokens_ReturnsNull() =>
        Assert.That(NonFiniteTokens.Quote("""{"s":"NaN","n":-1.5e3}"""u8), Is.Null);

    /// <summary>
    /// Item 145 (fixing the Python client's rule 1): the update a send causes carries the send's ref and,
    /// from a server, usually arrives before the result. It goes to the subscription; only the result
    /// resolves the send.
    /// </summary>
    [Test, CancelAfter(30_000)]
    public async Task Wire_UpdateWithAPendingSendsRefArrivesFirst_GoesToTheSubscriptionAndTheResultResolvesTheSend(CancellationToken ct)
    {
        await using var server = await FakeServer.StartAsync(ct);
        await using var client = await ConnectAsync(server.WsUrl, ct);
        var peer = await server.AcceptAsync(ct);

        await using var sub = await SubscribedAsync(client, peer, "last_trade", "c0", ct);

        var send = client.SendAsync("orders", new JsonObject { ["id"] = "1" }, @ref: "r7", cancellationToken: ct);
        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo("""{"service":"orders","data":{"id":"1"},"ref":"r7"}"""));
        await peer.SendAsync("""{"type":"update","service":"last_trade","ref":"r7","op":"insert","row":{"id":"1"}}""", WebSocketMessageType.Binary, ct);
        Assert.That(await sub.MoveNextAsync(), Is.True);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(sub.Current.Type, Is.EqualTo(MkioEventType.Update));
            Assert.That(sub.Current.Ref, Is.EqualTo("r7"));
            Assert.That(send.IsCompleted, Is.False, "an update never resolves a send");
        }

        await peer.SendAsync("""{"type":"result","service":"orders","ref":"r7","ok":true}""", WebSocketMessageType.Binary, ct);
        var result = await send;
        Assert.That((result.Service, result.Ref, result.Reply.GetProperty("ok").GetBoolean()), Is.EqualTo(("orders", "r7", true)));
        peer.Done.TrySetResult();
    }

    /// <summary>Subscribes to <paramref name="service"/> through the fake <paramref name="peer"/> and delivers an empty snapshot at <paramref name="snapshotRef"/>.</summary>
    private static async Task<IAsyncEnumerator<MkioEvent>> SubscribedAsync(MkioClient client, FakePeer peer, string service, string snapshotRef, CancellationToken ct)
    {
        var sub = client.SubscribeAsync(service, cancellationToken: ct).GetAsyncEnumerator(ct);
        var first = sub.MoveNextAsync().AsTask();
        Assert.That(await peer.ReceiveAsync(ct), Is.EqualTo($$"""{"service":"{{service}}","type":"subscribe"}"""));
        await peer.SendAsync($$"""{"type":"snapshot","service":"{{service}}","ref":"{{snapshotRef}}","rows":[]}""", WebSocketMessageType.Binary, ct);
        Assert.That(await first, Is.True);
        return sub;
    }
}
