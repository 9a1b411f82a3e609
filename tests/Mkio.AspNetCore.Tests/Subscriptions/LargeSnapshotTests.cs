using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Mkio.AspNetCore.WebSockets;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>
/// A snapshot larger than the connection's gathering buffer is written from its own memory after its frame
/// header (no copy of the whole message): the client must read exactly the snapshot, as one message.
/// </summary>
public class LargeSnapshotTests
{
    [Test, CancelAfter(60_000)]
    public async Task Snapshot_LargerThanTheGatheringBuffer_ReadExactlyAsOneMessage(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var symbol = new string('S', 400);
        const int orders = 300;
        for (var i = 1; i <= orders; i++)
        {
            await ws.SendAsync($$$"""{"service":"add_order","ref":"r{{{i}}}","data":{"id":"{{{i}}}","symbol":"{{{symbol}}}","qty":{{{i}}}}}""", cancellationToken: ct);
        }

        for (var i = 1; i <= orders; i++)
        {
            Assert.That((await ws.ReceiveAsync(ct)).GetProperty("ok").GetBoolean(), Is.True);
        }

        using var client = new ClientWebSocket();
        await client.ConnectAsync(new Uri(host.WsBase, "ws"), ct);
        await client.SendAsync("""{"service":"all_orders","type":"subscribe"}"""u8.ToArray(), WebSocketMessageType.Text, true, ct);
        var buffer = new byte[1 << 20];
        using var message = new MemoryStream();
        WebSocketReceiveResult r;
        do
        {
            r = await client.ReceiveAsync(buffer, ct);
            message.Write(buffer, 0, r.Count);
        }
        while (!r.EndOfMessage);

        var text = Encoding.UTF8.GetString(message.ToArray());
        Assert.That(message.Length, Is.GreaterThan(CoalescingStream.BatchBytes));
        Assert.That(text, Does.StartWith("""{"type":"snapshot","service":"all_orders","ref":"r300","rows":[{"id":"1","""));
        using var doc = JsonDocument.Parse(text);
        var rows = doc.RootElement.GetProperty("rows");
        Assert.That(rows.GetArrayLength(), Is.EqualTo(orders));
        Assert.That(rows[orders - 1].GetProperty("symbol").GetString(), Is.EqualTo(symbol));

        // The test socket's reassembly of a second subscribe (its own read) gives the same bytes.
        await using var again = await host.ConnectAsync("ws", ct);
        await again.SendAsync("""{"service":"all_orders","type":"subscribe"}""", cancellationToken: ct);
        Assert.That((await again.ReceiveRawAsync(ct)).Text, Is.EqualTo(text));
    }
}
