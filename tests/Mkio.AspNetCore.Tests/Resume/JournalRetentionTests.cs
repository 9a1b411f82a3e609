using Mkio.AspNetCore.Tests.Transactions;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Resume;

/// <summary>
/// Journal retention is per table (issue 9, item 5): with two tables written per transaction, each table
/// keeps what the services reading it can serve, so after a restart a resume from almost
/// <c>change_log_size</c> changes back still gets a delta, not a full snapshot.
/// </summary>
public class JournalRetentionTests
{
    private const int LogSize = 1500;
    private const int Transactions = 1700;
    private const int Missed = 1400;

    private static void TwoTablesPerTransaction(MkioOptions o)
    {
        Fixtures.FixtureA(o);
        o.DbPath = DbFile;

        // Sizes that matter stay at most LogSize (the stream's buffer stays 100): before per-table retention,
        // the largest size of any service was kept across all tables together.
        o.ChangeLogSize = LogSize;
        o.Transaction("place", tx => tx.Ops(ops => ops
                .Insert("orders", ["id", "symbol", "qty"])
                .Insert("audit_log", ["event"], bind: new Dictionary<string, string> { ["order_id"] = "$0.id" })))
            .SubPub("order_history", s => s.From("orders").Key("id").ChangeLogSize(LogSize));
        foreach (var s in o.Services)
        {
            s.BufferSize ??= 100;
        }
    }

    private static string Id(int i) => "p" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

    [Test, CancelAfter(180_000)]
    public async Task TwoTablesPerTransaction_Restart_ResumeNearlyChangeLogSizeBack_GetsDelta(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using (var first = await MkioTestHost.StartAsync(TwoTablesPerTransaction, ct, directory: dir))
        {
            await using var ws = await first.ConnectAsync("ws", ct);
            for (var start = 1; start <= Transactions; start += 100)
            {
                var replies = await TxTest.PipelineAsync(ws, [.. Enumerable.Range(start, 100).Select(i =>
                    $$$"""{"service":"place","ref":"{{{Id(i)}}}","data":{"id":"{{{Id(i)}}}","symbol":"S","qty":{{{i}}},"event":"placed"}}""")], ct);
                Assert.That(replies.Select(r => r.Json.GetProperty("type").GetString()), Is.All.EqualTo("result"), replies[0].Text);
            }
        }

        var journal = ReadDb(dir.File(DbFile), "SELECT tbl, COUNT(*) AS n FROM _mkio_journal GROUP BY tbl ORDER BY tbl");
        await using var host = await MkioTestHost.StartAsync(TwoTablesPerTransaction, ct, directory: dir);
        await using var sub = await host.ConnectAsync("ws", ct);
        var resumeFrom = Transactions - Missed;
        var reply = await sub.RequestAsync($$$"""{"service":"order_history","type":"subscribe","ref":"{{{Id(resumeFrom)}}}"}""", ct);
        var changes = reply.TryGetProperty("changes", out var c) ? c.EnumerateArray().ToList() : [];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(journal.Single(r => (string)r["tbl"]! == "orders")["n"], Is.GreaterThanOrEqualTo((long)LogSize), "orders keeps its change_log_size");
            Assert.That(journal.Single(r => (string)r["tbl"]! == "audit_log")["n"], Is.LessThan((long)LogSize), "audit_log keeps what its own readers need");
            Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("delta"), "not a full snapshot");
            Assert.That(reply.GetProperty("ref").GetString(), Is.EqualTo(Id(Transactions)));
            Assert.That(changes, Has.Count.EqualTo(Missed));
            Assert.That(changes.Select(ch => ch.GetProperty("row").GetProperty("id").GetString()),
                Is.EqualTo(Enumerable.Range(resumeFrom + 1, Missed).Select(Id)), "exactly the missed changes, in commit order");
            Assert.That(changes.Select(ch => ch.GetProperty("op").GetString()), Is.All.EqualTo("insert"));
        }
    }
}
