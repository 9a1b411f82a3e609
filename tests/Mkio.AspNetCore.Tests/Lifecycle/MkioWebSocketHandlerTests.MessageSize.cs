using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>
/// The inbound size limit (PROTOCOL.md §1.6, CONFORMANCE item 150): a message of the limit or more
/// closes its connection with 1009 and never reaches the dispatcher, the monitors or the database;
/// anything below it is executed; other connections are unaffected.
/// </summary>
public partial class MkioWebSocketHandlerTests
{
    private const int FourMiB = 4 * 1024 * 1024;

    private static void Orders(MkioOptions o)
    {
        o.DbPath = ":memory:";
        o.BatchMaxWaitMs = 1;
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("qty", "INTEGER")
                .Column("symbol", "TEXT NOT NULL"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "qty", "symbol"]));
    }

    /// <summary>A transaction inserting <paramref name="id"/> whose UTF-8 encoding is exactly <paramref name="totalBytes"/> long.</summary>
    private static byte[] TransactionOfLength(string id, int totalBytes)
    {
        var head = $$"""{"service":"add_order","ref":"{{id}}","data":{"id":"{{id}}","qty":1,"symbol":""" + "\"";
        const string tail = "\"}}";
        var message = LifecycleSupport.Utf8(head + LifecycleSupport.Padding(totalBytes - head.Length - tail.Length) + tail);
        Assert.That(message, Has.Length.EqualTo(totalBytes));
        return message;
    }

    private static string Insert(string id) => $$$"""{"service":"add_order","ref":"{{{id}}}","data":{"id":"{{{id}}}","qty":1,"symbol":"S"}}""";

    private static string Ok(string id) => $$"""{"type":"result","service":"add_order","ref":"{{id}}","ok":true}""";

    private static async Task<List<string>> IdsAsync(MkioTestHost host, CancellationToken ct) =>
        [.. (await LifecycleSupport.QueryHostAsync(host, "SELECT id FROM orders ORDER BY id", ct)).Select(r => (string)r[0]!)];

    private static async Task SendIgnoringResetAsync(Func<Task> send)
    {
        try
        {
            await send();
        }
        catch (WebSocketException)
        {
            // The server may close while the rest of the oversized message is still being sent.
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task ReceiveLoop_MessageOf5MiB_ClosesWith1009AndNothingReachesMonitorsOrDatabase(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        using var oversized = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.server.oversized_messages");
        await using var other = await host.ConnectAsync("ws", ct);
        var ack = await other.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct);
        Assert.That(ack.GetRawText(), Is.EqualTo("""{"type":"monitor_ack","service":"add_order"}"""));

        await using var big = await host.ConnectAsync("ws", ct);
        await SendIgnoringResetAsync(() => big.SendBytesAsync(TransactionOfLength("big", 5 * 1024 * 1024), cancellationToken: ct));
        await big.Closed.WaitAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(big.CloseStatus, Is.EqualTo(WebSocketCloseStatus.MessageTooBig));
            Assert.That(big.Pending, Is.Zero, "no error reply precedes the close");
            Assert.That(oversized.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1));
        }

        // The other connection keeps working, and its monitor never saw the oversized message.
        await other.SendAsync(Insert("after"), cancellationToken: ct);
        var first = await other.ReceiveAsync(ct);
        var result = await other.ReceiveAsync(ct);
        var echo = await other.ReceiveAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.GetRawText(), Is.EqualTo($$"""{"direction":"in","service":"add_order","message":{{Insert("after")}}}"""));
            Assert.That(result.GetRawText(), Is.EqualTo(Ok("after")));
            Assert.That(echo.GetRawText(), Is.EqualTo($$"""{"direction":"out","service":"add_order","message":{{Ok("after")}}}"""));
            Assert.That(await IdsAsync(host, ct), Is.EqualTo(new[] { "after" }));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task ReceiveLoop_MessageJustBelow4MiB_IsExecuted(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        var symbol = LifecycleSupport.Padding(4_000_000);
        var reply = await ws.RequestAsync($$$"""{"service":"add_order","ref":"large","data":{"id":"large","qty":1,"symbol":"{{{symbol}}}"}}""", ct);
        Assert.That(reply.GetRawText(), Is.EqualTo(Ok("large")));

        var rows = await LifecycleSupport.QueryHostAsync(host, "SELECT length(symbol) FROM orders WHERE id = 'large'", ct);
        Assert.That(rows.Single()[0], Is.EqualTo(4_000_000L));
    }

    [Test, CancelAfter(60_000)]
    public async Task ReceiveLoop_DefaultLimitBoundary_AcceptsOneByteBelowAndClosesAtExactly4MiB(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        await using var below = await host.ConnectAsync("ws", ct);
        await below.SendBytesAsync(TransactionOfLength("below", FourMiB - 1), cancellationToken: ct);
        Assert.That((await below.ReceiveAsync(ct)).GetRawText(), Is.EqualTo(Ok("below")));

        await using var at = await host.ConnectAsync("ws", ct);
        await SendIgnoringResetAsync(() => at.SendBytesAsync(TransactionOfLength("at", FourMiB), cancellationToken: ct));
        await at.Closed.WaitAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(at.CloseStatus, Is.EqualTo(WebSocketCloseStatus.MessageTooBig));
            Assert.That(await IdsAsync(host, ct), Is.EqualTo(new[] { "below" }));
        }

        // The connection that sent the accepted message is still open.
        Assert.That((await below.RequestAsync(Insert("again"), ct)).GetRawText(), Is.EqualTo(Ok("again")));
    }

    [Test, CancelAfter(30_000)]
    public async Task ReceiveLoop_ConfiguredMaxMessageBytes_AcceptsBelowAndClosesAtTheLimit(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o => { Orders(o); o.MaxMessageBytes = 1024; }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await ws.SendBytesAsync(TransactionOfLength("t1023", 1023), cancellationToken: ct);
        Assert.That((await ws.ReceiveAsync(ct)).GetRawText(), Is.EqualTo(Ok("t1023")));

        // Binary frames count the same way.
        await ws.SendBytesAsync(TransactionOfLength("b1023", 1023), System.Net.WebSockets.WebSocketMessageType.Binary, ct);
        Assert.That((await ws.ReceiveAsync(ct)).GetRawText(), Is.EqualTo(Ok("b1023")));

        await ws.SendBytesAsync(TransactionOfLength("t1024", 1024), cancellationToken: ct);
        await ws.Closed.WaitAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ws.CloseStatus, Is.EqualTo(WebSocketCloseStatus.MessageTooBig));
            Assert.That(ws.Pending, Is.Zero);
            Assert.That(await IdsAsync(host, ct), Is.EqualTo(new[] { "b1023", "t1023" }));
        }

        await using var next = await host.ConnectAsync("ws", ct);
        Assert.That((await next.RequestAsync(Insert("next"), ct)).GetRawText(), Is.EqualTo(Ok("next")));
    }

    [Test, CancelAfter(30_000)]
    public async Task ReceiveLoop_FragmentedMessage_IsReassembledAndLimitedAsAWhole(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o => { Orders(o); o.MaxMessageBytes = 1024; }, ct);

        // 1000 bytes in four fragments: reassembled and executed.
        await using var ok = await ManualSocket.ConnectAsync(new Uri(host.WsBase, "ws"), 64 * 1024, ct);
        var small = TransactionOfLength("frag", 1000);
        for (var i = 0; i < 4; i++)
        {
            await ok.SendFrameAsync(small[(i * 250)..((i + 1) * 250)], WebSocketMessageType.Text, i == 3, ct);
        }

        Assert.That((await ok.ReceiveAsync(ct)).GetRawText(), Is.EqualTo(Ok("frag")));

        // 1100 bytes in fragments of 300: no single frame reaches the limit, the message does.
        await using var big = await ManualSocket.ConnectAsync(new Uri(host.WsBase, "ws"), 64 * 1024, ct);
        var large = TransactionOfLength("fragbig", 1100);
        await SendIgnoringResetAsync(async () =>
        {
            for (var offset = 0; offset < large.Length; offset += 300)
            {
                var end = Math.Min(offset + 300, large.Length);
                await big.SendFrameAsync(large[offset..end], WebSocketMessageType.Text, end == large.Length, ct);
            }
        });
        var rest = await big.ReadUntilClosedAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rest, Is.Empty);
            Assert.That(big.CloseStatus, Is.EqualTo(WebSocketCloseStatus.MessageTooBig));
            Assert.That(await IdsAsync(host, ct), Is.EqualTo(new[] { "frag" }));
        }
    }

    /// <summary>Item 150's last clause: a subscriber on another connection keeps receiving updates after a 5 MiB message closed its sender.</summary>
    [Test, CancelAfter(60_000)]
    public async Task ReceiveLoop_MessageOf5MiB_SubscribersOfOtherConnectionsKeepTheirUpdates(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o => { Orders(o); o.SubPub("live", s => s.From("orders").Key("id")); }, ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        var snapshot = await sub.RequestAsync("""{"service":"live","type":"subscribe"}""", ct);
        Assert.That(snapshot.GetProperty("rows").GetArrayLength(), Is.Zero);

        await using var big = await host.ConnectAsync("ws", ct);
        await SendIgnoringResetAsync(() => big.SendBytesAsync(TransactionOfLength("big", 5 * 1024 * 1024), cancellationToken: ct));
        await big.Closed.WaitAsync(ct);
        Assert.That(big.CloseStatus, Is.EqualTo(WebSocketCloseStatus.MessageTooBig));

        await using var writer = await host.ConnectAsync("ws", ct);
        Assert.That((await writer.RequestAsync(Insert("after"), ct)).GetRawText(), Is.EqualTo(Ok("after")));
        var update = await sub.ReceiveAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(update.GetProperty("type").GetString(), Is.EqualTo("update"));
            Assert.That(update.GetProperty("row").GetProperty("id").GetString(), Is.EqualTo("after"), "the oversized message produced no update");
            Assert.That(await IdsAsync(host, ct), Is.EqualTo(new[] { "after" }));
            Assert.That(sub.Pending, Is.Zero);
        }
    }
}
