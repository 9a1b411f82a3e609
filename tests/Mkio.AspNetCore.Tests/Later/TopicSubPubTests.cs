using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>
/// Subpub topic subscriptions end to end over real Kestrel, exact frames: one row per requested topic (existing,
/// missing with <c>defaults</c>), every change as <c>op:"update"</c> to the topics it changed, <c>where</c> freezing a
/// topic while the 0.1.0 cache beside it evicts the row, deletes, the topic errors, and a config written with
/// <c>topic</c> and <c>defaults</c>.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class TopicSubPubTests
{
    private const string Config = """
        db_path = "topics.db"

        [tables.items]
        columns = { id = "TEXT PRIMARY KEY", name = "TEXT NOT NULL", qty = "INTEGER DEFAULT 0" }

        [services.del]
        protocol = "transaction"
        table = "items"
        op_type = "delete"
        key = ["id"]

        [services.stock]
        protocol = "subpub"
        primary_table = "items"
        topic = "id"
        where = "qty > 0"
        defaults = { name = "'unknown ' + _mkio_topic", qty = 0 }

        [services.shown]
        protocol = "subpub"
        primary_table = "items"
        topic = "id"
        publish = { item = "id", label = "upper(name)" }
        defaults = { label = "'-'" }

        [services.totals]
        protocol = "subpub"
        primary_table = "items"
        topic = "name"
        sql = "SELECT name, sum(qty) AS total FROM items GROUP BY name"
        """ + "\n\n" + Fixtures.LaterListenersToml;

    private static string Row(string id, string name, int qty, string @ref, string? topic = null) =>
        $$"""{"id":"{{id}}","name":"{{name}}","qty":{{qty}},"_mkio_ref":"{{@ref}}","_mkio_topic":"{{topic ?? id}}","_mkio_exists":true}""";

    private static string Missing(string topic) =>
        $$"""{"id":null,"name":"unknown {{topic}}","qty":0,"_mkio_ref":null,"_mkio_topic":"{{topic}}","_mkio_exists":false}""";

    private static async Task WithServerAsync(CancellationToken ct, Func<MkioTestHost, TestSocket, Task> body)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, Config);
        await using (host)
        using (dir)
        {
            await using var writer = await host.ConnectAsync("ws", ct);
            await PutAsync(writer, "r1", "A1", "apple", 10, ct);
            await PutAsync(writer, "r2", "B2", "bread", 3, ct);
            await body(host, writer);
        }
    }

    private static Task PutAsync(TestSocket ws, string @ref, string id, string name, int qty, CancellationToken ct) =>
        ws.WriteAsync($$$"""{"service":"put","ref":"{{{@ref}}}","data":{"id":"{{{id}}}","name":"{{{name}}}","qty":{{{qty}}}}}""", ct);

    private static Task DeleteAsync(TestSocket ws, string @ref, string id, CancellationToken ct) =>
        ws.WriteAsync($$$"""{"service":"del","ref":"{{{@ref}}}","data":{"id":"{{{id}}}"}}""", ct);

    [Test, CancelAfter(60_000)]
    public Task Snapshot_OneRowPerTopicInRequestOrder_MissingRowsFromDefaults_LiveUpdatesPerTopic(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"stock","protocol":"subpub","topic":["A1","ZZ","A1"],"subid":"p","ref":"x"}""", ct),
                Is.EqualTo($$"""{"type":"snapshot","service":"stock","rows":[{{Row("A1", "apple", 10, "r1")}},{{Missing("ZZ")}},{{Row("A1", "apple", 10, "r1")}}],"hasmore":false,"subid":"p"}"""));

            // B2 is not followed; A1 changes once per entry (duplicates in the request make one entry).
            await PutAsync(writer, "r3", "B2", "bread", 4, ct);
            await PutAsync(writer, "r4", "A1", "apple", 11, ct);
            Assert.That((await ws.ReceiveRawAsync(ct)).Text,
                Is.EqualTo($$"""{"type":"update","service":"stock","op":"update","row":{{Row("A1", "apple", 11, "r4")}},"subid":"p"}"""));
            await PutAsync(writer, "r5", "ZZ", "zed", 2, ct);
            Assert.That((await ws.ReceiveRawAsync(ct)).Text,
                Is.EqualTo($$"""{"type":"update","service":"stock","op":"update","row":{{Row("ZZ", "zed", 2, "r5")}},"subid":"p"}"""));
            await DeleteAsync(writer, "r6", "ZZ", ct);
            Assert.That((await ws.ReceiveRawAsync(ct)).Text,
                Is.EqualTo($$"""{"type":"update","service":"stock","op":"update","row":{{Missing("ZZ")}},"subid":"p"}"""));
            await ws.SilentAsync(ct);

            // A topic given as a number is its text; a single topic needs no array; fields keep the _mkio_ tags.
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"stock","protocol":"subpub","topic":7,"fields":["name"]}""", ct),
                Is.EqualTo("""{"type":"snapshot","service":"stock","rows":[{"name":"unknown 7","_mkio_ref":null,"_mkio_topic":"7","_mkio_exists":false}],"hasmore":false}"""));
        });

    [Test, CancelAfter(60_000)]
    public Task Where_FreezesTheTopicRow_WhileThe010CacheOnTheSameServiceEvictsIt(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var later = await host.ConnectAsync("ws", ct);
            await using var old = await host.ConnectAsync("ws", ct);
            _ = await later.AskAsync("""{"type":"subscribe","service":"stock","protocol":"subpub","topic":"A1"}""", ct);
            Assert.That(await old.AskAsync("""{"type":"subscribe","service":"stock"}""", ct),
                Is.EqualTo("""{"type":"snapshot","service":"stock","ref":"r2","rows":[{"id":"A1","name":"apple","qty":10,"_mkio_ref":"r1"},{"id":"B2","name":"bread","qty":3,"_mkio_ref":"r2"}]}"""));

            // qty 0 fails where: the 0.1.0 subscriber is told the row left; the topic row stays as it was, silently.
            await PutAsync(writer, "r3", "A1", "apple", 0, ct);
            Assert.That((await old.ReceiveRawAsync(ct)).Text,
                Is.EqualTo("""{"type":"update","service":"stock","ref":"r3","op":"delete","row":{"id":"A1","name":"apple","qty":0,"_mkio_ref":"r3"}}"""));
            await later.SilentAsync(ct);
            Assert.That(await later.AskAsync("""{"type":"subscribe","service":"stock","protocol":"subpub","topic":["A1"],"subid":"again"}""", ct),
                Is.EqualTo($$"""{"type":"snapshot","service":"stock","rows":[{{Row("A1", "apple", 10, "r1")}}],"hasmore":false,"subid":"again"}"""));

            // Passing where again brings the topic back to life (both entries of the connection are told).
            await PutAsync(writer, "r4", "A1", "apple", 5, ct);
            Assert.That((await later.ReceiveRawAsync(ct)).Text, Is.EqualTo($$"""{"type":"update","service":"stock","op":"update","row":{{Row("A1", "apple", 5, "r4")}}}"""));
            Assert.That((await later.ReceiveRawAsync(ct)).Text, Is.EqualTo($$"""{"type":"update","service":"stock","op":"update","row":{{Row("A1", "apple", 5, "r4")}},"subid":"again"}"""));
            Assert.That((await old.ReceiveRawAsync(ct)).Text,
                Is.EqualTo("""{"type":"update","service":"stock","ref":"r4","op":"insert","row":{"id":"A1","name":"apple","qty":5,"_mkio_ref":"r4"}}"""));

            // Unsubscribe by subid ends only that group.
            await later.SendAsync("""{"type":"unsubscribe","service":"stock","subid":"again"}""", cancellationToken: ct);
            Assert.That(await later.AskAsync("""{"service":"nope"}""", ct), Is.EqualTo("""{"type":"error","message":"Unknown service: nope"}"""));
            await PutAsync(writer, "r5", "A1", "apple", 6, ct);
            Assert.That((await later.ReceiveRawAsync(ct)).Text, Does.Not.Contain("subid"));
            await later.SilentAsync(ct);
        });

    [Test, CancelAfter(60_000)]
    public Task Publish_FormatsExistingRows_TemplateUsesPublishKeys(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"shown","protocol":"subpub","topic":["B2","Q"]}""", ct),
                Is.EqualTo("""{"type":"snapshot","service":"shown","rows":[{"item":"B2","label":"BREAD","_mkio_ref":"r2","_mkio_topic":"B2","_mkio_exists":true},{"item":null,"label":"-","_mkio_ref":null,"_mkio_topic":"Q","_mkio_exists":false}],"hasmore":false}"""));
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"cache","protocol":"subpub","topic":"Q"}""", ct),
                Is.EqualTo("""{"type":"snapshot","service":"cache","rows":[{"id":null,"name":null,"qty":null,"_mkio_ref":null,"_mkio_topic":"Q","_mkio_exists":false}],"hasmore":false}"""));

            // Without where the topic view is dropped once nobody follows a topic, and rebuilt on the next topic subscribe.
            var cache = (Mkio.Services.Listeners.SubPubService)Subscriptions.LiveTest.Listener(host, "cache");
            Assert.That(cache.TopicCount, Is.EqualTo(2));
            await ws.SendAsync("""{"type":"unsubscribe","service":"cache"}""", cancellationToken: ct);
            await PutAsync(writer, "r3", "A1", "apple", 12, ct);
            await Eventually.WaitUntilAsync(() => cache.TopicCount is null, "topic view dropped", ct);
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"cache","protocol":"subpub","topic":"A1","fields":["qty"]}""", ct),
                Is.EqualTo("""{"type":"snapshot","service":"cache","rows":[{"qty":12,"_mkio_ref":"r3","_mkio_topic":"A1","_mkio_exists":true}],"hasmore":false}"""));
        });

    [Test, CancelAfter(60_000)]
    public Task CustomSql_RerunOnChange_OnlyTopicsWhoseRowChangedAreTold(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"totals","protocol":"subpub","topic":["apple","bread"]}""", ct),
                Is.EqualTo("""{"type":"snapshot","service":"totals","rows":[{"name":"apple","total":10,"_mkio_ref":"","_mkio_topic":"apple","_mkio_exists":true},{"name":"bread","total":3,"_mkio_ref":"","_mkio_topic":"bread","_mkio_exists":true}],"hasmore":false}"""));
            await PutAsync(writer, "r3", "A9", "apple", 5, ct);
            Assert.That((await ws.ReceiveRawAsync(ct)).Text,
                Is.EqualTo("""{"type":"update","service":"totals","op":"update","row":{"name":"apple","total":15,"_mkio_ref":"","_mkio_topic":"apple","_mkio_exists":true}}"""));
            await DeleteAsync(writer, "r4", "B2", ct);
            Assert.That((await ws.ReceiveRawAsync(ct)).Text,
                Is.EqualTo("""{"type":"update","service":"totals","op":"update","row":{"name":null,"total":null,"_mkio_ref":null,"_mkio_topic":"bread","_mkio_exists":false}}"""));
            await ws.SilentAsync(ct);
        });

    [TestCase("""{"type":"subscribe","service":"stock","protocol":"subpub","topic":null,"ref":"x","subid":"s"}""", """{"type":"error","message":"SubPub subscribe requires 'topic'"}""")]
    [TestCase("""{"type":"subscribe","service":"stock","protocol":"subpub","topic":[],"txnid":"t"}""", """{"type":"error","message":"SubPub subscribe 'topic' array must not be empty"}""")]
    [CancelAfter(60_000)]
    public Task TopicErrors_NoEcho_NothingRegistered(string request, string expected, CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync(request, ct), Is.EqualTo(expected));
            await PutAsync(writer, "r3", "A1", "apple", 11, ct);
            await ws.SilentAsync(ct);
            Assert.That(Subscriptions.LiveTest.Listener(host, "stock").SubscriberCount, Is.Zero);
        });

    [Test, CancelAfter(60_000)]
    public async Task TopicsBeyondMaxSubscriptionsPerService_Nacked()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = cts.Token;
        var (host, dir) = await LaterHost.StartAsync(ct, Config, o => o.MaxSubscriptionsPerService = 2);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"cache","protocol":"subpub","topic":["a","b","c"],"subid":"t"}""", ct),
                Is.EqualTo("""{"type":"nack","service":"cache","message":"Too many subscriptions: this connection already holds 0 on service 'cache' (limit 2, Mkio:MaxSubscriptionsPerService)","subid":"t"}"""));
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"cache","protocol":"subpub","topic":["a","b","a"],"subid":"t"}""", ct), Does.StartWith("""{"type":"snapshot","""));
            Assert.That(Subscriptions.LiveTest.Listener(host, "cache").SubscriberCount, Is.EqualTo(2));
        }
    }
}
