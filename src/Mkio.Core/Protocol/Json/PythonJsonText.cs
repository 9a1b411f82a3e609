using System.Buffers;
using System.Text;

namespace Mkio.Protocol.Json;

/// <summary>
/// String escaping exactly as Python's <c>json.dumps</c> with its default <c>ensure_ascii=True</c>:
/// printable ASCII (space to <c>~</c>) is kept except <c>"</c> and <c>\</c>; <c>\"</c>, <c>\\</c>,
/// <c>\b</c>, <c>\f</c>, <c>\n</c>, <c>\r</c>, <c>\t</c> use their short forms; every other UTF-16 code
/// unit (other control characters, DEL, all non-ASCII, each half of a surrogate pair) becomes
/// <c>\uxxxx</c> with lowercase hex. <c>&lt;</c>, <c>&gt;</c>, <c>&amp;</c>, <c>'</c>, <c>+</c> and
/// <c>/</c> are never escaped.
/// </summary>
/// <remarks>
/// Python's rule is <c>ESCAPE_ASCII = r'([\\"]|[^\ -~])'</c> with <c>'\\u{0:04x}'</c> formatting, and
/// astral characters are split into surrogate pairs. Lone surrogates are escaped as they are, which is
/// also what Python does with a string holding one.
/// </remarks>
internal static class PythonJsonText
{
    /// <summary>Longest output for one UTF-16 code unit or one UTF-8 input byte (<c>\uxxxx</c>).</summary>
    public const int MaxBytesPerInputUnit = 6;

    /// <summary>Characters Python writes as they are: printable ASCII except <c>"</c> and <c>\</c>.</summary>
    public static readonly SearchValues<char> SafeChars = SearchValues.Create(BuildSafe());

    /// <summary>The same set as <see cref="SafeChars"/>, as UTF-8 bytes.</summary>
    public static readonly SearchValues<byte> SafeBytes = SearchValues.Create(Encoding.ASCII.GetBytes(BuildSafe()));

    private static ReadOnlySpan<byte> LowerHex => "0123456789abcdef"u8;

    private static string BuildSafe()
    {
        var chars = new List<char>();
        for (var c = ' '; c <= '~'; c++)
        {
            if (c is not '"' and not '\\')
            {
                chars.Add(c);
            }
        }

        return new string([.. chars]);
    }

    /// <summary>
    /// Upper bound of the escaped length (without quotes) of a UTF-16 string whose first
    /// <paramref name="safePrefix"/> characters need no escaping.
    /// </summary>
    public static int MaxEscapedLength(int length, int safePrefix) =>
        checked(safePrefix + (MaxBytesPerInputUnit * (length - safePrefix)));

    /// <summary>The most bytes <see cref="EscapeQuoted"/> writes for <paramref name="value"/>.</summary>
    public static int MaxQuotedLength(ReadOnlySpan<char> value)
    {
        var safePrefix = value.IndexOfAnyExcept(SafeChars);
        return checked(2 + MaxEscapedLength(value.Length, safePrefix < 0 ? value.Length : safePrefix));
    }

    /// <summary>
    /// Writes <paramref name="value"/> as a Python JSON string, quotes included, into <paramref name="destination"/>
    /// (at least <see cref="MaxQuotedLength"/> bytes); returns the bytes written.
    /// </summary>
    public static int EscapeQuoted(ReadOnlySpan<char> value, Span<byte> destination)
    {
        destination[0] = (byte)'"';
        var n = 1 + Escape(value, destination[1..]);
        destination[n] = (byte)'"';
        return n + 1;
    }

    /// <summary>
    /// Writes the Python escaping of <paramref name="value"/> (no surrounding quotes) into
    /// <paramref name="destination"/>, which must hold <see cref="MaxEscapedLength"/> bytes.
    /// </summary>
    /// <returns>The number of bytes written.</returns>
    public static int Escape(ReadOnlySpan<char> value, Span<byte> destination)
    {
        var written = 0;
        while (!value.IsEmpty)
        {
            var run = value.IndexOfAnyExcept(SafeChars);
            if (run < 0)
            {
                run = value.Length;
            }

            if (run > 0)
            {
                Ascii.FromUtf16(value[..run], destination[written..], out _);
                written += run;
                value = value[run..];
                if (value.IsEmpty)
                {
                    break;
                }
            }

            written += EscapeUnit(value[0], destination[written..]);
            value = value[1..];
        }

        return written;
    }

    /// <summary>
    /// Writes one UTF-16 code unit the way Python does (also used for code units decoded from
    /// <c>\uXXXX</c> escapes). <paramref name="destination"/> needs 6 bytes.
    /// </summary>
    /// <returns>The number of bytes written (1, 2 or 6).</returns>
    public static int EscapeUnit(int unit, Span<byte> destination)
    {
        if (unit is >= 0x20 and <= 0x7e)
        {
            if (unit is '"' or '\\')
            {
                destination[0] = (byte)'\\';
                destination[1] = (byte)unit;
                return 2;
            }

            destination[0] = (byte)unit;
            return 1;
        }

        var shortForm = unit switch
        {
            '\b' => (byte)'b',
            '\f' => (byte)'f',
            '\n' => (byte)'n',
            '\r' => (byte)'r',
            '\t' => (byte)'t',
            _ => (byte)0,
        };
        if (shortForm != 0)
        {
            destination[0] = (byte)'\\';
            destination[1] = shortForm;
            return 2;
        }

        destination[0] = (byte)'\\';
        destination[1] = (byte)'u';
        destination[2] = LowerHex[(unit >> 12) & 0xF];
        destination[3] = LowerHex[(unit >> 8) & 0xF];
        destination[4] = LowerHex[(unit >> 4) & 0xF];
        destination[5] = LowerHex[unit & 0xF];
        return 6;
    }

    /// <summary>
    /// Returns the index of the quote closing the JSON string token that opens at
    /// <paramref name="openQuote"/>, skipping backslash escapes.
    /// </summary>
    /// <exception cref="FormatException">The string is not terminated.</exception>
    public static int FindClosingQuote(ReadOnlySpan<byte> json, int openQuote)
    {
        var i = openQuote + 1;
        while (true)
        {
            var k = i < json.Length ? json[i..].IndexOfAny((byte)'"', (byte)'\\') : -1;
            if (k < 0)
            {
                throw new FormatException($"Unterminated JSON string starting at byte {openQuote}.");
            }

            i += k;
            if (json[i] == '"')
            {
                return i;
            }

            i += 2; // backslash and the escaped byte; \uXXXX's hex digits are never quotes or backslashes
        }
    }

    /// <summary>
    /// Rewrites the content of a JSON string token (between its quotes, escapes as found) into
    /// Python's canonical <c>ensure_ascii</c> form: <c>\/</c> becomes <c>/</c>, <c>\u0041</c> becomes
    /// <c>A</c>, uppercase hex becomes lowercase, raw UTF-8 becomes <c>\uxxxx</c>.
    /// <paramref name="destination"/> must hold <c>6 × content.Length</c> bytes.
    /// </summary>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="FormatException">An escape sequence is malformed.</exception>
    public static int Canonicalize(ReadOnlySpan<byte> content, Span<byte> destination)
    {
        var written = 0;
        var i = 0;
        while (i < content.Length)
        {
            var run = content[i..].IndexOfAnyExcept(SafeBytes);
            if (run < 0)
            {
                run = content.Length - i;
            }

            if (run > 0)
            {
                content.Slice(i, run).CopyTo(destination[written..]);
                written += run;
                i += run;
                if (i == content.Length)
                {
                    break;
                }
            }

            var b = content[i];
            if (b == '\\')
            {
                if (i + 1 >= content.Length)
                {
                    throw new FormatException("Truncated escape sequence in a JSON string.");
                }

                var e = content[i + 1];
                switch (e)
                {
                    case (byte)'"' or (byte)'\\' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t':
                        destination[written++] = (byte)'\\';
                        destination[written++] = e;
                        i += 2;
                        break;
                    case (byte)'/':
                        destination[written++] = (byte)'/';
                        i += 2;
                        break;
                    case (byte)'u':
                        if (i + 6 > content.Length || !TryParseHex4(content.Slice(i + 2, 4), out var unit))
                        {
                            throw new FormatException("Malformed \\u escape in a JSON string.");
                        }

                        written += EscapeUnit(unit, destination[written..]);
                        i += 6;
                        break;
                    default:
                        throw new FormatException($"Invalid escape '\\{(char)e}' in a JSON string.");
                }
            }
            else if (b < 0x80)
            {
                // A raw control character, DEL or quote: not valid inside a JSON string token, but
                // escaping it the Python way is the most useful thing to do.
                written += EscapeUnit(b, destination[written..]);
                i++;
            }
            else
            {
                // Invalid UTF-8 decodes to U+FFFD, consuming at least one byte.
                Rune.DecodeFromUtf8(content[i..], out var rune, out var consumed);
                written += EscapeRune(rune, destination[written..]);
                i += consumed;
            }
        }

        return written;
    }

    /// <summary>True when the bytes are already Python-canonical string content with nothing to escape.</summary>
    public static bool IsSafe(ReadOnlySpan<byte> content) => !content.ContainsAnyExcept(SafeBytes);

    private static int EscapeRune(Rune rune, Span<byte> destination)
    {
        if (rune.IsBmp)
        {
            return EscapeUnit(rune.Value, destination);
        }

        var v = rune.Value - 0x10000;
        var n = EscapeUnit(0xD800 + (v >> 10), destination);
        return n + EscapeUnit(0xDC00 + (v & 0x3FF), destination[n..]);
    }

    private static bool TryParseHex4(ReadOnlySpan<byte> hex, out int value)
    {
        value = 0;
        foreach (var h in hex)
        {
            int d;
            if (h is >= (byte)'0' and <= (byte)'9')
            {
                d = h - '0';
            }
            else if (h is >= (byte)'a' and <= (byte)'f')
            {
                d = h - 'a' + 10;
            }
            else if (h is >= (byte)'A' and <= (byte)'F')
            {
                d = h - 'A' + 10;
            }
            else
            {
                return false;
            }

            value = (value << 4) | d;
        }

        return true;
    }
}
