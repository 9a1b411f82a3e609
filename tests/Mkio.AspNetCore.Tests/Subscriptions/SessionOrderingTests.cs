using System.Globalization;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>CONFORMANCE.md item 152 (F17): pipelined transactions, then a subscribe or check on the same socket.</summary>
public class SessionOrderingTests
{
    [TestCase("all_orders")]
    [TestCase("last_trade")]
    [CancelAfter(30_000)]
    public async Task Subscribe_After32BackToBackTransactions_RepliesInOrderAndSnapshotHasAll(string service, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        for (var i = 0; i < 32; i++)
        {
            await ws.SendAsync($$$"""{"service":"add_order","ref":"p{{{i:D2}}}","data":{"id":"{{{i}}}","symbol":"S","qty":{{{i}}}}}""", cancellationToken: ct);
        }

        await ws.SendAsync($$$"""{"service":"{{{service}}}","type":"subscribe"}""", cancellationToken: ct);
        for (var i = 0; i < 32; i++)
        {
            Assert.That((await ws.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"result","service":"add_order","ref":"p{{{i:D2}}}","ok":true}"""));
        }

        var snap = await ws.ReceiveAsync(ct);
        Assert.That(snap.GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        Assert.That(snap.GetProperty("ref").GetString(), Is.EqualTo("p31"));
        Assert.That(snap.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("_mkio_ref").GetString()),
            Is.EqualTo(Enumerable.Range(0, 32).Select(i => "p" + i.ToString("D2", CultureInfo.InvariantCulture))));
        await AssertSilentAsync(ws, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Check_RightAfterTransactionOnSameSocket_FindsIt(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        for (var i = 0; i < 5; i++)
        {
            await ws.SendAsync($$$"""{"service":"add_order","ref":"c{{{i}}}","data":{"id":"{{{i}}}","symbol":"S","qty":1}}""", cancellationToken: ct);
            await ws.SendAsync($$$"""{"service":"add_order","type":"check","ref":"c{{{i}}}","msgid":{{{i}}}}""", cancellationToken: ct);
        }

        for (var i = 0; i < 5; i++)
        {
            Assert.That((await ws.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"result","service":"add_order","ref":"c{{{i}}}","ok":true}"""));
            Assert.That((await ws.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"result","service":"add_order","ref":"c{{{i}}}","msgid":{{{i}}},"ok":true}"""));
        }
    }
}
