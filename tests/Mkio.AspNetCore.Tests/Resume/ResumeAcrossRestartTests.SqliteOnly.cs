using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Resume;

/// <summary>The tests of <see cref="ResumeAcrossRestartTests"/> that only apply to SQLite (left out of the PostgreSQL conformance run, tests/Mkio.Postgres.Tests).</summary>
public partial class ResumeAcrossRestartTests
{
    [Test, CancelAfter(90_000)]
    // A database without a journal is one written by the original (SQLite only).
    [Category(StoreCategories.SqliteOnly)]
    public async Task QuerySnapshot_DatabaseWithoutJournal_RefFromTheSeededLog(CancellationToken ct)
    {
        // No journal position to take the snapshot's ref from: it comes from the change log seeded from
        // _mkio_ref, and the frame (filtered or not) is cut from the rows serialised outside the lock.
        using var dir = new TempDirectory();
        await using (var first = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct, directory: dir))
        {
            await using var ws = await first.ConnectAsync("ws", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"j1","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"j2","data":{"id":"2","symbol":"IBM","qty":2}}""", ct);
            await OkAsync(ws, """{"service":"set_status","ref":"j3","data":{"id":"1","status":"filled"}}""", ct);
        }

        ExecDb(dir.File(DbFile), "DELETE FROM _mkio_journal");
        await using var host = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct, directory: dir);
        await using var sub = await host.ConnectAsync("ws", ct);
        Assert.That((await sub.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"snapshot","service":"all_orders","ref":"j3","rows":[{{{Row("1", "AAPL", 1, "filled", "j3")}}},{{{Row("2", "IBM", 2, "pending", "j2")}}}]}"""));
        Assert.That((await sub.RequestAsync("""{"service":"all_orders","type":"subscribe","filter":"status == 'pending'"}""", ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"snapshot","service":"all_orders","ref":"j3","rows":[{{{Row("2", "IBM", 2, "pending", "j2")}}}]}"""));
    }

    [Test, CancelAfter(90_000)]
    // Stores Infinity in an INTEGER column, which only SQLite's dynamic typing allows.
    [Category(StoreCategories.SqliteOnly)]
    public async Task Restart_JournalHoldsNonFiniteFloat_ServerStartsAndDeltaCarriesIt(CancellationToken ct)
    {
        // 1e999 decodes to +Infinity; the wire (and the journal) write it as a bare Infinity token.
        const string expected = """{"type":"delta","service":"all_orders","ref":"r3","changes":[{"op":"insert","row":{"id":"2","symbol":"X","qty":Infinity,"price":0.0,"status":"pending","_mkio_ref":"r2"}},{"op":"insert","row":{"id":"3","symbol":"Y","qty":-Infinity,"price":0.0,"status":"pending","_mkio_ref":"r3"}}]}""";
        using var dir = new TempDirectory();
        await using (var first = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct, directory: dir))
        {
            await using var ws = await first.ConnectAsync("ws", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":"X","qty":1e999}}""", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r3","data":{"id":"3","symbol":"Y","qty":-Infinity}}""", ct);
            Assert.That(await RawRequestAsync(first, """{"service":"all_orders","type":"subscribe","ref":"r1"}""", ct), Is.EqualTo(expected));
        }

        await using var host = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct, directory: dir);
        Assert.That(await RawRequestAsync(host, """{"service":"all_orders","type":"subscribe","ref":"r1"}""", ct), Is.EqualTo(expected));
    }
}
