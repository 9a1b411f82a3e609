using Mkio.Data;
using Mkio.Services.Listeners;

namespace Mkio.Core.Tests.Listeners;

/// <summary>The bounded, commit-ordered change log and its resume rules (SERVICES.md §8.2, §11, fix F18).</summary>
public class ChangeLogTests
{
    private static readonly RowSchema Schema = new(["id"]);

    private static LogEntry Entry(long sequence, string @ref, string op = "insert") => new(sequence, @ref, op, new Row(Schema, [sequence]));

    private static ChangeLog Log(int capacity, params string[] refs)
    {
        var log = new ChangeLog(capacity);
        for (var i = 0; i < refs.Length; i++)
        {
            log.Append(Entry(i + 1, refs[i]));
        }

        return log;
    }

    private static long[] Sequences(List<LogEntry>? entries) => entries is null ? [] : [.. entries.Select(e => e.Sequence)];

    [Test]
    public void ResumeFrom_EmptyLog_NullForSnapshot()
    {
        Assert.That(new ChangeLog(10).ResumeFrom("20260101 00:00:00.000000000000"), Is.Null);
        Assert.That(new ChangeLog(10).LastRef, Is.EqualTo(""));
    }

    [Test]
    public void ResumeFrom_ExactMatch_EntriesAfterItInAppendOrderEvenWhenRefsAreNotOrdered()
    {
        // A later commit carrying a smaller ref string (a client clock running behind).
        var log = Log(10, "20300101 00:00:00.000000000001", "20300101 00:00:00.000000000002", "20200101 00:00:00.000000000000", "r1", "20260101 00:00:00.000000000000");
        Assert.That(Sequences(log.ResumeFrom("20300101 00:00:00.000000000002")), Is.EqualTo(new long[] { 3, 4, 5 }));
        Assert.That(Sequences(log.ResumeFrom("20200101 00:00:00.000000000000")), Is.EqualTo(new long[] { 4, 5 }));
        Assert.That(Sequences(log.ResumeFrom("r1")), Is.EqualTo(new long[] { 5 }));
    }

    [Test]
    public void ResumeFrom_NewestRef_EmptyList()
    {
        var log = Log(10, "a", "b");
        var result = log.ResumeFrom("b");
        Assert.That(result, Is.Not.Null);
        Assert.That(result, Is.Empty);
    }

    [Test]
    public void ResumeFrom_RefSharedByAMultiOpTransaction_LastEntryWithThatRefCounts()
    {
        var log = new ChangeLog(10);
        log.Append(Entry(1, "t1"));
        log.Append(Entry(2, "t2"));
        log.Append(Entry(3, "t2"));
        log.Append(Entry(4, "t3"));
        Assert.That(Sequences(log.ResumeFrom("t2")), Is.EqualTo(new long[] { 4 }));
    }

    [Test]
    public void ResumeFrom_RefNotInLogButNotOlderThanFirst_OrdinalFallbackAfterNormalisation()
    {
        var log = Log(10, "20260404 15:30:45.100000000000", "20260404 15:30:45.200000000000", "20260404 15:30:45.300000000000");

        // "…45.15" normalises to "…45.150000000000": strictly between the first two entries.
        Assert.That(Sequences(log.ResumeFrom("20260404 15:30:45.15")), Is.EqualTo(new long[] { 2, 3 }));

        // "…45.2" equals the second entry after normalisation but is not an exact match: entries with a greater ref.
        Assert.That(Sequences(log.ResumeFrom("20260404 15:30:45.2")), Is.EqualTo(new long[] { 3 }));

        // Ahead of the log: an empty delta, not a snapshot.
        var ahead = log.ResumeFrom("20270101 00:00:00.000000000000");
        Assert.That(ahead, Is.Not.Null);
        Assert.That(ahead, Is.Empty);
    }

    [Test]
    public void ResumeFrom_RefNotInLogWhoseRefsAreOutOfCommitOrder_NullForSnapshot()
    {
        // "20300101…" was evicted; ordinally it is ahead of every remaining entry, but commits after it
        // carry smaller refs: a delta by comparison would silently skip them.
        var log = Log(3, "20300101 00:00:00.000000000000", "20200101 00:00:00.000000000001", "20200101 00:00:00.000000000002", "20200101 00:00:00.000000000003");
        Assert.That(log.OutOfOrder, Is.True);
        Assert.That(log.ResumeFrom("20300101 00:00:00.000000000000"), Is.Null);
        Assert.That(log.ResumeFrom("20200101 00:00:00.0000000000015"), Is.Null);

        // Exact matches still resume positionally.
        Assert.That(Sequences(log.ResumeFrom("20200101 00:00:00.000000000002")), Is.EqualTo(new long[] { 4 }));
    }

    [Test]
    public void Append_EqualOrIncreasingRefs_NotOutOfOrder()
    {
        var log = Log(10, "a", "a", "b", "c");
        Assert.That(log.OutOfOrder, Is.False);
        log.Append(Entry(5, "b"));
        Assert.That(log.OutOfOrder, Is.True);
        log.Clear();
        Assert.That(log.OutOfOrder, Is.False);
    }

    [Test]
    public void ResumeFrom_RefOlderThanFirstEntry_NullForSnapshot()
    {
        var log = Log(10, "20260404 15:30:45.100000000000", "20260404 15:30:45.200000000000");
        Assert.That(log.ResumeFrom("20260404 15:30:45.099999999999"), Is.Null);
        Assert.That(log.ResumeFrom("20260404 15:30:45"), Is.Null);
    }

    [Test]
    public void ResumeFrom_ExactRefEvictedFromFullLog_OlderThanFirstGivesSnapshot()
    {
        var log = Log(3, "20260101 00:00:00.000000000001", "20260101 00:00:00.000000000002", "20260101 00:00:00.000000000003", "20260101 00:00:00.000000000004", "20260101 00:00:00.000000000005");
        Assert.That(log.Count, Is.EqualTo(3));
        Assert.That(log.First.Sequence, Is.EqualTo(3));
        Assert.That(log.LastRef, Is.EqualTo("20260101 00:00:00.000000000005"));
        Assert.That(log.ResumeFrom("20260101 00:00:00.000000000002"), Is.Null);
        Assert.That(Sequences(log.ResumeFrom("20260101 00:00:00.000000000003")), Is.EqualTo(new long[] { 4, 5 }));
    }

    [Test]
    public void Append_BeyondCapacity_DropsOldestAndKeepsAppendOrder()
    {
        var log = Log(3, "a", "b", "c", "d", "e", "f", "g");
        Assert.That(Enumerable.Range(0, log.Count).Select(i => log[i].Ref), Is.EqualTo(new[] { "e", "f", "g" }));
        Assert.That(log.Capacity, Is.EqualTo(3));
        log.Clear();
        Assert.That(log.Count, Is.Zero);
        Assert.That(log.LastRef, Is.EqualTo(""));
    }

    [Test]
    public void RefAtOrBefore_Sequence_NewestEntryNotAfterIt()
    {
        var log = new ChangeLog(10);
        log.Append(Entry(2, "a"));
        log.Append(Entry(5, "b"));
        log.Append(Entry(9, "c"));
        Assert.That(log.RefAtOrBefore(1), Is.EqualTo(""));
        Assert.That(log.RefAtOrBefore(2), Is.EqualTo("a"));
        Assert.That(log.RefAtOrBefore(8), Is.EqualTo("b"));
        Assert.That(log.RefAtOrBefore(100), Is.EqualTo("c"));
    }

    [Test]
    public void CoversAfter_FullLogWithGapBeforeFirst_FalseOtherwiseTrue()
    {
        var full = new ChangeLog(2);
        full.Append(Entry(5, "a"));
        full.Append(Entry(6, "b"));
        Assert.That(full.CoversAfter(4), Is.True);
        Assert.That(full.CoversAfter(3), Is.False);
        var notFull = new ChangeLog(3);
        notFull.Append(Entry(5, "a"));
        Assert.That(notFull.CoversAfter(0), Is.True);
        Assert.That(new ChangeLog(3).CoversAfter(0), Is.True);
    }
}
