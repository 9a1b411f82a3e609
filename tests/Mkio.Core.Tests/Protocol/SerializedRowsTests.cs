using System.Text;
using Mkio.Data;
using Mkio.Protocol;

namespace Mkio.Core.Tests.Protocol;

/// <summary>
/// Snapshot frames cut from rows serialised once must be byte-identical to frames serialised directly,
/// for every subset of rows, including rows that need the Python rewrite (non-ASCII text).
/// </summary>
[Parallelizable(ParallelScope.Children)]
public class SerializedRowsTests
{
    private static readonly RowSchema Schema = new(["id", "symbol", "qty", "price", "status", "_mkio_ref"]);

    private static Row Row(int i, string symbol) =>
        new(Schema, [(long)i, symbol, i % 3 == 0 ? null : (long)(i * 10), i * 1.25, i % 2 == 0 ? "pending" : "filled", $"20261125 00:00:00.{i:D12}"]);

    private static List<Row> Rows(int count, Func<int, string> symbol) => [.. Enumerable.Range(0, count).Select(i => Row(i, symbol(i)))];

    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData(0, (Func<int, string>)(_ => "AAPL")).SetName("NoRows");
        yield return new TestCaseData(1, (Func<int, string>)(_ => "AAPL")).SetName("OneRow");
        yield return new TestCaseData(7, (Func<int, string>)(i => "S" + i)).SetName("AsciiRows");
        yield return new TestCaseData(7, (Func<int, string>)(i => i == 3 ? "Zürich—日本😀" : "S" + i)).SetName("OneNonAsciiRow");
        yield return new TestCaseData(5, (Func<int, string>)(i => "é\"\\\n\u0001" + i)).SetName("EveryRowEscaped");
    }

    private static IEnumerable<(string Name, Func<int, bool>? Admit)> Filters(int count)
    {
        yield return ("all", null);
        yield return ("none", _ => false);
        yield return ("even", i => i % 2 == 0);
        yield return ("odd", i => i % 2 == 1);
        yield return ("first", i => i == 0);
        yield return ("last", i => i == count - 1);
        yield return ("everything via filter", _ => true);
    }

    [TestCaseSource(nameof(Cases))]
    public void SnapshotFrame_AnySubset_SameBytesAsDirectSerialisation(int count, Func<int, string> symbol)
    {
        var rows = Rows(count, symbol);
        var serialized = new SerializedRows(rows);
        Assert.That(serialized.Count, Is.EqualTo(count));
        foreach (var (name, admit) in Filters(count))
        {
            var expected = SubscriptionFrames.SnapshotFrame("all_orders", "20261125 01:00:00.000000000001", [.. rows.Where((_, i) => admit?.Invoke(i) ?? true)]);
            var actual = serialized.SnapshotFrame("all_orders", "20261125 01:00:00.000000000001", admit);
            Assert.That(Encoding.UTF8.GetString(actual.Span), Is.EqualTo(Encoding.UTF8.GetString(expected)), name);
        }
    }

    [Test]
    public void SnapshotFrame_NonAsciiColumnName_RewrittenRowByRowAndSubsetsStillExact()
    {
        // A non-ASCII property name leaves raw UTF-8 in the writer's output: the rows take the rewrite path.
        var schema = new RowSchema(["id", "prix_é", "note"]);
        List<Row> rows = [.. Enumerable.Range(0, 6).Select(i => new Row(schema, [(long)i, i * 0.5, i == 2 ? "日本" : null]))];
        var serialized = new SerializedRows(rows);
        foreach (var (name, admit) in Filters(rows.Count))
        {
            var expected = SubscriptionFrames.SnapshotFrame("q", "r", [.. rows.Where((_, i) => admit?.Invoke(i) ?? true)]);
            Assert.That(Encoding.UTF8.GetString(serialized.SnapshotFrame("q", "r", admit).Span), Is.EqualTo(Encoding.UTF8.GetString(expected)), name);
        }

        Assert.That(Encoding.UTF8.GetString(serialized.SnapshotFrame("q", "r", null).Span), Does.Contain("\\u00e9").Or.Contain("\u00e9"));
    }

    [Test]
    public void SnapshotFrame_ServiceAndRefNeedEscaping_PrefixMatches()
    {
        var rows = Rows(3, i => "S" + i);
        var expected = SubscriptionFrames.SnapshotFrame("ordres_é\"", "réf\\1", rows);
        Assert.That(new SerializedRows(rows).SnapshotFrame("ordres_é\"", "réf\\1", null).ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void SnapshotFrame_AllRowsTwiceWithDifferentRefs_FirstInPlaceSecondCopiedBothExact()
    {
        var rows = Rows(4, i => "S" + i);
        var serialized = new SerializedRows(rows);
        var first = serialized.SnapshotFrame("all_orders", "L1", null);
        var second = serialized.SnapshotFrame("all_orders", "L22", null);
        var filtered = serialized.SnapshotFrame("all_orders", "L3", i => i > 0);
        Assert.Multiple(() =>
        {
            Assert.That(first.ToArray(), Is.EqualTo(SubscriptionFrames.SnapshotFrame("all_orders", "L1", rows)));
            Assert.That(second.ToArray(), Is.EqualTo(SubscriptionFrames.SnapshotFrame("all_orders", "L22", rows)));
            Assert.That(filtered.ToArray(), Is.EqualTo(SubscriptionFrames.SnapshotFrame("all_orders", "L3", rows.Skip(1).ToList())));

            // The first frame shares the serialised buffer; the later ones did not overwrite it.
            Assert.That(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(first, out var segment) && segment.Offset > 0, Is.True);
            Assert.That(Encoding.UTF8.GetString(first.Span), Does.StartWith("{\"type\":\"snapshot\",\"service\":\"all_orders\",\"ref\":\"L1\""));
        });
    }

    [Test]
    public void SnapshotFrame_PrefixLongerThanHeadroom_Copied()
    {
        var rows = Rows(2, i => "S" + i);
        var longRef = new string('r', SerializedRows.Headroom);
        Assert.That(new SerializedRows(rows).SnapshotFrame("q", longRef, null).ToArray(), Is.EqualTo(SubscriptionFrames.SnapshotFrame("q", longRef, rows)));
    }
}
