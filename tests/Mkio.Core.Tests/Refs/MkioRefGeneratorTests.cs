using Microsoft.Extensions.Time.Testing;

namespace Mkio.Core.Tests.Refs;

/// <summary>
/// The server's ref generator (PROTOCOL.md §3.2 with the [FIX]: strictly monotonic, thread-safe;
/// CONFORMANCE items 1–3 and 7).
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class MkioRefGeneratorTests
{
    private const string RefFormat = @"^\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$";

    /// <summary>2026-04-04 15:30:45.1234567 UTC: .NET ticks are 100 ns, so the nanosecond digits end in 00.</summary>
    private static readonly DateTimeOffset T0 = new DateTimeOffset(2026, 4, 4, 15, 30, 45, TimeSpan.Zero).AddTicks(1_234_567);

    [Test]
    public void Next_SystemClock_MatchesReferenceFormat()
    {
        var generator = new MkioRefGenerator(TimeProvider.System);
        Assert.That(generator.Next(), Does.Match(RefFormat));
    }

    [Test]
    public void Next_ClockWithNonUtcOffsetAndLocalZone_FormatsUtcTime()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 4, 4, 17, 30, 45, TimeSpan.FromHours(2)).AddTicks(1_234_567));
        time.SetLocalTimeZone(TimeZoneInfo.CreateCustomTimeZone("Test+05", TimeSpan.FromHours(5), "Test+05", "Test+05"));
        var generator = new MkioRefGenerator(time);
        Assert.That(generator.Next(), Is.EqualTo("20260404 15:30:45.123456700000"));
    }

    [Test]
    public void Next_100Consecutive_StrictlyIncreasingAsStrings()
    {
        var generator = new MkioRefGenerator(TimeProvider.System);
        var refs = Enumerable.Range(0, 100).Select(_ => generator.Next()).ToList();
        AssertStrictlyIncreasing(refs);
    }

    [Test]
    public void Next_1000Consecutive_PairwiseDistinct()
    {
        var generator = new MkioRefGenerator(TimeProvider.System);
        var refs = Enumerable.Range(0, 1000).Select(_ => generator.Next()).ToList();
        Assert.That(refs, Is.Unique);
    }

    [Test]
    public void Next_FrozenClock_ReusesTimeAndIncrementsCounter()
    {
        var generator = new MkioRefGenerator(new FakeTimeProvider(T0));
        var refs = Enumerable.Range(0, 3).Select(_ => generator.Next()).ToList();
        Assert.That(refs, Is.EqualTo(new[]
        {
            "20260404 15:30:45.123456700000",
            "20260404 15:30:45.123456700001",
            "20260404 15:30:45.123456700002",
        }));
    }

    [Test]
    public void Next_ClockAdvances_ResetsCounterAndUsesNewTime()
    {
        var time = new FakeTimeProvider(T0);
        var generator = new MkioRefGenerator(time);
        var first = generator.Next();
        var second = generator.Next();
        time.Advance(TimeSpan.FromTicks(1));
        var third = generator.Next();
        Assert.That(new[] { first, second, third }, Is.EqualTo(new[]
        {
            "20260404 15:30:45.123456700000",
            "20260404 15:30:45.123456700001",
            "20260404 15:30:45.123456800000",
        }));
    }

    [Test]
    public void Next_ClockMovedBackwards_StaysStrictlyIncreasing()
    {
        var time = new FakeTimeProvider(T0);
        var generator = new MkioRefGenerator(time);
        var refs = new List<string> { generator.Next() };
        time.AdjustTime(T0.AddHours(-1));
        refs.Add(generator.Next());
        refs.Add(generator.Next());
        time.AdjustTime(T0.AddTicks(-1));
        refs.Add(generator.Next());
        time.AdjustTime(T0.AddTicks(1));
        refs.Add(generator.Next());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(refs, Is.EqualTo(new[]
            {
                "20260404 15:30:45.123456700000",
                "20260404 15:30:45.123456700001", // [FIX] the reference would emit 14:30:45 here
                "20260404 15:30:45.123456700002",
                "20260404 15:30:45.123456700003",
                "20260404 15:30:45.123456800000",
            }));
            AssertStrictlyIncreasing(refs);
        }
    }

    [Test]
    public void Next_ClockMovedBackwardsFarAcrossMidnight_NeverEmitsTheEarlierDate()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 4, 5, 0, 0, 0, TimeSpan.Zero));
        var generator = new MkioRefGenerator(time);
        var before = generator.Next();
        time.AdjustTime(new DateTimeOffset(2026, 4, 4, 23, 59, 59, TimeSpan.Zero));
        var after = generator.Next();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(before, Is.EqualTo("20260405 00:00:00.000000000000"));
            Assert.That(after, Is.EqualTo("20260405 00:00:00.000000000001"));
        }
    }

    [Test]
    public void Next_1001RefsInOneNanosecond_CounterOverflowAdvancesTimeBy1Ns()
    {
        var generator = new MkioRefGenerator(new FakeTimeProvider(T0));
        var refs = Enumerable.Range(0, 1002).Select(_ => generator.Next()).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(refs[0], Is.EqualTo("20260404 15:30:45.123456700000"));
            Assert.That(refs[999], Is.EqualTo("20260404 15:30:45.123456700999"));
            Assert.That(refs[1000], Is.EqualTo("20260404 15:30:45.123456701000"));
            Assert.That(refs[1001], Is.EqualTo("20260404 15:30:45.123456701001"));
            Assert.That(refs, Is.Unique);
            AssertStrictlyIncreasing(refs);
        }
    }

    [Test]
    public void Next_ClockBackwardsAtCounter999_OverflowsIntoNextNanosecond()
    {
        var time = new FakeTimeProvider(T0);
        var generator = new MkioRefGenerator(time);
        for (var i = 0; i < 1000; i++)
        {
            generator.Next();
        }

        time.AdjustTime(T0.AddSeconds(-30));
        Assert.That(generator.Next(), Is.EqualTo("20260404 15:30:45.123456701000"));
    }

    [Test]
    public void Next_OverflowThenClockCatchesUp_UsesClockTimeAgain()
    {
        var time = new FakeTimeProvider(T0);
        var generator = new MkioRefGenerator(time);
        for (var i = 0; i < 1000; i++)
        {
            generator.Next();
        }

        var overflowed = generator.Next();
        time.Advance(TimeSpan.FromTicks(1));
        var caughtUp = generator.Next();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(overflowed, Is.EqualTo("20260404 15:30:45.123456701000"));
            Assert.That(caughtUp, Is.EqualTo("20260404 15:30:45.123456800000"));
        }
    }

    [Test, CancelAfter(30_000)]
    public void Next_ManyThreadsFrozenClock_ProducesExactlyTheSequentialSet(CancellationToken ct)
    {
        const int ThreadCount = 8;
        const int PerThread = 2_500;
        var shared = new MkioRefGenerator(new FakeTimeProvider(T0));
        var results = new List<string>[ThreadCount];
        using var start = new Barrier(ThreadCount);
        var threads = Enumerable.Range(0, ThreadCount).Select(t => new Thread(() =>
        {
            start.SignalAndWait(ct);
            var mine = new List<string>(PerThread);
            for (var i = 0; i < PerThread; i++)
            {
                mine.Add(shared.Next());
            }

            results[t] = mine;
        })).ToArray();
        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        var all = results.SelectMany(r => r).ToList();
        var sequential = new MkioRefGenerator(new FakeTimeProvider(T0));
        var expected = Enumerable.Range(0, ThreadCount * PerThread).Select(_ => sequential.Next()).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(all, Has.Count.EqualTo(ThreadCount * PerThread));
            Assert.That(all, Is.Unique);
            Assert.That(all.Order(StringComparer.Ordinal), Is.EqualTo(expected), "no counter step lost or repeated under contention");
            foreach (var list in results)
            {
                AssertStrictlyIncreasing(list);
            }
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Next_ManyThreadsSystemClock_AllDistinctAndWellFormed(CancellationToken ct)
    {
        var shared = new MkioRefGenerator(TimeProvider.System);
        var tasks = Enumerable.Range(0, 8)
            .Select(_ => Task.Run(() => Enumerable.Range(0, 2_000).Select(_ => shared.Next()).ToList(), ct))
            .ToArray();
        var results = await Task.WhenAll(tasks).WaitAsync(ct);
        var all = results.SelectMany(r => r).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(all, Has.Count.EqualTo(16_000));
            Assert.That(all, Is.Unique);
            Assert.That(all, Has.All.Match(RefFormat));
            foreach (var list in results)
            {
                AssertStrictlyIncreasing(list);
            }
        }
    }

    [Test]
    public void Constructor_NullTimeProvider_Throws()
    {
        Assert.That(() => new MkioRefGenerator(null!), Throws.ArgumentNullException);
    }

    private static void AssertStrictlyIncreasing(List<string> refs)
    {
        var firstBad = -1;
        for (var i = 1; i < refs.Count && firstBad < 0; i++)
        {
            if (string.CompareOrdinal(refs[i - 1], refs[i]) >= 0)
            {
                firstBad = i;
            }
        }

        Assert.That(firstBad, Is.EqualTo(-1), () => $"ref {firstBad} ({refs[firstBad]}) is not greater than the one before ({refs[firstBad - 1]})");
    }
}
