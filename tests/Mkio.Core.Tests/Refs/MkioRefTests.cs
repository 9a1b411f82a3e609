using System.Text.RegularExpressions;

namespace Mkio.Core.Tests.Refs;

/// <summary>Ref strings: format, normalisation and comparison (PROTOCOL.md §3.1, §3.4; CONFORMANCE items 4–6).</summary>
[Parallelizable(ParallelScope.All)]
public sealed class MkioRefTests
{
    private const string RefFormat = @"^\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$";

    [Test]
    public void Format_KnownInstant_WritesUtcDigitsInEverySlot()
    {
        // 2026-04-04 15:30:45 UTC + 123 ms 456 µs 789 ns, counter 12.
        var seconds = new DateTimeOffset(2026, 4, 4, 15, 30, 45, TimeSpan.Zero).ToUnixTimeSeconds();
        var text = MkioRef.Format((seconds * 1_000_000_000L) + 123_456_789L, 12);
        Assert.That(text, Is.EqualTo("20260404 15:30:45.123456789012"));
    }

    /// <summary>
    /// The date and time part is kept for the last second formatted: refs alternating between seconds, days and
    /// years (also from parallel threads) still get their own, and every digit matches <see cref="DateTime"/> formatting.
    /// </summary>
    [Test]
    public void Format_ManyInstantsAcrossSecondsAndThreads_MatchesDateTimeFormatting()
    {
        var random = new Random(20261207);
        var instants = Enumerable.Range(0, 4000).Select(_ => (Ns: random.NextInt64(0, 4_102_444_800L * 1_000_000_000L), Counter: random.Next(0, 1000))).ToArray();
        static string Expected(long ns, int counter) =>
            DateTime.UnixEpoch.AddTicks(ns / 100).ToString("yyyyMMdd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)
            + "." + (ns % 1_000_000_000L).ToString("D9", System.Globalization.CultureInfo.InvariantCulture)
            + counter.ToString("D3", System.Globalization.CultureInfo.InvariantCulture);

        var mismatches = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 4, w =>
        {
            for (var i = w; i < instants.Length; i += 4)
            {
                var (ns, counter) = instants[i];
                var text = MkioRef.Format(ns, counter);
                if (text != Expected(ns, counter))
                {
                    mismatches.Add(text + " != " + Expected(ns, counter));
                }
            }
        });

        using (Assert.EnterMultipleScope())
        {
            Assert.That(mismatches, Is.Empty);
            Assert.That(MkioRef.Format(59_999_999_999L, 1), Is.EqualTo("19700101 00:00:59.999999999001"));
            Assert.That(MkioRef.Format(60_000_000_000L, 2), Is.EqualTo("19700101 00:01:00.000000000002"));
            Assert.That(MkioRef.Format(59_000_000_001L, 3), Is.EqualTo("19700101 00:00:59.000000001003"));
            Assert.That(MkioRef.Format(-1, 4), Is.EqualTo("19691231 23:59:59.999999999004"), "before 1970: floor division, a well-formed ref");
        }
    }

    [Test]
    public void Format_Epoch_PadsEveryPartWithZeros()
    {
        Assert.That(MkioRef.Format(0, 0), Is.EqualTo("19700101 00:00:00.000000000000"));
    }

    [Test]
    public void Format_CounterAtOrAbove1000_WritesCounterModulo1000()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(MkioRef.Format(5, 1000), Is.EqualTo("19700101 00:00:00.000000005000"));
            Assert.That(MkioRef.Format(5, 1999), Is.EqualTo("19700101 00:00:00.000000005999"));
        }
    }

    [Test]
    public void Format_Result_MatchesReferenceRegexAndLength()
    {
        var text = MkioRef.Format(1_775_316_645_123_456_700L, 7);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(text, Does.Match(RefFormat));
            Assert.That(text, Has.Length.EqualTo(MkioRef.Length));
            Assert.That(MkioRef.Length, Is.EqualTo(30));
        }
    }

    [TestCase("20260404 15:30:45", "20260404 15:30:45.000000000000")]
    [TestCase("20260404 15:30:45.123", "20260404 15:30:45.123000000000")]
    [TestCase("20260404 15:30:45.", "20260404 15:30:45.000000000000")]
    [TestCase("20260404 15:30:45.123456789012", "20260404 15:30:45.123456789012")]
    [TestCase("20260404 15:30:45.1234567890123", "20260404 15:30:45.1234567890123")]
    [TestCase("ref1", "ref1.000000000000")]
    [TestCase("", ".000000000000")]
    [TestCase("a.b.c", "a.b.c000000000")]
    public void Normalize_Input_PadsFractionTo12Characters(string input, string expected)
    {
        Assert.That(MkioRef.Normalize(input), Is.EqualTo(expected));
    }

    [Test]
    public void Normalize_Null_Throws()
    {
        Assert.That(() => MkioRef.Normalize(null!), Throws.ArgumentNullException);
    }

    [TestCase("20260404 15:30:45.123456789012", "20260404 15:30:45.123456789012", 0)]
    [TestCase("20260404 15:30:45.123", "20260404 15:30:45.123000000000", 0)]
    [TestCase("20260404 15:30:45.123000000000", "20260404 15:30:45.123", 0)]
    [TestCase("20260404 15:30:45", "20260404 15:30:45.000000000000", 0)]
    [TestCase("20260404 15:30:45.123", "20260404 15:30:45.124000000000", -1)]
    [TestCase("20260404 15:30:45.124", "20260404 15:30:45.123000000000", 1)]
    [TestCase("20260404 15:30:45.123456789011", "20260404 15:30:45.123456789012", -1)]
    [TestCase("20260404 15:30:45.123456789012", "20260404 15:30:45.123456789011", 1)]
    [TestCase("20260404 15:30:44.999999999999", "20260404 15:30:45", -1)]
    [TestCase("20260405 00:00:00.000000000000", "20260404 23:59:59.999999999999", 1)]
    public void Compare_TwoRefs_ReturnsSignOfNormalisedOrdinalOrder(string a, string b, int expected)
    {
        Assert.That(MkioRef.Compare(a, b), Is.EqualTo(expected));
    }

    [Test]
    public void Compare_FarApartRefs_ReturnsExactlyMinusOneOrOne()
    {
        // The reference returns -1 / 0 / 1, never the raw ordinal difference.
        using (Assert.EnterMultipleScope())
        {
            Assert.That(MkioRef.Compare("19700101 00:00:00.000000000000", "29991231 23:59:59.999999999999"), Is.EqualTo(-1));
            Assert.That(MkioRef.Compare("29991231 23:59:59.999999999999", "19700101 00:00:00.000000000000"), Is.EqualTo(1));
        }
    }

    [Test]
    public void Compare_ClientRefAgainstTimestamp_UsesOrdinalCodePointOrder()
    {
        // PROTOCOL.md §3.5: "r1" compares greater than every real timestamp (letters sort after digits).
        using (Assert.EnterMultipleScope())
        {
            Assert.That(MkioRef.Compare("r1", "20260404 15:30:45.123456789012"), Is.EqualTo(1));
            Assert.That(MkioRef.Compare("R1", "r1"), Is.EqualTo(-1));
        }
    }

    [TestCase("20260404 15:30:45.123456789012", true)]
    [TestCase("20260404 15:30:45.12345678901", false)]
    [TestCase("20260404 15:30:45.1234567890123", false)]
    [TestCase("20260404T15:30:45.123456789012", false)]
    [TestCase("20260404 15-30:45.123456789012", false)]
    [TestCase("20260404 15:30:45,123456789012", false)]
    [TestCase("2026040a 15:30:45.123456789012", false)]
    [TestCase("20260404 15:30:45.12345678901x", false)]
    [TestCase("", false)]
    [TestCase(null, false)]
    public void IsWellFormed_Input_MatchesReferenceRegex(string? value, bool expected)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(MkioRef.IsWellFormed(value), Is.EqualTo(expected));
            Assert.That(value is not null && Regex.IsMatch(value, RefFormat, RegexOptions.CultureInvariant), Is.EqualTo(expected), "the regex of PROTOCOL.md §3.2 agrees");
        }
    }
}
