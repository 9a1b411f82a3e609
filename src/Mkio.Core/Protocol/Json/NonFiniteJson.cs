using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
namespace Mkio.Protocol.Json;

/// <summary>
/// The non-standard number tokens <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> that Python's <c>json</c> module accepts as
/// float values: the reference <c>mkio send</c> reads its data with <c>json.load</c>/<c>json.loads</c> (CLI.md §5.2), and the
/// reference server accepts them in inbound messages (PROTOCOL.md §2), as Python clients send them for non-finite floats.
/// </summary>
/// <remarks>
/// System.Text.Json rejects these tokens. <see cref="Scan(string)"/> walks the text as a JSON tokeniser does (strings with their escapes,
/// objects, arrays, keys and values) and replaces each token found where Python would read a value — the start of the document,
/// after <c>[</c>, after <c>:</c>, or after <c>,</c> inside an array — by a marker string that does not occur in the text. Tokens
/// inside strings, in key positions, after another value, or spelled differently (<c>nan</c>, <c>+Infinity</c>) are left alone,
/// so the parser reports them as before. <see cref="Restore"/> turns the markers in a parsed value's raw text back into the bare
/// tokens, written as the wire writes a non-finite float (<see cref="WireJson.WriteDouble"/>, Python's <c>json.dumps</c> form).
/// </remarks>
internal sealed class NonFiniteJson
{
    private static readonly string[] Tokens = ["NaN", "Infinity", "-Infinity"];

    /// <summary>
    /// The server's marker prefix: random per process, so a client cannot forge it (a message whose text
    /// holds it is left as it is, and fails to parse as before).
    /// </summary>
    private static readonly string ServerMarker = "mkio-nonfinite-" + Guid.NewGuid().ToString("N") + ":";

    private static readonly string[] ServerValues = [ServerMarker + Tokens[0], ServerMarker + Tokens[1], ServerMarker + Tokens[2]];

    private static readonly byte[][] ServerValuesUtf8 = [.. ServerValues.Select(Encoding.UTF8.GetBytes)];

    private static readonly double[] Values = [double.NaN, double.PositiveInfinity, double.NegativeInfinity];

    /// <summary>The wire text of each token's float (same order as <see cref="Tokens"/>).</summary>
    private static readonly string[] WireTexts = [WireText(double.NaN), WireText(double.PositiveInfinity), WireText(double.NegativeInfinity)];

    private readonly string? _marker;
    private readonly List<Shift> _shifts;

    private NonFiniteJson(string text, string? marker, List<Shift> shifts)
    {
        Text = text;
        _marker = marker;
        _shifts = shifts;
    }

    /// <summary>The text to parse: the input itself when it has no token to replace.</summary>
    public string Text { get; }

    /// <summary>True when at least one token was replaced by a marker.</summary>
    public bool HasTokens => _marker is not null;

    /// <summary>Finds the tokens at value positions of <paramref name="text"/> and replaces them by marker strings.</summary>
    public static NonFiniteJson Scan(string text) => Scan(text, null, null);

    /// <summary>
    /// Inbound messages (PROTOCOL.md §2): replaces the tokens found inside the value of the top-level member <c>data</c>
    /// (at any depth below it) by this process's marker strings, which <see cref="TryGetValue(string, out double)"/> and
    /// <see cref="TryGetValue(ReadOnlySpan{byte}, out double)"/> recognise. Returns null when there is nothing to replace
    /// (or the text already holds the marker). Tokens elsewhere (envelope fields) stay invalid JSON.
    /// </summary>
    public static string? RewriteInboundData(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Contains(ServerMarker, StringComparison.Ordinal))
        {
            return null;
        }

        var scanned = Scan(text, ServerMarker, "data");
        return scanned.HasTokens ? scanned.Text : null;
    }

    /// <summary>True when <paramref name="value"/> is a marker string of <see cref="RewriteInboundData"/>; gives its float.</summary>
    public static bool TryGetValue(string value, out double result)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length > ServerMarker.Length && value[0] == 'm' && value.StartsWith(ServerMarker, StringComparison.Ordinal))
        {
            for (var t = 0; t < ServerValues.Length; t++)
            {
                if (value == ServerValues[t])
                {
                    result = Values[t];
                    return true;
                }
            }
        }

        result = 0;
        return false;
    }

    /// <summary><see cref="TryGetValue(string, out double)"/> on a JSON string's raw UTF-8 content, without its quotes (the markers need no escapes).</summary>
    public static bool TryGetValue(ReadOnlySpan<byte> rawUtf8, out double result)
    {
        if (rawUtf8.Length > ServerMarker.Length && rawUtf8[0] == (byte)'m')
        {
            for (var t = 0; t < ServerValuesUtf8.Length; t++)
            {
                if (rawUtf8.SequenceEqual(ServerValuesUtf8[t]))
                {
                    result = Values[t];
                    return true;
                }
            }
        }

        result = 0;
        return false;
    }

    /// <summary>
    /// The scan: <paramref name="fixedMarker"/> instead of a fresh marker when given; with <paramref name="onlyInsideMember"/>,
    /// only tokens below the value of that member of the top-level object are replaced.
    /// </summary>
    private static NonFiniteJson Scan(string text, string? fixedMarker, string? onlyInsideMember)
    {
        ArgumentNullException.ThrowIfNull(text);
        string? marker = null;
        var awaitingKey = false; // a string at depth 1 here is a top-level member name
        var keyStart = -1;
        var inMember = onlyInsideMember is null;
        StringBuilder? output = null;
        var shifts = new List<Shift>();
        var copied = 0;

        var containers = new Stack<bool>(); // true = array, false = object
        var expectValue = true;
        var inString = false;
        var escaped = false;
        var line = 0L;
        var column = 0L;    // UTF-8 bytes since the last line feed, in the input
        var lineDelta = 0L; // bytes the markers added so far on this line
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (escaped)
                {
                    escaped = false;
                }
                else if (c == '\\')
                {
                    escaped = true;
                }
                else if (c == '"')
                {
                    inString = false;
                    if (keyStart >= 0)
                    {
                        inMember = onlyInsideMember is null || text.AsSpan(keyStart, i - keyStart).SequenceEqual(onlyInsideMember);
                        keyStart = -1;
                    }
                }
            }
            else
            {
                switch (c)
                {
                    case '"':
                        inString = true;
                        expectValue = false;
                        if (awaitingKey && containers.Count == 1)
                        {
                            keyStart = i + 1;
                            awaitingKey = false;
                        }

                        break;
                    case '[':
                        containers.Push(true);
                        expectValue = true;
                        break;
                    case '{':
                        containers.Push(false);
                        expectValue = false;
                        awaitingKey = containers.Count == 1;
                        break;
                    case ']':
                    case '}':
                        containers.TryPop(out _);
                        expectValue = false;
                        break;
                    case ',':
                        expectValue = containers.TryPeek(out var isArray) && isArray;
                        if (containers.Count == 1 && !isArray)
                        {
                            awaitingKey = true;
                            inMember = onlyInsideMember is null;
                        }

                        break;
                    case ':':
                        expectValue = true;
                        break;
                    case ' ':
                    case '\t':
                    case '\r':
                    case '\n':
                        break;
                    default:
                        var token = expectValue && (onlyInsideMember is null || (inMember && containers.Count >= 2)) ? TokenAt(text.AsSpan(i)) : -1;
                        expectValue = false;
                        if (token < 0)
                        {
                            break;
                        }

                        marker ??= fixedMarker ?? NewMarker(text);
                        output ??= new StringBuilder(text.Length + 64);
                        output.Append(text, copied, i - copied);
                        var replacement = Quote(marker, Tokens[token]);
                        output.Append(replacement);
                        var length = Tokens[token].Length;
                        var delta = replacement.Length - length;
                        shifts.Add(new Shift(line, column + lineDelta, replacement.Length, delta));
                        lineDelta += delta;
                        column += length;
                        i += length - 1;
                        copied = i + 1;
                        continue;
                }
            }

            if (c == '\n')
            {
                line++;
                column = 0;
                lineDelta = 0;
            }
            else
            {
                column += char.IsHighSurrogate(c) || char.IsLowSurrogate(c) ? 2 : c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
            }
        }

        if (output is null)
        {
            return new NonFiniteJson(text, null, shifts);
        }

        output.Append(text, copied, text.Length - copied);
        return new NonFiniteJson(output.ToString(), marker, shifts);
    }

    /// <summary>The raw JSON text of a parsed value with every marker turned back into its bare token.</summary>
    public string Restore(string rawJson)
    {
        if (_marker is null || !rawJson.Contains(_marker, StringComparison.Ordinal))
        {
            return rawJson;
        }

        for (var t = 0; t < Tokens.Length; t++)
        {
            rawJson = rawJson.Replace(Quote(_marker, Tokens[t]), WireTexts[t], StringComparison.Ordinal);
        }

        return rawJson;
    }

    /// <summary>True when <paramref name="value"/> (a parsed string) is one of this scan's markers; gives its float.</summary>
    public bool TryGetMarkedValue(string value, out double result)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (_marker is not null && value.StartsWith(_marker, StringComparison.Ordinal))
        {
            var t = Array.IndexOf(Tokens, value[_marker.Length..]);
            if (t >= 0)
            {
                result = Values[t];
                return true;
            }
        }

        result = 0;
        return false;
    }

    /// <summary>True when <paramref name="raw"/> (a parsed value's raw text) holds a replaced token.</summary>
    public bool Contains(string raw) => _marker is not null && raw.Contains(_marker, StringComparison.Ordinal);

    /// <summary>
    /// The parser's message for <see cref="Text"/> with its <c>BytePositionInLine</c> moved back to the input's position
    /// (markers are longer than the tokens they replace; they hold no line break, so line numbers are unchanged).
    /// </summary>
    public string MapErrorPosition(string message, JsonException ex)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(ex);
        if (_shifts.Count == 0 || ex.LineNumber is not { } line || ex.BytePositionInLine is not { } position)
        {
            return message;
        }

        var original = position;
        foreach (var s in _shifts)
        {
            if (s.Line != line || s.Start >= position)
            {
                continue;
            }

            // Past the whole marker: remove its extra length; inside it (not expected): the token's start.
            original -= position >= s.Start + s.Length ? s.Delta : position - s.Start;
        }

        return original == position
            ? message
            : message.Replace(
                string.Create(CultureInfo.InvariantCulture, $"BytePositionInLine: {position}."),
                string.Create(CultureInfo.InvariantCulture, $"BytePositionInLine: {original}."),
                StringComparison.Ordinal);
    }

    /// <summary>The index in <see cref="Tokens"/> of the token at the start of <paramref name="s"/>, or -1.</summary>
    private static int TokenAt(ReadOnlySpan<char> s)
    {
        for (var t = 0; t < Tokens.Length; t++)
        {
            if (s.StartsWith(Tokens[t], StringComparison.Ordinal))
            {
                return t;
            }
        }

        return -1;
    }

    private static string Quote(string marker, string token) => "\"" + marker + token + "\"";

    /// <summary>A printable-ASCII marker (no escapes needed) that occurs nowhere in <paramref name="text"/>.</summary>
    private static string NewMarker(string text)
    {
        while (true)
        {
            var marker = "mkio-nonfinite-" + Guid.NewGuid().ToString("N") + ":";
            if (!text.Contains(marker, StringComparison.Ordinal))
            {
                return marker;
            }
        }
    }

    private static string WireText(double value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = WireJson.CreateWriter(buffer))
        {
            WireJson.WriteDouble(w, value);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>One replacement: its line, start and length in the rewritten text (UTF-8 bytes) and the bytes it added.</summary>
    private readonly record struct Shift(long Line, long Start, int Length, int Delta);
}
