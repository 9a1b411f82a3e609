using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>CONFORMANCE.md I (items 101–105, 107): the stream service (cross-restart item 106 is in Resume).</summary>
public class StreamServiceTests
{
    private static string Audit(int id, string @ref) => $$$"""{"id":{{{id}}},"event":"e{{{id}}}","order_id":"o{{{id}}}","_mkio_ref":"{{{@ref}}}"}""";

    private static async Task<List<string>> SeedAsync(TestSocket ws, int from, int to, CancellationToken ct)
    {
        var refs = new List<string>();
        for (var i = from; i <= to; i++)
        {
            refs.Add(await OkAsync(ws, $$$"""{"service":"add_audit","data":{"event":"e{{{i}}}","order_id":"o{{{i}}}"}}""", ct));
        }

        return refs;
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_NoRefOrRefOlderThanBuffer_WholeBufferAsSnapshot(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var refs = await SeedAsync(ws, 1, 5, ct);
        var all = $$$"""{"type":"snapshot","service":"audit_feed","ref":"{{{refs[4]}}}","rows":[{{{string.Join(",", Enumerable.Range(1, 5).Select(i => Audit(i, refs[i - 1])))}}}]}""";

        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"audit_feed","type":"subscribe"}""", ct)).GetRawText(), Is.EqualTo(all));
        Assert.That((await sub.RequestAsync("""{"service":"audit_feed","type":"subscribe","ref":""}""", ct)).GetRawText(), Is.EqualTo(all));
        Assert.That((await sub.RequestAsync("""{"service":"audit_feed","type":"subscribe","ref":"20000101 00:00:00.000000000000"}""", ct)).GetRawText(), Is.EqualTo(all));
    }

    [Test, CancelAfter(30_000)]
    public async Task Update_Insert_PushedWithOpInsert(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"audit_feed","type":"subscribe"}""", ct);
        await OkAsync(ws, """{"service":"add_audit","ref":"a1","data":{"event":"e1","order_id":"o1"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(), Is.EqualTo($$$"""{"type":"update","service":"audit_feed","ref":"a1","op":"insert","row":{{{Audit(1, "a1")}}}}"""));
        await AssertSilentAsync(sub, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Update_UpdateDeleteAndUpsertEvents_Ignored(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.Stream("order_feed", s => s.From("orders").BufferSize(10));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        await sub.RequestAsync("""{"service":"order_feed","type":"subscribe"}""", ct);
        await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":100}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo("""{"type":"update","service":"order_feed","ref":"r1","op":"insert","row":{"id":"1","symbol":"AAPL","qty":100,"price":0.0,"status":"pending","_mkio_ref":"r1"}}"""));
        await OkAsync(ws, """{"service":"update_order","ref":"r2","data":{"id":"1","qty":5}}""", ct);
        await OkAsync(ws, """{"service":"upsert_order","ref":"r3","data":{"id":"2","symbol":"IBM","qty":1}}""", ct);
        await OkAsync(ws, """{"service":"delete_order","ref":"r4","data":{"id":"1"}}""", ct);
        await AssertSilentAsync(sub, ct);

        // The buffer did not take them either.
        await using var late = await host.ConnectAsync("ws", ct);
        var snap = await late.RequestAsync("""{"service":"order_feed","type":"subscribe"}""", ct);
        Assert.That(snap.GetProperty("ref").GetString(), Is.EqualTo("r1"));
        Assert.That(snap.GetProperty("rows").GetArrayLength(), Is.EqualTo(1));
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_RefInsideBuffer_SnapshotOfLaterRowsOnly(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var refs = await SeedAsync(ws, 1, 5, ct);
        refs.AddRange(await SeedAsync(ws, 6, 8, ct));
        await using var sub = await host.ConnectAsync("ws", ct);

        // The entry equal to the client ref is excluded; the reply is a snapshot, never a delta.
        var snap = await sub.RequestAsync($$$"""{"service":"audit_feed","type":"subscribe","ref":"{{{refs[4]}}}"}""", ct);
        Assert.That(snap.GetRawText(), Is.EqualTo($$$"""{"type":"snapshot","service":"audit_feed","ref":"{{{refs[7]}}}","rows":[{{{Audit(6, refs[5])}}},{{{Audit(7, refs[6])}}},{{{Audit(8, refs[7])}}}]}"""));

        // Up to date: an empty snapshot that still carries the newest ref.
        Assert.That((await sub.RequestAsync($$$"""{"service":"audit_feed","type":"subscribe","ref":"{{{refs[7]}}}"}""", ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"snapshot","service":"audit_feed","ref":"{{{refs[7]}}}","rows":[]}"""));
        await AssertSilentAsync(sub, ct);
    }

    [Test, CancelAfter(30_000)]
    public async Task Buffer_MoreInsertsThanBufferSize_KeepsNewestOnly(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            FixtureAPlus(o);
            o.Stream("short_feed", s => s.From("audit_log").BufferSize(3));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var refs = await SeedAsync(ws, 1, 5, ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        var expected = $$$"""{"type":"snapshot","service":"short_feed","ref":"{{{refs[4]}}}","rows":[{{{Audit(3, refs[2])}}},{{{Audit(4, refs[3])}}},{{{Audit(5, refs[4])}}}]}""";
        Assert.That((await sub.RequestAsync("""{"service":"short_feed","type":"subscribe"}""", ct)).GetRawText(), Is.EqualTo(expected));

        // A ref that fell out of the buffer gets the whole (remaining) buffer.
        Assert.That((await sub.RequestAsync($$$"""{"service":"short_feed","type":"subscribe","ref":"{{{refs[0]}}}"}""", ct)).GetRawText(), Is.EqualTo(expected));
    }

    [Test, CancelAfter(30_000)]
    public async Task Subscribe_AnyRef_NeverADelta(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(FixtureAPlus, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var refs = await SeedAsync(ws, 1, 3, ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        foreach (var r in new[] { "", refs[0], refs[1], refs[2], "99991231 23:59:59.999999999999", "x" })
        {
            var reply = await sub.RequestAsync($$$"""{"service":"audit_feed","type":"subscribe","ref":"{{{r}}}"}""", ct);
            Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("snapshot"), r);
            Assert.That(reply.GetProperty("ref").GetString(), Is.EqualTo(refs[2]), r);
        }

        await OkAsync(ws, """{"service":"add_audit","ref":"a4","data":{"event":"e4","order_id":"o4"}}""", ct);
        Assert.That((await sub.ReceiveAsync(ct)).GetProperty("type").GetString(), Is.EqualTo("update"));
        await AssertSilentAsync(sub, ct);
    }
}
