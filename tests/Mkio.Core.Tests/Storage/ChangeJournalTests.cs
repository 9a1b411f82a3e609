using Mkio.Storage;

namespace Mkio.Core.Tests.Storage;

/// <summary>
/// Journal retention per table and the high-water mark (issue 9, item 5): a table no service reads keeps no
/// entries, a table a subpub reads keeps its change_log_size (at least 1,000); deleting the newest entry never
/// lets a sequence be handed out again.
/// </summary>
public class ChangeJournalTests
{
    private static void OrdersReadAuditNot(MkioOptions o)
    {
        StorageTestEngine.FixtureA(o);
        o.SubPub("book", s => s.From("orders").Key("id").ChangeLogSize(10));
    }

    [Test, CancelAfter(60_000)]
    public async Task UnreadTablePrunedToNothing_ReadTableKept_SequenceContinuesAboveDeletedNewest(CancellationToken ct)
    {
        // 640 transactions × 2 changes = 1,280 = 5 × 256: the last prune runs in the last batch, whose newest
        // change (an audit_log row, seq 1280) belongs to the unread table and is deleted with it.
        const int Transactions = 640;
        await using var t = await StorageTestEngine.StartAsync(1, 1, ct, OrdersReadAuditNot);
        for (var i = 1; i <= Transactions; i++)
        {
            var outcome = await t.Submit("place", $$$"""{"ref":"r{{{i}}}","data":{"id":"o{{{i}}}","symbol":"S","qty":{{{i}}},"event":"e"}}""", ct);
            Assert.That(outcome.Ok, Is.True, outcome.Error);
        }

        var counts = await t.QueryAsync("SELECT tbl, COUNT(*), MAX(seq) FROM _mkio_journal GROUP BY tbl ORDER BY tbl", ct);
        var (max, complete) = await t.Engine.Database.ReadAsync(c => (ChangeJournal.MaxSequence(c), ChangeJournal.IsComplete(c)), ct);
        var next = await t.Submit("add_order", """{"ref":"next","data":{"id":"next","symbol":"S","qty":1}}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Has.Count.EqualTo(1), "audit_log (read by no service) keeps nothing");
            Assert.That(counts[0], Is.EqualTo(new object?[] { "orders", (long)Transactions, 1279L }), "orders keeps at least 1,000 (its change_log_size of 10 is below the minimum)");
            Assert.That(max, Is.EqualTo(1280), "the newest sequence survives its entry (high-water mark)");
            Assert.That(complete, Is.False, "pruned: subpub seeding must not assume the journal holds everything");
            Assert.That(next.Ok, Is.True);
            Assert.That(t.Events[^1].Sequence, Is.EqualTo(1281), "no sequence handed out twice");
        }
    }

    [Test]
    public void Retention_PerTable_LargestSizeOfItsReaders_AtLeastMinimum_UnreadTablesAbsent()
    {
        var o = new MkioOptions { DbPath = ":memory:" };
        StorageTestEngine.FixtureA(o);
        o.SubPub("book", s => s.From("orders").Key("id").ChangeLogSize(5000))
            .Query("all", s => s.From("orders").ChangeLogSize(20_000))
            .Stream("feed", s => s.From("audit_log").BufferSize(3000));
        var keep = ChangeJournal.Retention(Mkio.Model.ModelCompiler.Compile(o));
        Assert.That(keep, Is.EquivalentTo(new Dictionary<string, int> { ["orders"] = 20_000, ["audit_log"] = 3000 }));

        var small = new MkioOptions { DbPath = ":memory:" };
        StorageTestEngine.FixtureA(small);
        small.Stream("feed", s => s.From("audit_log").BufferSize(10));
        Assert.That(ChangeJournal.Retention(Mkio.Model.ModelCompiler.Compile(small)), Is.EquivalentTo(new Dictionary<string, int> { ["audit_log"] = ChangeJournal.MinimumKeep }));
    }
}
