using Mkio.Storage.Postgres;
using Microsoft.Extensions.Time.Testing;

namespace Mkio.Core.Tests.Postgres;

/// <summary>Refs minted by a node whose clock is behind the cluster's newest committed ref still come after it.</summary>
[Parallelizable(ParallelScope.All)]
public class ClusterRefsTests
{
    [TestCase("20260101 00:00:00.000000000999", "20260101 00:00:00.000000001000")]
    [TestCase("20260101 00:00:00.000000000005", "20260101 00:00:00.000000000006")]
    [TestCase("20251231 23:59:59.999999999999", "20260101 00:00:00.000000000000")]
    public void SuccessorIsTheNextWellFormedRef(string r, string next) =>
        Assert.That(ClusterRefs.Successor(r), Is.EqualTo(next));

    [Test]
    public void ALaggingClockIsRaisedAboveTheObservedRef()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var refs = new ClusterRefs(new MkioRefGenerator(clock));
        const string Newest = "20270101 00:00:00.000000000000";
        refs.Observe(Newest);
        var a = refs.Next();
        var b = refs.Next();
        Assert.That(MkioRef.Compare(a, Newest), Is.EqualTo(1));
        Assert.That(MkioRef.Compare(b, a), Is.EqualTo(1));
        refs.Observe("20200101 00:00:00.000000000000");
        Assert.That(MkioRef.Compare(refs.Next(), b), Is.EqualTo(1), "an older observation never lowers the floor");
    }

    [Test]
    public void AClockAheadOfTheFloorIsUsedAsIs()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var refs = new ClusterRefs(new MkioRefGenerator(clock));
        refs.Observe("20250101 00:00:00.000000000000");
        Assert.That(refs.Next(), Is.EqualTo("20260101 00:00:00.000000000000"));
    }
}
