using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Mkio.Services.Listeners;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>
/// Query paging limits end to end over real Kestrel: the <c>max_buffer</c> key bounds the updates buffered while a
/// client pages (overflow ends it with a nack at the next getmore), and a paging left without getmore for longer
/// than the idle timeout is dropped silently (driven by a fake clock; asserted by state, never by waiting).
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class QueryPagingTests
{
    private const string Config = """
        db_path = "qpaging.db"

        [tables.items]
        columns = { id = "TEXT PRIMARY KEY", name = "TEXT NOT NULL", qty = "INTEGER DEFAULT 0" }

        [services.paged]
        protocol = "query"
        primary_table = "items"
        max_buffer = 3
        """ + "\n\n" + Fixtures.LaterListenersToml;

    private static Task PutAsync(TestSocket ws, string id, int qty, CancellationToken ct) =>
        ws.WriteAsync($$$"""{"service":"put","data":{"id":"{{{id}}}","name":"n","qty":{{{qty}}}}}""", ct);

    private static string Qty(string id, int qty) => $$"""{"qty":{{qty}},"_mkio_row":"{{id}}"}""";

    [Test, CancelAfter(60_000)]
    public async Task MaxBuffer_BoundsTheUpdatesBufferedWhilePaging(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, Config);
        await using (host)
        using (dir)
        {
            await using var writer = await host.ConnectAsync("ws", ct);
            await PutAsync(writer, "A", 1, ct);
            await PutAsync(writer, "B", 2, ct);
            await using var ws = await host.ConnectAsync("ws", ct);

            // Cap = max(3, 2 rows + maxcount 1) = 3: one row still to send plus two buffered updates fit.
            Assert.That(await ws.AskAsync("""{"type":"subscribe","service":"paged","protocol":"query","subid":"fits","maxcount":1,"fields":["qty"]}""", ct),
                Does.Contain("\"hasmore\":true"));
            await PutAsync(writer, "A", 3, ct);
            await PutAsync(writer, "A", 4, ct);
            Assert.That(await ws.AskAsync("""{"type":"getmore","service":"paged","subid":"fits"}""", ct), Does.Contain("\"hasmore\":false"));
            Assert.That(ProjectedRow(await ws.ReceiveRawAsync(ct)), Is.EqualTo(Qty("A", 3)));
            Assert.That(ProjectedRow(await ws.ReceiveRawAsync(ct)), Is.EqualTo(Qty("A", 4)));
            await ws.SendAsync("""{"type":"unsubscribe","service":"paged","subid":"fits"}""", cancellationToken: ct);

            _ = await ws.AskAsync("""{"type":"subscribe","service":"paged","protocol":"query","subid":"over","maxcount":1}""", ct);
            for (var qty = 5; qty <= 7; qty++)
            {
                await PutAsync(writer, "A", qty, ct);
            }

            Assert.That(await ws.AskAsync("""{"type":"getmore","service":"paged","subid":"over"}""", ct),
                Is.EqualTo("""{"type":"nack","service":"paged","message":"subscription reset: update buffer overflow","subid":"over"}"""));
            Assert.That(Subscriptions.LiveTest.Listener(host, "paged").SubscriberCount, Is.Zero);
        }
    }

    /// <summary>The row of an update frame without its ref tag (refs are generated here).</summary>
    private static string ProjectedRow(TestSocket.Received frame)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(frame.Text);
        var row = doc.RootElement.GetProperty("row");
        return $$"""{"qty":{{row.GetProperty("qty").GetInt32()}},"_mkio_row":"{{row.GetProperty("_mkio_row").GetString()}}"}""";
    }

    [Test, CancelAfter(60_000)]
    public async Task IdlePaging_DroppedSilentlyAfterTheTimeout_AGetmoreKeepsItAlive(CancellationToken ct)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (host, dir) = await LaterHost.StartAsync(ct, Config, builder: b => b.Services.AddSingleton<TimeProvider>(clock));
        await using (host)
        using (dir)
        {
            await using var writer = await host.ConnectAsync("ws", ct);
            foreach (var id in new[] { "A", "B", "C" })
            {
                await PutAsync(writer, id, 1, ct);
            }

            await using var ws = await host.ConnectAsync("ws", ct);
            _ = await ws.AskAsync("""{"type":"subscribe","service":"paged","protocol":"query","subid":"idle","maxcount":1}""", ct);
            _ = await ws.AskAsync("""{"type":"subscribe","service":"paged","protocol":"query","subid":"busy","maxcount":1}""", ct);
            var items = Subscriptions.LiveTest.Listener(host, "paged");
            Assert.That(items.SubscriberCount, Is.EqualTo(2));

            clock.Advance(QueryService.PagingIdle - TimeSpan.FromSeconds(10));
            Assert.That(await ws.AskAsync("""{"type":"getmore","service":"paged","subid":"busy"}""", ct), Does.Contain("\"hasmore\":true"));
            clock.Advance(TimeSpan.FromSeconds(10));
            Assert.That(items.SubscriberCount, Is.EqualTo(2), "exactly the timeout is not past it");

            clock.Advance(QueryService.PagingIdleCheck + TimeSpan.FromSeconds(1));
            Assert.That(items.SubscriberCount, Is.EqualTo(1));
            Assert.That(await ws.NoMessageWithinAsync(TimeSpan.FromMilliseconds(200), ct), Is.True, "dropped silently");
            Assert.That(await ws.AskAsync("""{"type":"getmore","service":"paged","subid":"idle"}""", ct),
                Is.EqualTo("""{"type":"nack","service":"paged","message":"unknown subid","subid":"idle"}"""));
            Assert.That(await ws.AskAsync("""{"type":"getmore","service":"paged","subid":"busy"}""", ct), Does.Contain("\"hasmore\":false"));
        }
    }
}
