using System.Globalization;

namespace Mkio;

/// <summary>
/// Ref strings: <c>YYYYMMDD HH:MM:SS.mmmuuunnnppp</c> UTC timestamps that sort lexicographically in
/// time order (PROTOCOL.md §3). Shared by the server and the .NET client.
/// </summary>
internal static class MkioRef
{
    /// <summary>Length of a full ref (the spec's prose says 31; its format and regex give 30).</summary>
    public const int Length = 30;

    private const string Zeros = "000000000000";

    // The date and time part of the last second formatted: refs of one second share it (the writer makes
    // thousands a second), so only the fraction and counter are written per ref. Replaced as a whole.
    private static Prefix? s_prefix;

    /// <summary>Formats a time in nanoseconds since the Unix epoch plus a 0–999 counter.</summary>
    public static string Format(long unixNanoseconds, int counter)
    {
        // Floor division: the fraction is never negative (an instant before 1970 counts back from its second).
        var seconds = Math.DivRem(unixNanoseconds, 1_000_000_000L, out var nanos);
        if (nanos < 0)
        {
            seconds--;
            nanos += 1_000_000_000L;
        }

        var prefix = s_prefix;
        if (prefix is null || prefix.Seconds != seconds)
        {
            prefix = new Prefix(seconds, DateTime.UnixEpoch.AddSeconds(seconds).ToString("yyyyMMdd HH:mm:ss", CultureInfo.InvariantCulture));
            s_prefix = prefix;
        }

        return string.Create(Length, (prefix.Text, (int)nanos, counter), static (span, s) =>
        {
            var (text, n, c) = s;
            text.AsSpan().CopyTo(span);
            span[17] = '.';
            Digits3(span[18..], n / 1_000_000);
            Digits3(span[21..], n / 1_000 % 1_000);
            Digits3(span[24..], n % 1_000);
            Digits3(span[27..], c % 1000);
        });
    }

    private static void Digits3(Span<char> span, int value)
    {
        span[0] = (char)('0' + (value / 100));
        span[1] = (char)('0' + (value / 10 % 10));
        span[2] = (char)('0' + (value % 10));
    }

    private sealed class Prefix(long seconds, string text)
    {
        public long Seconds { get; } = seconds;

        public string Text { get; } = text;
    }

    /// <summary>
    /// Normalises a ref for comparison (§3.4): no <c>.</c> → append <c>.000000000000</c>; otherwise
    /// right-pad the fraction after the first <c>.</c> with zeros to 12 characters.
    /// </summary>
    public static string Normalize(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var dot = value.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return value + "." + Zeros;
        }

        var fraction = value.Length - dot - 1;
        return fraction >= 12 ? value : value + Zeros[..(12 - fraction)];
    }

    /// <summary>Compares two refs after normalisation: -1, 0 or 1.</summary>
    public static int Compare(string a, string b)
    {
        var c = string.CompareOrdinal(Normalize(a), Normalize(b));
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }

    /// <summary>True when <paramref name="value"/> matches <c>^\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$</c>.</summary>
    public static bool IsWellFormed(string? value)
    {
        if (value is null || value.Length != Length)
        {
            return false;
        }

        for (var i = 0; i < Length; i++)
        {
            var ch = value[i];
            var ok = i switch
            {
                8 => ch == ' ',
                11 or 14 => ch == ':',
                17 => ch == '.',
                _ => char.IsAsciiDigit(ch),
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>
/// Strictly monotonic, thread-safe ref generator (PROTOCOL.md §3.2 with fix F8): when the clock does
/// not advance (or moves backwards) the previous time is reused with an incremented counter, and
/// after 1000 refs in one nanosecond the time part advances by 1 ns.
/// </summary>
internal sealed class MkioRefGenerator
{
    private static readonly long UnixEpochTicks = DateTime.UnixEpoch.Ticks;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private long _lastNs;
    private int _counter;

    public MkioRefGenerator(TimeProvider time) => _time = time ?? throw new ArgumentNullException(nameof(time));

    /// <summary>The next ref; every call returns a string greater than the previous one.</summary>
    public string Next()
    {
        var now = (_time.GetUtcNow().UtcTicks - UnixEpochTicks) * 100;
        long ns;
        int counter;
        lock (_lock)
        {
            if (now <= _lastNs)
            {
                _counter++;
                if (_counter >= 1000)
                {
                    _lastNs++;
                    _counter = 0;
                }
            }
            else
            {
                _lastNs = now;
                _counter = 0;
            }

            ns = _lastNs;
            counter = _counter;
        }

        return MkioRef.Format(ns, counter);
    }
}
