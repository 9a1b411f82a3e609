using System.Buffers;

namespace Mkio.Protocol.Json;

/// <summary>The separators and line layout <see cref="JsonReformatter"/> produces.</summary>
internal enum JsonLayout
{
    /// <summary>No whitespace: <c>{"a":[1,2]}</c> (the WebSocket form).</summary>
    Compact,

    /// <summary>Python's default <c>json.dumps</c> separators: <c>{"a": [1, 2]}</c> (HTTP bodies).</summary>
    PrettyCompact,

    /// <summary>Python's <c>json.dumps(obj, indent=n)</c>: one item per line, <c>": "</c> after keys.</summary>
    Indented,
}

/// <summary>
/// Re-lays out JSON text that is already valid (our own output, or text checked by
/// <c>System.Text.Json</c>) by scanning its bytes: whitespace outside strings is dropped, separators
/// are rewritten for the chosen <see cref="JsonLayout"/>, numbers and literals (including the
/// <c>NaN</c>/<c>Infinity</c> extension tokens) are copied verbatim, and every string token is rewritten
/// in Python's <c>ensure_ascii</c> form (see <see cref="PythonJsonText.Canonicalize"/>).
/// </summary>
/// <remarks>
/// This is a tokenizer for layout only; it does not validate structure. Malformed input gives
/// malformed output, except for unterminated strings and bad escapes, which throw
/// <see cref="FormatException"/>.
/// </remarks>
internal static class JsonReformatter
{
    private static readonly SearchValues<byte> Delimiters = SearchValues.Create("\"{}[],: \t\r\n"u8);

    public static void Reformat(ReadOnlySpan<byte> json, JsonLayout layout, int indent, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(indent);

        var sink = new Sink(output);
        var depth = 0;
        var i = 0;
        while (i < json.Length)
        {
            var b = json[i];
            switch (b)
            {
                case (byte)'"':
                    var close = PythonJsonText.FindClosingQuote(json, i);
                    var content = json[(i + 1)..close];
                    var span = sink.Reserve(2 + (PythonJsonText.MaxBytesPerInputUnit * content.Length));
                    span[0] = (byte)'"';
                    var n = 1 + PythonJsonText.Canonicalize(content, span[1..]);
                    span[n++] = (byte)'"';
                    sink.Commit(n);
                    i = close + 1;
                    break;

                case (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r':
                    i++;
                    break;

                case (byte)'{' or (byte)'[':
                    if (layout == JsonLayout.Indented)
                    {
                        var next = SkipWhitespace(json, i + 1);
                        if (next < json.Length && json[next] == b + 2)
                        {
                            // '{' + 2 == '}' and '[' + 2 == ']': Python writes empty containers as {} and [].
                            sink.Write(b);
                            sink.Write(json[next]);
                            i = next + 1;
                            break;
                        }

                        depth++;
                        sink.Write(b);
                        sink.NewLine(depth * indent);
                    }
                    else
                    {
                        sink.Write(b);
                    }

                    i++;
                    break;

                case (byte)'}' or (byte)']':
                    if (layout == JsonLayout.Indented)
                    {
                        depth = Math.Max(depth - 1, 0);
                        sink.NewLine(depth * indent);
                    }

                    sink.Write(b);
                    i++;
                    break;

                case (byte)',':
                    sink.Write(b);
                    if (layout == JsonLayout.PrettyCompact)
                    {
                        sink.Write((byte)' ');
                    }
                    else if (layout == JsonLayout.Indented)
                    {
                        sink.NewLine(depth * indent);
                    }

                    i++;
                    break;

                case (byte)':':
                    sink.Write(b);
                    if (layout != JsonLayout.Compact)
                    {
                        sink.Write((byte)' ');
                    }

                    i++;
                    break;

                default:
                    // A number or a literal (true, false, null, NaN, Infinity, -Infinity): copy as is.
                    var end = json[i..].IndexOfAny(Delimiters);
                    end = end < 0 ? json.Length : i + end;
                    sink.Write(json[i..end]);
                    i = end;
                    break;
            }
        }

        sink.Flush();
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> json, int i)
    {
        while (i < json.Length && json[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
        {
            i++;
        }

        return i;
    }

    /// <summary>Writes into an <see cref="IBufferWriter{T}"/> in chunks, advancing it only when a chunk is full.</summary>
    private ref struct Sink
    {
        private const int MinChunk = 512;
        private readonly IBufferWriter<byte> _output;
        private Span<byte> _span;
        private int _pos;

        public Sink(IBufferWriter<byte> output)
        {
            _output = output;
        }

        public Span<byte> Reserve(int count)
        {
            if (_span.Length - _pos < count)
            {
                if (_pos > 0)
                {
                    _output.Advance(_pos);
                }

                _span = _output.GetSpan(Math.Max(count, MinChunk));
                _pos = 0;
            }

            return _span[_pos..];
        }

        public void Commit(int count) => _pos += count;

        public void Write(byte value)
        {
            Reserve(1)[0] = value;
            _pos++;
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(Reserve(bytes.Length));
            _pos += bytes.Length;
        }

        public void NewLine(int spaces)
        {
            var span = Reserve(1 + spaces);
            span[0] = (byte)'\n';
            span.Slice(1, spaces).Fill((byte)' ');
            _pos += 1 + spaces;
        }

        public void Flush()
        {
            if (_pos > 0)
            {
                _output.Advance(_pos);
            }

            _span = default;
            _pos = 0;
        }
    }
}
