using System.Text.Json;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>
/// Later subscribes end to end over real Kestrel, exact frames: <c>subid</c> echo, groups and unsubscribe by subid,
/// <c>fields</c> projection, query <c>snapshot</c>/<c>updates</c> flags and row tags, filter-out deletes, and a
/// 0.1.0 subscriber beside a later one on the same service.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class LaterSubscriptionTests
{
    private const string Config = """
        db_path = "subs.db"

        [tables.items]
        columns = { id = "TEXT PRIMARY KEY", name = "TEXT NOT NULL", qty = "INTEGER DEFAULT 0" }
        """ + "\n\n" + Fixtures.LaterListenersToml;

    private const string A1 = """{"id":"A1","name":"apple","qty":10,"_mkio_ref":"r1","_mkio_row":"A1"}""";
    private const string B2 = """{"id":"B2","name":"bread","qty":3,"_mkio_ref":"r2","_mkio_row":"B2"}""";

    private static async Task<(MkioTestHost Host, TempDirectory Dir, TestSocket Writer)> StartAsync(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, Config);
        var writer = await host.ConnectAsync("ws", ct);
        await PutAsync(writer, "r1", "A1", "apple", 10, ct);
        await PutAsync(writer, "r2", "B2", "bread", 3, ct);
        return (host, dir, writer);
    }

    /// <summary>Runs <paramref name="body"/> against a fresh server whose items A1 (r1) and B2 (r2) were written by <c>writer</c>.</summary>
    private static async Task WithServerAsync(CancellationToken ct, Func<MkioTestHost, TestSocket, Task> body)
    {
        var (host, dir, writer) = await StartAsync(ct);
        await using (host)
        using (dir)
        await using (writer)
        {
            await body(host, writer);
        }
    }

    private static async Task PutAsync(TestSocket ws, string @ref, string id, string name, int qty, CancellationToken ct)
    {
        var reply = await ws.RequestAsync($$$"""{"service":"put","ref":"{{{@ref}}}","data":{"id":"{{{id}}}","name":"{{{name}}}","qty":{{{qty}}}}}""", ct);
        Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
    }

    /// <summary>A reply on <paramref name="ws"/>: every message sent on it before was handled.</summary>
    private static async Task RoundTripAsync(TestSocket ws, CancellationToken ct) =>
        Assert.That(await ws.AskAsync("""{"service":"nope"}""", ct), Is.EqualTo("""{"type":"error","message":"Unknown service: nope"}"""));

    private static async Task SilentAsync(TestSocket ws, CancellationToken ct) =>
        Assert.That(await ws.NoMessageWithinAsync(TimeSpan.FromMilliseconds(300), ct), Is.True, "no further message expected");

    [Test, CancelAfter(60_000)]
    public Task Subid_EchoedOnSnapshotAndUpdates_UnsubscribeBySubidEndsOnlyThatGroup(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
        await using var ws = await host.ConnectAsync("ws", ct);
        Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"s1"}""", ct),
            Is.EqualTo($$"""{"type":"snapshot","service":"items","rows":[{{A1}},{{B2}}],"hasmore":false,"subid":"s1"}"""));
        Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"s2","filter":"qty > 5"}""", ct),
            Is.EqualTo($$"""{"type":"snapshot","service":"items","rows":[{{A1}}],"hasmore":false,"subid":"s2"}"""));

        await PutAsync(writer, "r3", "A1", "apple", 11, ct);
        const string row = """{"id":"A1","name":"apple","qty":11,"_mkio_ref":"r3","_mkio_row":"A1"}""";
        Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo($$"""{"type":"update","service":"items","op":"upsert","row":{{row}},"subid":"s1"}"""));
        Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo($$"""{"type":"update","service":"items","op":"upsert","row":{{row}},"subid":"s2"}"""));

        await ws.SendAsync("""{"type":"unsubscribe","service":"items","subid":"s1"}""", cancellationToken: ct);
        await RoundTripAsync(ws, ct);
        await PutAsync(writer, "r4", "A1", "apple", 12, ct);
        Assert.That(JsonDocument.Parse((await ws.ReceiveRawAsync(ct)).Text).RootElement.GetProperty("subid").GetString(), Is.EqualTo("s2"));
        await SilentAsync(ws, ct);

        await ws.SendAsync("""{"type":"unsubscribe","service":"items"}""", cancellationToken: ct);
        await RoundTripAsync(ws, ct);
        await PutAsync(writer, "r5", "A1", "apple", 13, ct);
        await SilentAsync(ws, ct);
        Assert.That(Subscriptions.LiveTest.Listener(host, "items").SubscriberCount, Is.Zero);
        });

    [Test, CancelAfter(60_000)]
    public Task Subid_SameSubidReplaces_DifferentSubidsAndA010SubscriberCoexist(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
        await using var ws = await host.ConnectAsync("ws", ct);
        Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"cache"}""", ct),
            Is.EqualTo("""{"type":"snapshot","service":"cache","ref":"r2","rows":[{"id":"A1","name":"apple","qty":10,"_mkio_ref":"r1"},{"id":"B2","name":"bread","qty":3,"_mkio_ref":"r2"}]}"""));
        Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"cache","subid":"a","fields":["qty"]}""", ct),
            Is.EqualTo("""{"type":"snapshot","service":"cache","rows":[{"qty":10,"_mkio_ref":"r1"},{"qty":3,"_mkio_ref":"r2"}],"hasmore":false,"subid":"a"}"""));
        _ = await ws.AskAsync("""{"type":"subscribe","service":"cache","subid":"b","fields":["name"]}""", ct);
        _ = await ws.AskAsync("""{"type":"subscribe","service":"cache","subid":"a","fields":["name"]}""", ct);

        await PutAsync(writer, "r3", "B2", "bun", 4, ct);
        Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"cache","ref":"r3","op":"update","row":{"id":"B2","name":"bun","qty":4,"_mkio_ref":"r3"}}"""));
        Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"cache","op":"update","row":{"name":"bun","_mkio_ref":"r3"},"subid":"b"}"""));
        Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"cache","op":"update","row":{"name":"bun","_mkio_ref":"r3"},"subid":"a"}"""));
        await SilentAsync(ws, ct);
        });

    [TestCase("""{"type":"subscribe","service":"items","protocol":"query","subid":"bad","ref":"x","fields":["id","nmae"]}""",
        """{"type":"nack","service":"items","message":"Unknown field: nmae. Available fields: id, name, qty, _mkio_ref. Did you mean 'name'?","ref":"x","subid":"bad"}""")]
    [TestCase("""{"type":"subscribe","service":"items","protocol":"query","txnid":"t","filter":"qtty > 1"}""",
        """{"type":"nack","service":"items","message":"Unknown field: qtty. Available fields: id, name, qty, _mkio_ref. Did you mean 'qty'?","txnid":"t"}""")]
    [TestCase("""{"type":"subscribe","service":"feed","subid":"f","fields":["txt"]}""",
        """{"type":"nack","service":"feed","message":"Unknown field: txt. Available fields: id, text, _mkio_ref. Did you mean 'text'?","subid":"f"}""")]
    [CancelAfter(60_000)]
    public Task Rejected_LaterNackEchoesRefTxnidSubid_AndRegistersNothing(string request, string expected, CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
        await using var ws = await host.ConnectAsync("ws", ct);
        Assert.That(await ws.AskAsync(request, ct), Is.EqualTo(expected));
        await PutAsync(writer, "r3", "A1", "apple", 11, ct);
        await SilentAsync(ws, ct);
        });

    [Test, CancelAfter(60_000)]
    public Task Query_SnapshotAndUpdatesFlags(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
        await using var ws = await host.ConnectAsync("ws", ct);
        await ws.SendAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"live","snapshot":false,"fields":["qty"]}""", cancellationToken: ct);
        await ws.SendAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"none","snapshot":0,"updates":null}""", cancellationToken: ct);
        Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"once","updates":false,"fields":["name"]}""", ct),
            Is.EqualTo("""{"type":"snapshot","service":"items","rows":[{"name":"apple","_mkio_ref":"r1","_mkio_row":"A1"},{"name":"bread","_mkio_ref":"r2","_mkio_row":"B2"}],"hasmore":false,"subid":"once"}"""));

        await PutAsync(writer, "r3", "C3", "cheese", 0, ct);
        Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"items","op":"upsert","row":{"qty":0,"_mkio_ref":"r3","_mkio_row":"C3"},"subid":"live"}"""));
        await SilentAsync(ws, ct);
        });

    [Test, CancelAfter(60_000)]
    public Task Query_RowStopsMatchingFilter_SentAsDeleteOnceToThatSubscriberOnly(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
        await using var later = await host.ConnectAsync("ws", ct);
        await using var old = await host.ConnectAsync("ws", ct);
        _ = await later.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","filter":"qty > 5","fields":["qty"]}""", ct);
        _ = await old.AskAsync("""{"type":"subscribe","service":"items","filter":"qty > 5"}""", ct);

        await PutAsync(writer, "r3", "A1", "apple", 2, ct);
        Assert.That((await later.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"items","op":"delete","row":{"qty":2,"_mkio_ref":"r3","_mkio_row":"A1"}}"""));
        await PutAsync(writer, "r4", "A1", "apple", 1, ct);
        await PutAsync(writer, "r5", "B2", "bread", 4, ct);
        await PutAsync(writer, "r6", "B2", "bread", 6, ct);
        Assert.That((await later.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"items","op":"upsert","row":{"qty":6,"_mkio_ref":"r6","_mkio_row":"B2"}}"""));
        Assert.That((await old.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"items","ref":"r6","op":"upsert","row":{"id":"B2","name":"bread","qty":6,"_mkio_ref":"r6"}}"""));
        await PutAsync(writer, "r7", "B2", "bread", 0, ct);
        Assert.That((await later.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"items","op":"delete","row":{"qty":0,"_mkio_ref":"r7","_mkio_row":"B2"}}"""));
        await SilentAsync(later, ct);
        await SilentAsync(old, ct);
        });

    [Test, CancelAfter(60_000)]
    public Task Stream_LaterSubscribe_RefCursorStrictFieldsAndSubid(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
        foreach (var (r, text) in new[] { ("e1", "one"), ("e2", "two") })
        {
            var reply = await writer.RequestAsync($$$"""{"service":"log","ref":"{{{r}}}","data":{"text":"{{{text}}}"}}""", ct);
            Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"));
        }

        await using var ws = await host.ConnectAsync("ws", ct);
        Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"feed","protocol":"stream","ref":"e1","subid":"f","fields":["text"]}""", ct),
            Is.EqualTo("""{"type":"snapshot","service":"feed","rows":[{"text":"two"}],"hasmore":false,"ref":"e2","subid":"f"}"""));
        _ = await writer.RequestAsync("""{"service":"log","ref":"e3","data":{"text":"three"}}""", ct);
        Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"feed","op":"insert","row":{"text":"three"},"ref":"e3","subid":"f"}"""));
        });

    [Test, CancelAfter(60_000)]
    public Task Query_Paging_InventedSubid_GetmoreThenBufferedUpdatesThenLive_Nacks(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
        await PutAsync(writer, "r3", "C3", "cheese", 7, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","maxcount":2,"fields":["qty"]}""", ct),
            Is.EqualTo("""{"type":"snapshot","service":"items","rows":[{"qty":10,"_mkio_ref":"r1","_mkio_row":"A1"},{"qty":3,"_mkio_ref":"r2","_mkio_row":"B2"}],"hasmore":true,"subid":"_mkio_q_1"}"""));

        await PutAsync(writer, "r4", "D4", "dates", 1, ct);
        await SilentAsync(ws, ct);
        Assert.That(await ws.AskAsync("""{"type":"getmore","service":"items","ref":"x"}""", ct),
            Is.EqualTo("""{"type":"nack","service":"items","message":"missing subid"}"""));
        Assert.That(await ws.AskAsync("""{"type":"getmore","service":"items","subid":"zz"}""", ct),
            Is.EqualTo("""{"type":"nack","service":"items","message":"unknown subid","subid":"zz"}"""));
        Assert.That(await ws.AskAsync("""{"type":"getmore","service":"items","subid":"_mkio_q_1","txnid":"t"}""", ct),
            Is.EqualTo("""{"type":"snapshot","service":"items","rows":[{"qty":7,"_mkio_ref":"r3","_mkio_row":"C3"}],"hasmore":false,"subid":"_mkio_q_1"}"""));
        Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"items","op":"upsert","row":{"qty":1,"_mkio_ref":"r4","_mkio_row":"D4"},"subid":"_mkio_q_1"}"""));

        await PutAsync(writer, "r5", "D4", "dates", 2, ct);
        Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"items","op":"upsert","row":{"qty":2,"_mkio_ref":"r5","_mkio_row":"D4"},"subid":"_mkio_q_1"}"""));
        Assert.That(await ws.AskAsync("""{"type":"getmore","service":"items","subid":"_mkio_q_1"}""", ct),
            Is.EqualTo("""{"type":"nack","service":"items","message":"unknown subid","subid":"_mkio_q_1"}"""));
        });

    [Test, CancelAfter(60_000)]
    public Task Query_Paging_WithSubidAndNoUpdates_EndsAfterLastPage_UnsubscribeDropsPaging(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
        await using var ws = await host.ConnectAsync("ws", ct);
        Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"p","maxcount":1,"updates":false,"fields":["id"]}""", ct),
            Is.EqualTo("""{"type":"snapshot","service":"items","rows":[{"id":"A1","_mkio_ref":"r1","_mkio_row":"A1"}],"hasmore":true,"subid":"p"}"""));
        Assert.That(await ws.AskAsync("""{"type":"getmore","service":"items","subid":"p"}""", ct),
            Is.EqualTo("""{"type":"snapshot","service":"items","rows":[{"id":"B2","_mkio_ref":"r2","_mkio_row":"B2"}],"hasmore":false,"subid":"p"}"""));
        await PutAsync(writer, "r3", "A1", "apple", 1, ct);
        await SilentAsync(ws, ct);
        Assert.That(Subscriptions.LiveTest.Listener(host, "items").SubscriberCount, Is.Zero);

        _ = await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"q","maxcount":1}""", ct);
        await ws.SendAsync("""{"type":"unsubscribe","service":"items","subid":"q"}""", cancellationToken: ct);
        Assert.That(await ws.AskAsync("""{"type":"getmore","service":"items","subid":"q"}""", ct),
            Is.EqualTo("""{"type":"nack","service":"items","message":"unknown subid","subid":"q"}"""));
        });

    [Test, CancelAfter(120_000)]
    public Task Query_Paging_BufferOverflow_NextGetmoreNacksAndEndsTheSubscription(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            _ = await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"o","maxcount":1}""", ct);

            // One row is still to send: the 1000th buffered update passes the cap of max(1000, 2 + 1).
            const int writes = 1000;
            for (var i = 0; i < writes; i++)
            {
                await writer.SendAsync($$$"""{"service":"put","data":{"id":"A1","name":"apple","qty":{{{i}}}}}""", cancellationToken: ct);
            }

            for (var i = 0; i < writes; i++)
            {
                Assert.That((await writer.ReceiveAsync(ct)).GetProperty("type").GetString(), Is.EqualTo("result"));
            }

            Assert.That(await ws.AskAsync("""{"type":"getmore","service":"items","subid":"o"}""", ct),
                Is.EqualTo("""{"type":"nack","service":"items","message":"subscription reset: update buffer overflow","subid":"o"}"""));
            Assert.That(Subscriptions.LiveTest.Listener(host, "items").SubscriberCount, Is.Zero);
            Assert.That(await ws.AskAsync("""{"type":"getmore","service":"items","subid":"o"}""", ct),
                Is.EqualTo("""{"type":"nack","service":"items","message":"unknown subid","subid":"o"}"""));
        });

    [Test, CancelAfter(60_000)]
    public async Task Subid_GroupsBeyondMaxSubscriptionsPerService_Nacked_ReplacingOrOtherConnectionsStillWork(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, Config, o => o.MaxSubscriptionsPerService = 2);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"s1"}""", ct), Does.StartWith("""{"type":"snapshot","""));
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"s2"}""", ct), Does.StartWith("""{"type":"snapshot","""));
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"s3"}""", ct),
                Is.EqualTo("""{"type":"nack","service":"items","message":"Too many subscriptions: this connection already holds 2 on service 'items' (limit 2, Mkio:MaxSubscriptionsPerService)","subid":"s3"}"""));
            Assert.That(Subscriptions.LiveTest.Listener(host, "items").SubscriberCount, Is.EqualTo(2));

            // Re-subscribing an existing group replaces it; another connection has its own allowance.
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"s2","filter":"qty > 5"}""", ct), Does.StartWith("""{"type":"snapshot","""));
            await using var other = await host.ConnectAsync("ws", ct);
            Assert.That(await other.AskAsync("""{"type":"subscribe","service":"items","protocol":"query","subid":"s3"}""", ct), Does.StartWith("""{"type":"snapshot","""));
        }
    }
}
