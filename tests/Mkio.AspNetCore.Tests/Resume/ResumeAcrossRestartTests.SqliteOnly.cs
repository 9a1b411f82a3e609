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

        ClearJournal(dir.File(DbFile));
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

    [Test, CancelAfter(90_000)]
    // The one-row-per-change journal of earlier versions was SQLite's only.
    [Category(StoreCategories.SqliteOnly)]
    public async Task Restart_JournalOfOneRowPerChange_ConvertedAtStart_ResumeExact_SequencesContinue(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        string expected;
        await using (var first = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct, directory: dir))
        {
            await using var ws = await first.ConnectAsync("ws", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
            await OkAsync(ws, """{"service":"set_status","ref":"r2","data":{"id":"1","status":"filled"}}""", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r3","data":{"id":"2","symbol":"IBM","qty":2}}""", ct);
            expected = await RawRequestAsync(first, """{"service":"all_orders","type":"subscribe","ref":"r1"}""", ct);
        }

        // The file as an earlier version left it: a _mkio_journal table of one row per change.
        ExecDb(dir.File(DbFile), """
            CREATE TABLE old_journal AS SELECT * FROM _mkio_journal;
            DROP VIEW _mkio_journal;
            DROP TABLE _mkio_journal_batch;
            CREATE TABLE _mkio_journal (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, ref TEXT NOT NULL, row TEXT NOT NULL);
            INSERT INTO _mkio_journal SELECT * FROM old_journal ORDER BY seq;
            DROP TABLE old_journal;
            """);
        var before = ReadDb(dir.File(DbFile), "SELECT seq, tbl, op, ref, row FROM _mkio_journal ORDER BY seq");

        string resumed;
        await using (var host = await MkioTestHost.StartAsync(FixtureAPlusOnFile, ct, directory: dir))
        {
            resumed = await RawRequestAsync(host, """{"service":"all_orders","type":"subscribe","ref":"r1"}""", ct);
            await using var ws = await host.ConnectAsync("ws", ct);
            await OkAsync(ws, """{"service":"add_order","ref":"r4","data":{"id":"3","symbol":"MSFT","qty":3}}""", ct);
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(before, Has.Count.EqualTo(3), "the old journal held the three changes");
            Assert.That(resumed, Is.EqualTo(expected), "the same delta as before the conversion");
            Assert.That(expected, Does.StartWith("""{"type":"delta","service":"all_orders","ref":"r3","changes":[{"op":"update","""));
            Assert.That(ReadDb(dir.File(DbFile), "SELECT type FROM sqlite_master WHERE name = '_mkio_journal'").Single()["type"], Is.EqualTo("view"));
            Assert.That(ReadDb(dir.File(DbFile), "SELECT seq, tbl, op, ref, row FROM _mkio_journal WHERE seq <= 3 ORDER BY seq"), Is.EqualTo(before), "every entry kept as it was");
            Assert.That(ReadDb(dir.File(DbFile), "SELECT seq, ref FROM _mkio_journal WHERE seq > 3").Select(r => (r["seq"], r["ref"])), Is.EqualTo(new[] { ((object?)4L, (object?)"r4") }), "the next write continues the sequence");
        }
    }
}
