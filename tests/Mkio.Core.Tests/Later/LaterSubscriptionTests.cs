using System.Text;
using System.Text.Json;
using Mkio.Data;
using Mkio.Later;
using Mkio.Protocol;

namespace Mkio.Core.Tests.Later;

/// <summary>The later part of a subscribe: parsing, replacement rule, row tags, projection and frames.</summary>
public sealed class LaterSubscriptionTests
{
    private static LaterSubscription? Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return LaterSubscription.Parse(doc.RootElement);
    }

    private static Row Row(params (string Name, object? Value)[] cells) =>
        new(new RowSchema([.. cells.Select(c => c.Name)]), [.. cells.Select(c => c.Value)]);

    private static string Json(Row row) =>
        Encoding.UTF8.GetString(WireJson.Serialize(row, static (w, r) => WireJson.WriteRow(w, r)));

    [Test]
    public void Parse_UnmarkedSubscribe_IsNull() =>
        Assert.That(Parse("""{"type":"subscribe","service":"s","ref":"r"}"""), Is.Null);

    [TestCase("""{"type":"subscribe","service":"s","protocol":"query"}""", true, true)]
    [TestCase("""{"type":"subscribe","service":"s","protocol":"query","snapshot":false,"updates":true}""", false, true)]
    [TestCase("""{"type":"subscribe","service":"s","protocol":"query","snapshot":0,"updates":null}""", false, false)]
    [TestCase("""{"type":"subscribe","service":"s","protocol":"query","snapshot":"","updates":[]}""", false, false)]
    [TestCase("""{"type":"subscribe","service":"s","protocol":"query","snapshot":"x","updates":1}""", true, true)]
    public void Parse_Flags_JsonTruthiness(string json, bool snapshot, bool updates)
    {
        var later = Parse(json)!;
        Assert.That((later.Snapshot, later.Updates), Is.EqualTo((snapshot, updates)));
    }

    [Test]
    public void Parse_NonStringSubidAndNonArrayFields_TreatedAsAbsent()
    {
        var later = Parse("""{"type":"subscribe","service":"s","subid":7,"fields":"name"}""")!;
        Assert.That((later.SubId, later.Fields), Is.EqualTo(((string?)null, (string[]?)null)));
    }

    [Test]
    public void Replaces_OnlyWithinTheSameSubid()
    {
        var a = Parse("""{"type":"subscribe","service":"s","subid":"a"}""");
        var a2 = Parse("""{"type":"subscribe","service":"s","subid":"a","fields":[]}""");
        var b = Parse("""{"type":"subscribe","service":"s","subid":"b"}""");
        var none = Parse("""{"type":"subscribe","service":"s","protocol":"query"}""");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(LaterSubscription.Replaces(a, a2), Is.True);
            Assert.That(LaterSubscription.Replaces(a, b), Is.False);
            Assert.That(LaterSubscription.Replaces(none, null), Is.True, "a later subscribe without subid replaces a 0.1.0 one");
            Assert.That(LaterSubscription.Replaces(a, null), Is.False);
        }
    }

    [Test]
    public void Replaces_TopicEntries_OnlyTheSameSubidAndTopic()
    {
        var s = Parse("""{"type":"subscribe","service":"s","subid":"s","topic":["x","y"]}""")!;
        var none = Parse("""{"type":"subscribe","service":"s","protocol":"subpub","topic":"x"}""")!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(LaterSubscription.Replaces(s.ForTopic("x"), s.ForTopic("x")), Is.True);
            Assert.That(LaterSubscription.Replaces(s.ForTopic("x"), s.ForTopic("y")), Is.False);
            Assert.That(LaterSubscription.Replaces(s.ForTopic("x"), s), Is.False, "a topic entry and a whole-cache entry of one group coexist");
            Assert.That(LaterSubscription.Replaces(none.ForTopic("x"), none.ForTopic("x")), Is.True);
            Assert.That(LaterSubscription.Replaces(none.ForTopic("x"), null), Is.False, "a 0.1.0 subscription is not replaced by a topic entry");
            Assert.That(s.ForTopic("x").SubId, Is.EqualTo("s"));
        }
    }

    [TestCase("""{"type":"subscribe","service":"s","protocol":"stream","before":true}""", true)]
    [TestCase("""{"type":"subscribe","service":"s","protocol":"stream","before":1}""", false)]
    [TestCase("""{"type":"subscribe","service":"s","protocol":"stream","before":"true"}""", false)]
    [TestCase("""{"type":"subscribe","service":"s","protocol":"stream"}""", false)]
    public void Parse_Before_ExactlyTrue(string json, bool expected) =>
        Assert.That(Parse(json)!.Before, Is.EqualTo(expected));

    [Test]
    public void Tag_SingleKey_PythonStrText_RefOverwrittenInPlace()
    {
        var source = Row(("id", 42L), ("v", 1.0), ("_mkio_ref", "r9"));
        var formatted = Row(("_mkio_ref", "x"), ("v", 1.0));
        Assert.That(Json(LaterSubscription.Tag(formatted, source, ["id"])), Is.EqualTo("""{"_mkio_ref":"r9","v":1.0,"_mkio_row":"42"}"""));
    }

    [TestCase(7.0, "7.0")]
    [TestCase(null, "None")]
    [TestCase(true, "True")]
    [TestCase("A1", "A1")]
    public void PyStr_RendersLikePython(object? value, string expected) =>
        Assert.That(LaterSubscription.PyStr(value), Is.EqualTo(expected));

    [Test]
    public void Tag_CompositeKey_CompactJsonArray_MissingKeyNoRowTag()
    {
        var source = Row(("ex", "NYSE"), ("sym", "AAPL"), ("n", 10L));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Json(LaterSubscription.Tag(source, source, ["ex", "n"])), Is.EqualTo("""{"ex":"NYSE","sym":"AAPL","n":10,"_mkio_ref":"","_mkio_row":"[\"NYSE\",10]"}"""));
            Assert.That(Json(LaterSubscription.Tag(source, source, ["nope"])), Is.EqualTo("""{"ex":"NYSE","sym":"AAPL","n":10,"_mkio_ref":""}"""));
        }
    }

    [Test]
    public void Shape_ProjectsInRowOrder_KeepingMkioKeysUnlessStrict()
    {
        var later = Parse("""{"type":"subscribe","service":"s","fields":["qty","id"]}""")!;
        var row = Row(("id", "A"), ("name", "n"), ("qty", 1L), ("_mkio_ref", "r"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Json(later.Shape(row, row, null, strict: false)), Is.EqualTo("""{"id":"A","qty":1,"_mkio_ref":"r"}"""));
            Assert.That(Json(later.Shape(row, row, null, strict: true)), Is.EqualTo("""{"id":"A","qty":1}"""));
        }
    }

    [Test]
    public void Frames_KeyOrder_RefAndSubidLast()
    {
        var later = Parse("""{"type":"subscribe","service":"s","subid":"g"}""")!;
        var row = Row(("id", "A"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Encoding.UTF8.GetString(later.SnapshotFrame("s", "r1", [row])), Is.EqualTo("""{"type":"snapshot","service":"s","rows":[{"id":"A"}],"hasmore":false,"ref":"r1","subid":"g"}"""));
            Assert.That(Encoding.UTF8.GetString(later.UpdateFrame("s", null, "insert", row)), Is.EqualTo("""{"type":"update","service":"s","op":"insert","row":{"id":"A"},"subid":"g"}"""));
        }
    }

    [Test]
    public void Parse_MaxCount_PositiveIntegerOnly()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Parse("""{"type":"subscribe","maxcount":3}""")!.MaxCount, Is.EqualTo(3));
            Assert.That(Parse("""{"type":"subscribe","maxcount":true,"subid":"s"}""")!.MaxCount, Is.Null);
            Assert.That(Parse("""{"type":"subscribe","maxcount":0}""")!.MaxCount, Is.Null);
            Assert.That(Parse("""{"type":"subscribe","maxcount":1.5}""")!.MaxCount, Is.Null);
        }
    }

    [Test]
    public void Paging_BufferPastCap_OverflowsAndDropsItsData()
    {
        var paging = new QueryPaging(new Queue<Row>([Row(("id", "A")), Row(("id", "B"))]), cap: 4, now: 0);
        paging.Buffer([1]);
        paging.Buffer([2]);
        Assert.That((paging.Overflowed, paging.Buffered.Count), Is.EqualTo((false, 2)));
        paging.Buffer([3]);
        Assert.That((paging.Overflowed, paging.Buffered.Count, paging.Remaining.Count), Is.EqualTo((true, 0, 0)));
    }
}
