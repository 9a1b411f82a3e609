using System.Text;
using Mkio.Data;
using Mkio.Protocol;

namespace Mkio.Core.Tests.Protocol;

/// <summary>Update frames: a committed row is serialised once and its bytes shared by every service that sends it.</summary>
[Parallelizable(ParallelScope.Children)]
public class UpdateFrameTests
{
    private static readonly RowSchema Schema = new(["id", "qty", "price", "note"]);

    [Test]
    public void UpdateFrame_SameRowForTwoServices_RowSerialisedOnceAndFramesExact()
    {
        var row = new Row(Schema, ["a\"1", 5L, 1.5, null]);

        var first = Encoding.UTF8.GetString(SubscriptionFrames.UpdateFrame("all_orders", "r\n1", "insert", row));
        var encoded = row.EncodedJson;
        var second = Encoding.UTF8.GetString(SubscriptionFrames.UpdateFrame("by_symbol", "r\n1", "update", row));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first, Is.EqualTo("""{"type":"update","service":"all_orders","ref":"r\n1","op":"insert","row":{"id":"a\"1","qty":5,"price":1.5,"note":null}}"""));
            Assert.That(second, Is.EqualTo("""{"type":"update","service":"by_symbol","ref":"r\n1","op":"update","row":{"id":"a\"1","qty":5,"price":1.5,"note":null}}"""));
            Assert.That(encoded, Is.Not.Null.And.Not.Empty, "the row's bytes are kept after the first frame");
            Assert.That(row.EncodedJson, Is.SameAs(encoded), "the second service reused them");
        }
    }

    [Test]
    public void UpdateFrame_NonAsciiRow_KeepsThePythonStyleEscapes()
    {
        var row = new Row(Schema, ["é", 1L, 0.5, "€ ✓"]);

        var first = Encoding.UTF8.GetString(SubscriptionFrames.UpdateFrame("all_orders", "é", "insert", row));
        var encoded = row.EncodedJson;
        var second = Encoding.UTF8.GetString(SubscriptionFrames.UpdateFrame("by_symbol", "r", "insert", row));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first, Is.EqualTo("""{"type":"update","service":"all_orders","ref":"\u00e9","op":"insert","row":{"id":"\u00e9","qty":1,"price":0.5,"note":"\u20ac \u2713"}}"""));
            Assert.That(second, Is.EqualTo("""{"type":"update","service":"by_symbol","ref":"r","op":"insert","row":{"id":"\u00e9","qty":1,"price":0.5,"note":"\u20ac \u2713"}}"""));
            Assert.That(Encoding.UTF8.GetString(encoded!), Is.EqualTo("""{"id":"\u00e9","qty":1,"price":0.5,"note":"\u20ac \u2713"}"""), "kept in the final form");
            Assert.That(row.EncodedJson, Is.SameAs(encoded));
        }
    }

    [Test]
    public void DeltaFrame_SplicesTheRowsBytes_SameFrameWhetherTheRowWasEncodedBeforeOrNot()
    {
        var fresh = new Row(Schema, ["é\"1", 7L, 2.25, null]);
        var encoded = new Row(Schema, ["é\"1", 7L, 2.25, null]);
        _ = SubscriptionFrames.RowJson(encoded);
        var kept = encoded.EncodedJson;

        var fromFresh = Encoding.UTF8.GetString(SubscriptionFrames.DeltaFrame("all_orders", "r2", [("insert", fresh), ("update", fresh)]));
        var fromEncoded = Encoding.UTF8.GetString(SubscriptionFrames.DeltaFrame("all_orders", "r2", [("insert", encoded), ("update", encoded)]));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(fromFresh, Is.EqualTo("""{"type":"delta","service":"all_orders","ref":"r2","changes":[{"op":"insert","row":{"id":"\u00e9\"1","qty":7,"price":2.25,"note":null}},{"op":"update","row":{"id":"\u00e9\"1","qty":7,"price":2.25,"note":null}}]}"""));
            Assert.That(fromEncoded, Is.EqualTo(fromFresh));
            Assert.That(fresh.EncodedJson, Is.Not.Null, "a delta keeps the bytes it encoded, for the next resume and for updates");
            Assert.That(encoded.EncodedJson, Is.SameAs(kept), "bytes encoded before are reused, not encoded again");
        }
    }
}
