using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Dispatch;

/// <summary>
/// PROTOCOL.md §2: the reference accepts Python's bare <c>NaN</c>/<c>Infinity</c>/<c>-Infinity</c> (what the Python
/// client's <c>json.dumps</c> writes for non-finite floats). Inside <c>data</c> they are values: SQLite binds NaN as
/// NULL and keeps ±Infinity as REAL, written back as the bare tokens; monitors see the message as it came.
/// Anywhere else they stay invalid JSON.
/// </summary>
public class NonFiniteInputTests
{
    private static void Measures(MkioOptions o)
    {
        o.DbPath = DbFile;
        o.BatchMaxWaitMs = 1.0;
        o.Table("m", t => t.Column("id", "TEXT PRIMARY KEY").Column("x", "REAL"))
            .Transaction("put", tx => tx.Insert("m", ["id", "x"]))
            .Query("all_m", s => s.From("m"))
            .Transaction("add_order", tx => tx.Insert("m", ["id"]));
    }

    [Test, CancelAfter(60_000)]
    public async Task DataValues_NaNAndInfinities_StoredAsPythonAndPublishedAsBareTokens(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Measures, ct);
        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"all_m","type":"subscribe"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        await using var mon = await host.ConnectAsync("ws", ct);
        await mon.RequestAsync("""{"type":"monitor","service":"put"}""", ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        await OkAsync(ws, """{"service":"put","ref":"n1","data":{"id":"a","x":NaN}}""", ct);
        await OkAsync(ws, """{"service":"put","ref":"n2","data":{"id":"b","x":Infinity}}""", ct);
        await OkAsync(ws, """{"service":"put","ref":"n3","data":{"id":"c", "x" : -Infinity }}""", ct);
        await OkAsync(ws, """{"service":"put","ref":"n4","data":{"id":"NaN","x":1.5}}""", ct);

        Assert.That((await sub.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"all_m","ref":"n1","op":"insert","row":{"id":"a","x":null,"_mkio_ref":"n1"}}"""));
        Assert.That((await sub.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"all_m","ref":"n2","op":"insert","row":{"id":"b","x":Infinity,"_mkio_ref":"n2"}}"""));
        Assert.That((await sub.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"all_m","ref":"n3","op":"insert","row":{"id":"c","x":-Infinity,"_mkio_ref":"n3"}}"""));
        Assert.That((await sub.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"type":"update","service":"all_m","ref":"n4","op":"insert","row":{"id":"NaN","x":1.5,"_mkio_ref":"n4"}}"""));

        // The monitor sees the inbound message with its bare token, re-encoded compactly.
        Assert.That((await mon.ReceiveRawAsync(ct)).Text, Is.EqualTo("""{"direction":"in","service":"put","message":{"service":"put","ref":"n1","data":{"id":"a","x":NaN}}}"""));

        var rows = ReadDb(host.Directory.File(DbFile), "SELECT id, x, typeof(x) AS t FROM m ORDER BY rowid");
        Assert.That(rows.Select(r => (r["id"], r["x"], r["t"])), Is.EqualTo(new[]
        {
            ((object?)"a", (object?)null, (object?)"null"),
            ("b", double.PositiveInfinity, "real"),
            ("c", double.NegativeInfinity, "real"),
            ("NaN", 1.5, "real"),
        }));
    }

    [TestCase("""{"service":"put","ref":NaN,"data":{"id":"a","x":1}}""", TestName = "TokenAsRef")]
    [TestCase("""{"service":NaN}""", TestName = "TokenAsService")]
    [TestCase("""{"service":"put","data":NaN}""", TestName = "TokenAsData")]
    [TestCase("""{"service":"put","data":{NaN:1}}""", TestName = "TokenAsKey")]
    [TestCase("""{"service":"put","data":{"id":"a","x":nan}}""", TestName = "LowercaseNan")]
    [TestCase("""{"service":"put","data":{"id":"a","x":+Infinity}}""", TestName = "PlusInfinity")]
    [TestCase("""{"service":"put","data":{"id":"a","x":1 NaN}}""", TestName = "TokenAfterValue")]
    [CancelAfter(30_000)]
    public async Task TokensOutsideDataValues_InvalidJson_SocketStaysOpen(string message, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Measures, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync(message, ct);
        Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("error"), reply.GetRawText());
        Assert.That(reply.GetProperty("message").GetString(), Does.StartWith("Invalid JSON: "), reply.GetRawText());
        await SyncAsync(ws, ct);
        Assert.That(ReadDb(host.Directory.File(DbFile), "SELECT id FROM m"), Is.Empty);
    }
}
