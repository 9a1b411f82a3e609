using System.Text.Json;
using Mkio.Protocol.Json;

namespace Mkio.Core.Tests.Protocol;

/// <summary>The inbound rewrite of Python's bare NaN/Infinity/-Infinity inside <c>data</c> (PROTOCOL.md §2).</summary>
[Parallelizable(ParallelScope.Children)]
public class NonFiniteJsonTests
{
    [Test]
    public void RewriteInboundData_TokensInsideData_BecomeMarkersThatReadBackAsFloats()
    {
        var text = NonFiniteJson.RewriteInboundData("""{"service":"s","data":{"a":NaN,"b":[Infinity,-Infinity],"c":{"d":NaN},"e":"NaN"},"x":1}""");
        Assert.That(text, Is.Not.Null);
        using var doc = JsonDocument.Parse(text!);
        var data = doc.RootElement.GetProperty("data");
        Assert.That(NonFiniteJson.TryGetValue(data.GetProperty("a").GetString()!, out var a) && double.IsNaN(a), Is.True);
        Assert.That(NonFiniteJson.TryGetValue(data.GetProperty("b")[0].GetString()!, out var b0), Is.True);
        Assert.That(b0, Is.EqualTo(double.PositiveInfinity));
        Assert.That(NonFiniteJson.TryGetValue(data.GetProperty("b")[1].GetString()!, out var b1), Is.True);
        Assert.That(b1, Is.EqualTo(double.NegativeInfinity));
        Assert.That(NonFiniteJson.TryGetValue(data.GetProperty("c").GetProperty("d").GetString()!, out var d) && double.IsNaN(d), Is.True);
        Assert.That(data.GetProperty("e").GetString(), Is.EqualTo("NaN"));
        Assert.That(NonFiniteJson.TryGetValue("NaN", out _), Is.False);
        Assert.That(NonFiniteJson.TryGetValue("mkio-nonfinite-NaN", out _), Is.False);
    }

    [TestCase("""{"service":NaN,"data":{}}""")]
    [TestCase("""{"service":"s","ref":Infinity,"data":{}}""")]
    [TestCase("""{"service":"s","data":NaN}""")]
    [TestCase("""{"service":"s","other":{"a":NaN},"data":{}}""")]
    [TestCase("""{"service":"s","data":{"a":"NaN Infinity"}}""")]
    [TestCase("""{"service":"s","data":{"a":1}}""")]
    [TestCase("""[{"data":{"a":NaN}}]""")]
    public void RewriteInboundData_NothingToReplace_Null(string text) =>
        Assert.That(NonFiniteJson.RewriteInboundData(text), Is.Null);

    [Test]
    public void RewriteInboundData_DataAfterOtherMembersAndEscapedKeys_OnlyDataTouched()
    {
        var text = NonFiniteJson.RewriteInboundData("""{"d\"ata":{"a":1},"x":[NaN],"data":{"a":NaN}}""");

        // "x" is not data: its NaN stays, so the result is still not strict JSON; data's NaN became a marker.
        Assert.That(text, Does.Contain("\"x\":[NaN]"));
        Assert.That(text, Does.Not.Contain("\"a\":NaN"));
    }
}
