using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>
/// Later stream paging end to end over real Kestrel, exact frames: forward pages from a ref cursor (<c>maxcount</c>),
/// backward pages before a ref (<c>"before": true</c>), filters and strict <c>fields</c> on pages, nothing registered
/// until a subscribe without <c>maxcount</c>, and a 0.1.0 subscriber on the same stream meanwhile.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class StreamPagingTests
{
    private const string Config = """
        db_path = "paging.db"

        [tables.events]
        columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", text = "TEXT" }

        [services.log]
        protocol = "transaction"
        table = "events"
        op_type = "insert"
        fields = ["text"]

        [services.feed]
        protocol = "stream"
        primary_table = "events"
        filterable = ["text"]
        """;

    private static readonly string[] Texts = ["one", "two", "three", "four", "five"];

    private static string E(int n) => $$"""{"id":{{n}},"text":"{{Texts[n - 1]}}","_mkio_ref":"e{{n}}"}""";

    private static string Page(string rows, bool hasMore, string @ref, string? subId = null) =>
        $$"""{"type":"snapshot","service":"feed","rows":[{{rows}}],"hasmore":{{(hasMore ? "true" : "false")}},"ref":"{{@ref}}"{{(subId is null ? "" : $",\"subid\":\"{subId}\"")}}}""";

    private static async Task WithServerAsync(CancellationToken ct, Func<MkioTestHost, TestSocket, Task> body)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, Config);
        await using (host)
        using (dir)
        {
            await using var writer = await host.ConnectAsync("ws", ct);
            for (var i = 1; i <= Texts.Length; i++)
            {
                await LogAsync(writer, $"e{i}", Texts[i - 1], ct);
            }

            await body(host, writer);
        }
    }

    private static Task LogAsync(TestSocket ws, string @ref, string text, CancellationToken ct) =>
        ws.WriteAsync($$$"""{"service":"log","ref":"{{{@ref}}}","data":{"text":"{{{text}}}"}}""", ct);

    [Test, CancelAfter(60_000)]
    public Task Forward_PagesFromTheCursor_NothingRegistered_ThenLiveWithoutMaxcount(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            await using var old = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"feed","protocol":"stream","maxcount":2,"subid":"f"}""", ct),
                Is.EqualTo(Page($"{E(1)},{E(2)}", true, "e2", "f")));
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"feed","protocol":"stream","maxcount":2,"subid":"f","ref":"e2"}""", ct),
                Is.EqualTo(Page($"{E(3)},{E(4)}", true, "e4", "f")));
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"feed","protocol":"stream","maxcount":2,"ref":"e4"}""", ct),
                Is.EqualTo(Page(E(5), false, "e5")));
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"feed","protocol":"stream","maxcount":2,"ref":"e5"}""", ct),
                Is.EqualTo(Page("", false, "")));

            // A 0.1.0 subscriber on the same stream keeps the 0.1.0 shapes.
            Assert.That(await old.AskAsync("""{"type":"subscribe","service":"feed","ref":"e4"}""", ct),
                Is.EqualTo($$"""{"type":"snapshot","service":"feed","ref":"e5","rows":[{{E(5)}}]}"""));
            Assert.That(Subscriptions.LiveTest.Listener(host, "feed").SubscriberCount, Is.EqualTo(1));

            await LogAsync(writer, "e6", "six", ct);
            Assert.That((await old.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"feed","ref":"e6","op":"insert","row":{"id":6,"text":"six","_mkio_ref":"e6"}}"""));
            await ws.SilentAsync(ct);

            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"feed","protocol":"stream","ref":"e5","subid":"f"}""", ct),
                Is.EqualTo("""{"type":"snapshot","service":"feed","rows":[{"id":6,"text":"six","_mkio_ref":"e6"}],"hasmore":false,"ref":"e6","subid":"f"}"""));
            await LogAsync(writer, "e7", "seven", ct);
            Assert.That((await ws.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"feed","op":"insert","row":{"id":7,"text":"seven","_mkio_ref":"e7"},"ref":"e7","subid":"f"}"""));
        });

    [TestCase("""{"type":"subscribe","service":"feed","protocol":"stream","before":true,"ref":"e5","maxcount":2}""", "3,4", true, "e3")]
    [TestCase("""{"type":"subscribe","service":"feed","protocol":"stream","before":true,"ref":"e3","maxcount":2}""", "1,2", false, "e1")]
    [TestCase("""{"type":"subscribe","service":"feed","protocol":"stream","before":true,"maxcount":2}""", "4,5", true, "e4")]
    [TestCase("""{"type":"subscribe","service":"feed","protocol":"stream","before":true,"ref":"e4"}""", "1,2,3", false, "e1")]
    [TestCase("""{"type":"subscribe","service":"feed","protocol":"stream","before":true,"ref":"e1","maxcount":2}""", "", false, "")]
    [TestCase("""{"type":"subscribe","service":"feed","protocol":"stream","before":true,"ref":"e3z","maxcount":5}""", "1,2,3", false, "e1")]
    [TestCase("""{"type":"subscribe","service":"feed","protocol":"stream","maxcount":2,"filter":"text != 'two'"}""", "1,3", true, "e3")]
    [TestCase("""{"type":"subscribe","service":"feed","protocol":"stream","before":true,"maxcount":3,"filter":"text != 'four'"}""", "2,3,5", true, "e2")]
    [CancelAfter(60_000)]
    public Task Pages_ExactRowsRefAndHasmore_NothingRegistered(string request, string rows, bool hasMore, string @ref, CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            var expected = string.Join(",", rows.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(n => E(int.Parse(n, System.Globalization.CultureInfo.InvariantCulture))));
            Assert.That(await ws.AskAsync(request, ct), Is.EqualTo(Page(expected, hasMore, @ref)));
            Assert.That(Subscriptions.LiveTest.Listener(host, "feed").SubscriberCount, Is.Zero);
            await LogAsync(writer, "e6", "six", ct);
            await ws.SilentAsync(ct);
        });

    [Test, CancelAfter(60_000)]
    public Task Fields_StrictOnPages_BooleanMaxcountOrBeforeIsNotPaging(CancellationToken ct)
        => WithServerAsync(ct, async (host, writer) =>
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"feed","protocol":"stream","before":true,"maxcount":1,"fields":["text"],"subid":"b"}""", ct),
                Is.EqualTo("""{"type":"snapshot","service":"feed","rows":[{"text":"five"}],"hasmore":true,"ref":"e5","subid":"b"}"""));

            // maxcount true and before "yes" are no paging: the whole buffer, then live.
            var all = string.Join(",", Enumerable.Range(1, 5).Select(E));
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"feed","protocol":"stream","maxcount":true,"before":"yes","subid":"l"}""", ct),
                Is.EqualTo(Page(all, false, "e5", "l")));
            Assert.That(Subscriptions.LiveTest.Listener(host, "feed").SubscriberCount, Is.EqualTo(1));
        });
}
