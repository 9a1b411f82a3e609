using Mkio.Services.Listeners;

namespace Mkio.Core.Tests.Listeners;

/// <summary>SubPub cache keys compare like Python dictionary keys (SERVICES.md §8).</summary>
public class CacheKeyTests
{
    private static readonly object?[][] EqualPairs =
    [
        [1L, 1L],
        [1L, 1.0],
        [-3.0, -3L],
        [1L, true],
        [0L, false],
        ["AAPL", "AAPL"],
        [null, null],
        [new byte[] { 1, 2 }, new byte[] { 1, 2 }],
    ];

    private static readonly object?[][] UnequalPairs =
    [
        [1L, 2L],
        [1L, 1.5],
        ["1", 1L],
        ["AAPL", "aapl"],
        [null, 0L],
        [null, ""],
        [new byte[] { 1, 2 }, new byte[] { 2, 1 }],
    ];

    [TestCaseSource(nameof(EqualPairs))]
    public void Equals_PythonEqualValues_EqualWithSameHash(object? a, object? b)
    {
        var x = new CacheKey(a);
        var y = new CacheKey(b);
        Assert.That(x.Equals(y), Is.True);
        Assert.That(y.Equals(x), Is.True);
        Assert.That(x.Equals((object)y), Is.True);
        Assert.That(x.GetHashCode(), Is.EqualTo(y.GetHashCode()));
    }

    [TestCaseSource(nameof(UnequalPairs))]
    public void Equals_DifferentValues_NotEqual(object? a, object? b)
    {
        Assert.That(new CacheKey(a).Equals(new CacheKey(b)), Is.False);
        Assert.That(new CacheKey(b).Equals(new CacheKey(a)), Is.False);
    }

    [Test]
    public void Dictionary_IntegerAndIntegralFloatKeys_SameEntry()
    {
        var d = new OrderedDictionary<CacheKey, string> { [new CacheKey(7L)] = "a" };
        d[new CacheKey(7.0)] = "b";
        Assert.That(d, Has.Count.EqualTo(1));
        Assert.That(d[new CacheKey(7L)], Is.EqualTo("b"));
        Assert.That(new CacheKey(7.0).Value, Is.EqualTo(7L));
        Assert.That(new CacheKey(7.5).Value, Is.EqualTo(7.5));
    }
}
