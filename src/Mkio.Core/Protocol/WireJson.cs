using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using Mkio.Data;
using Mkio.Protocol.Json;

namespace Mkio.Protocol;

/// <summary>
/// JSON output byte-compatible with the Python reference's <c>json.dumps</c> defaults (PROTOCOL.md §2):
/// compact, non-ASCII escaped as lowercase <c>\uxxxx</c>, floats as Python's <c>repr</c>, integers
/// without fraction, non-finite floats as bare <c>NaN</c>/<c>Infinity</c>.
/// </summary>
/// <remarks>
/// <para>
/// Write wire messages with a writer from <see cref="CreateWriter"/> (or inside <see cref="Serialize"/>),
/// and write every string that is not a compile-time constant through <see cref="WriteString(Utf8JsonWriter, string)"/>
/// or <see cref="WritePropertyString(Utf8JsonWriter, JsonEncodedText, string)"/>: they escape exactly as Python does,
/// whatever the writer's encoder. Plain <see cref="Utf8JsonWriter"/> calls on a <see cref="CreateWriter"/> writer
/// are exact for printable ASCII (including <c>&lt;&gt;&amp;'+</c>) but leave non-ASCII as raw UTF-8 and write
/// some control characters with uppercase hex.
/// </para>
/// <para>
/// <see cref="Serialize"/> also repairs those cases: when its output holds raw non-ASCII bytes or an
/// uppercase-hex escape (rare: a property name with non-ASCII characters, or a direct writer call), the
/// frame is rewritten once into Python's form. Everything it returns is therefore byte-exact.
/// </para>
/// <para>
/// System.Text.Json only accepts custom escaping through a <see cref="JavaScriptEncoder"/> subclass, whose
/// abstract members take pointers; Mkio.Core does not allow unsafe code, so strings are escaped here and
/// written with <see cref="Utf8JsonWriter.WriteRawValue(ReadOnlySpan{byte}, bool)"/>, and property names are
/// pre-encoded with the closest built-in encoder (see <see cref="EncodeName"/>).
/// </para>
/// </remarks>
internal static class WireJson
{
    private const int StackLimit = 512;
    private const int MaxRetainedBuffer = 256 * 1024;

    /// <summary>
    /// Characters the relaxed encoder writes exactly as Python does: printable ASCII (it escapes
    /// <c>"</c> and <c>\</c> as <c>\"</c> and <c>\\</c>) and the five short-form control characters.
    /// </summary>
    private static readonly SearchValues<char> RelaxedExactChars = SearchValues.Create(BuildChars(relaxed: true));

    /// <summary>Characters every built-in encoder leaves alone: printable ASCII except <c>"&amp;'+&lt;&gt;`\</c>.</summary>
    private static readonly SearchValues<char> AnyEncoderExactChars = SearchValues.Create(BuildChars(relaxed: false));

    /// <summary>Property-name bytes (already escaped JSON text) the relaxed encoder keeps: printable ASCII but <c>"</c> and <c>\</c>.</summary>
    private static readonly SearchValues<byte> RelaxedExactNameBytes = PythonJsonText.SafeBytes;

    private static readonly SearchValues<byte> AnyEncoderExactNameBytes =
        SearchValues.Create(Encoding.ASCII.GetBytes(BuildChars(relaxed: false)));

    /// <summary>Characters the HTML-safe built-in encoders escape as <c>\u00XX</c> although they are printable ASCII.</summary>
    private static readonly SearchValues<char> HtmlSensitiveChars = SearchValues.Create("\"&'+<>`");

    private static readonly JavaScriptEncoder AsciiOnlyEncoder = JavaScriptEncoder.Create(UnicodeRanges.BasicLatin);

    [ThreadStatic]
    private static SerializeBuffer? _serializeBuffer;

    /// <summary>
    /// Writer options for wire JSON: compact, structural validation on, and the relaxed encoder so that
    /// printable ASCII written by plain <see cref="Utf8JsonWriter"/> calls matches Python
    /// (<c>&lt;&gt;&amp;'+</c> unescaped, <c>\"</c> for a quote).
    /// </summary>
    public static JsonWriterOptions Options { get; } = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = false,
    };

    /// <summary>Creates a writer with <see cref="Options"/> over <paramref name="output"/>.</summary>
    public static Utf8JsonWriter CreateWriter(IBufferWriter<byte> output) => new(output, Options);

    // ---------------------------------------------------------------- property names

    /// <summary>
    /// Encodes a property name for <see cref="Utf8JsonWriter.WritePropertyName(JsonEncodedText)"/>;
    /// cache the result for names used more than once.
    /// </summary>
    /// <remarks>
    /// Exact Python output for printable ASCII and the short-form control characters (nearly every name).
    /// Names with other characters get System.Text.Json's escaping: <c>\u00DC</c> (uppercase hex) when the
    /// name has no <c>"&amp;'+&lt;&gt;`</c>, otherwise raw UTF-8 for the non-ASCII part so that those ASCII
    /// characters stay unescaped. Both are valid JSON, and <see cref="Serialize"/> rewrites them exactly.
    /// </remarks>
    public static JsonEncodedText EncodeName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var span = name.AsSpan();
        if (!span.ContainsAnyExcept(RelaxedExactChars) || span.ContainsAny(HtmlSensitiveChars))
        {
            return JsonEncodedText.Encode(name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        }

        return JsonEncodedText.Encode(name, AsciiOnlyEncoder);
    }

    /// <summary>Writes a property name that is not known in advance (see <see cref="EncodeName"/>).</summary>
    public static void WritePropertyName(Utf8JsonWriter writer, string name)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(name);
        if (!name.AsSpan().ContainsAnyExcept(ExactChars(writer)))
        {
            writer.WritePropertyName(name);
        }
        else
        {
            writer.WritePropertyName(EncodeName(name));
        }
    }

    // ---------------------------------------------------------------- strings

    /// <summary>Writes a string value escaped exactly as Python's <c>json.dumps</c>; <see langword="null"/> writes <c>null</c>.</summary>
    public static void WriteString(Utf8JsonWriter writer, string? value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value is null)
        {
            writer.WriteNullValue();
            return;
        }

        WriteString(writer, value.AsSpan());
    }

    /// <summary>Writes a string value escaped exactly as Python's <c>json.dumps</c>.</summary>
    public static void WriteString(Utf8JsonWriter writer, ReadOnlySpan<char> value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!value.ContainsAnyExcept(ExactChars(writer)))
        {
            writer.WriteStringValue(value); // fast path: nothing the writer would escape differently
            return;
        }

        WriteEscapedString(writer, value);
    }

    /// <summary>Writes <c>"name":"value"</c> with Python escaping of the value.</summary>
    public static void WritePropertyString(Utf8JsonWriter writer, JsonEncodedText name, string? value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else if (!value.AsSpan().ContainsAnyExcept(ExactChars(writer)))
        {
            writer.WriteString(name, value);
        }
        else
        {
            writer.WritePropertyName(name);
            WriteEscapedString(writer, value);
        }
    }

    /// <summary>
    /// Writes <c>"name":"value"</c> with Python escaping of the value. <paramref name="utf8Name"/> is a
    /// plain ASCII constant such as <c>"service"u8</c>; it is escaped by the writer's encoder.
    /// </summary>
    public static void WritePropertyString(Utf8JsonWriter writer, ReadOnlySpan<byte> utf8Name, string? value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value is null)
        {
            writer.WriteNull(utf8Name);
        }
        else if (!value.AsSpan().ContainsAnyExcept(ExactChars(writer)))
        {
            writer.WriteString(utf8Name, value);
        }
        else
        {
            writer.WritePropertyName(utf8Name);
            WriteEscapedString(writer, value);
        }
    }

    // ---------------------------------------------------------------- numbers

    /// <summary>
    /// Writes a float as Python's <c>repr</c>: <c>0.0</c>, <c>-0.0</c>, <c>150.0</c>, <c>1e+16</c>,
    /// <c>1.5e-07</c>, and bare <c>NaN</c>, <c>Infinity</c>, <c>-Infinity</c>.
    /// </summary>
    public static void WriteDouble(Utf8JsonWriter writer, double value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> buffer = stackalloc byte[PythonFloat.MaxLength];
        var n = PythonFloat.Format(value, buffer);
        writer.WriteRawValue(buffer[..n], skipInputValidation: true);
    }

    /// <summary>Writes an integer of any size as plain digits (Python <c>int</c>).</summary>
    public static void WriteInteger(Utf8JsonWriter writer, BigInteger value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value >= long.MinValue && value <= long.MaxValue)
        {
            writer.WriteNumberValue((long)value);
        }
        else
        {
            writer.WriteRawValue(value.ToString("D", CultureInfo.InvariantCulture), skipInputValidation: true);
        }
    }

    // ---------------------------------------------------------------- values

    /// <summary>
    /// Writes a row value or any value a formatter or client may produce: <see langword="null"/>,
    /// <see cref="bool"/>, integers (all primitive sizes and <see cref="BigInteger"/>), <see cref="double"/>,
    /// <see cref="float"/> and <see cref="decimal"/> (as Python floats), <see cref="string"/>, <see cref="char"/>,
    /// <c>byte[]</c> (base64 string), <see cref="Row"/> (object in column order), <see cref="JsonElement"/> and
    /// <see cref="JsonDocument"/> (see <see cref="WriteElement"/>), string-keyed dictionaries (objects) and lists or
    /// arrays (arrays).
    /// </summary>
    /// <exception cref="NotSupportedException">The value's type has no JSON form (as Python's <c>TypeError</c>).</exception>
    public static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                WriteString(writer, s.AsSpan());
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case double d:
                WriteDouble(writer, d);
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case int i:
                writer.WriteNumberValue(i);
                break;
            case BigInteger big:
                WriteInteger(writer, big);
                break;
            case byte[] bytes:
                writer.WriteBase64StringValue(bytes);
                break;
            case Row row:
                WriteRow(writer, row);
                break;
            case JsonElement element:
                WriteElement(writer, element);
                break;
            case IReadOnlyList<object?> list:
                writer.WriteStartArray();
                for (var k = 0; k < list.Count; k++)
                {
                    WriteValue(writer, list[k]);
                }

                writer.WriteEndArray();
                break;
            case float f:
                WriteDouble(writer, f);
                break;
            case decimal m:
                WriteDouble(writer, (double)m);
                break;
            case short or sbyte or byte or ushort or uint:
                writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case ulong ul:
                writer.WriteNumberValue(ul);
                break;
            case char c:
                WriteString(writer, new ReadOnlySpan<char>(in c));
                break;
            case JsonDocument document:
                WriteElement(writer, document.RootElement);
                break;
            case IReadOnlyDictionary<string, object?> map:
                writer.WriteStartObject();
                foreach (var pair in map)
                {
                    WritePropertyName(writer, pair.Key);
                    WriteValue(writer, pair.Value);
                }

                writer.WriteEndObject();
                break;
            case IList other:
                writer.WriteStartArray();
                foreach (var item in other)
                {
                    WriteValue(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                throw new NotSupportedException($"Object of type {value.GetType().Name} is not JSON serializable");
        }
    }

    /// <summary>Writes <c>"name":value</c> (see <see cref="WriteValue"/>).</summary>
    public static void WriteProperty(Utf8JsonWriter writer, JsonEncodedText name, object? value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WritePropertyName(name);
        WriteValue(writer, value);
    }

    /// <summary>
    /// Writes a row as a JSON object in column order. Property names are encoded once per
    /// <see cref="RowSchema"/> and cached.
    /// </summary>
    public static void WriteRow(Utf8JsonWriter writer, Row row)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(row);
        var names = RowJsonNames.For(row.Schema);
        var encoded = names.Names;
        var indexes = names.ValueIndexes;
        var values = row.Values;
        writer.WriteStartObject();
        for (var i = 0; i < encoded.Length; i++)
        {
            writer.WritePropertyName(encoded[i]);
            WriteValue(writer, values[indexes is null ? i : indexes[i]]);
        }

        writer.WriteEndObject();
    }

    /// <summary>
    /// Re-encodes a parsed JSON value: objects and arrays recursively, strings re-escaped the Python way,
    /// numbers with their original text (<c>150.0</c> stays <c>150.0</c>, <c>1e2</c> stays <c>1e2</c>).
    /// Duplicate keys are written as found.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="element"/> is <c>default</c> (undefined).</exception>
    public static void WriteElement(Utf8JsonWriter writer, JsonElement element)
    {
        ArgumentNullException.ThrowIfNull(writer);
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject())
                {
                    var rawName = JsonMarshal.GetRawUtf8PropertyName(property);
                    if (!rawName.ContainsAnyExcept(ExactNameBytes(writer)))
                    {
                        writer.WritePropertyName(rawName);
                    }
                    else
                    {
                        WritePropertyName(writer, property.Name);
                    }

                    WriteElement(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteElement(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                var raw = JsonMarshal.GetRawUtf8Value(element);
                if (raw.Length > 2 && raw[1] == (byte)'m' && NonFiniteJson.TryGetValue(raw[1..^1], out var nonFinite))
                {
                    // An inbound bare NaN/Infinity (PROTOCOL.md §2), echoed as it came.
                    WriteDouble(writer, nonFinite);
                    break;
                }

                WriteRawString(writer, raw);
                break;
            case JsonValueKind.Number:
                writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(element), skipInputValidation: true);
                break;
            case JsonValueKind.True:
                writer.WriteBooleanValue(true);
                break;
            case JsonValueKind.False:
                writer.WriteBooleanValue(false);
                break;
            case JsonValueKind.Null:
                writer.WriteNullValue();
                break;
            default:
                throw new ArgumentException("The JSON element is undefined.", nameof(element));
        }
    }

    // ---------------------------------------------------------------- whole documents

    /// <summary>
    /// Runs <paramref name="write"/> against a reusable per-thread writer and returns the JSON as an
    /// independent, exact-size array (safe to share between subscribers). The output is byte-exact Python
    /// (see the class remarks). The writer is only valid during the callback; do not keep or dispose it.
    /// </summary>
    /// <exception cref="InvalidOperationException"><paramref name="write"/> left an object or array open.</exception>
    public static byte[] Serialize(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        return Serialize(write, static (w, action) => action(w));
    }

    /// <summary>
    /// <see cref="Serialize(Action{Utf8JsonWriter})"/> with a state argument, so that callers can pass a
    /// <see langword="static"/> lambda and allocate no closure.
    /// </summary>
    public static byte[] Serialize<TState>(TState state, Action<Utf8JsonWriter, TState> write)
    {
        ArgumentNullException.ThrowIfNull(write);

        // Take the cached buffer; a nested Serialize call on the same thread then builds its own.
        var buffer = _serializeBuffer ?? new SerializeBuffer();
        _serializeBuffer = null;
        try
        {
            write(buffer.Writer, state);
            if (buffer.Writer.CurrentDepth != 0)
            {
                throw new InvalidOperationException("The JSON written is incomplete: an object or array was not closed.");
            }

            buffer.Writer.Flush();
            var written = buffer.Output.WrittenSpan;
            return NeedsPythonRewrite(written) ? Reformat(written, JsonLayout.Compact, 0) : written.ToArray();
        }
        finally
        {
            buffer.Writer.Reset();
            buffer.Output.ResetWrittenCount();
            if (buffer.Output.Capacity <= MaxRetainedBuffer)
            {
                _serializeBuffer = buffer;
            }
        }
    }

    /// <summary>
    /// Converts JSON to Python's default <c>json.dumps</c> separators (<c>", "</c> and <c>": "</c>), as used for
    /// HTTP bodies (PROTOCOL.md §1.5) and CLI output. Strings are rewritten in Python's <c>ensure_ascii</c> form;
    /// numbers keep their text.
    /// </summary>
    /// <exception cref="FormatException">A string is unterminated or holds a malformed escape.</exception>
    public static byte[] ToPrettyCompact(ReadOnlySpan<byte> compactJson) =>
        Reformat(compactJson, JsonLayout.PrettyCompact, 0);

    /// <summary><see cref="ToPrettyCompact"/> writing into <paramref name="output"/> (e.g. a response body pipe).</summary>
    public static void WritePrettyCompact(ReadOnlySpan<byte> json, IBufferWriter<byte> output) =>
        JsonReformatter.Reformat(json, JsonLayout.PrettyCompact, 0, output);

    /// <summary>
    /// Rewrites any JSON into the exact compact wire form: no whitespace, strings in Python's
    /// <c>ensure_ascii</c> form, numbers and <c>NaN</c>/<c>Infinity</c> tokens as they are.
    /// </summary>
    public static byte[] ToCompact(ReadOnlySpan<byte> json) => Reformat(json, JsonLayout.Compact, 0);

    /// <summary>
    /// Python's <c>json.dumps(obj, indent=<paramref name="indent"/>)</c> layout (used by <c>mkio monitor</c>):
    /// one item per line, <c>": "</c> after keys, empty containers as <c>[]</c> and <c>{}</c>, no trailing newline;
    /// strings in <c>ensure_ascii</c> form and numbers with their original text.
    /// </summary>
    public static string ToIndented(ReadOnlySpan<byte> json, int indent = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(indent);
        using var output = new PooledByteBufferWriter(json.Length * 2);
        JsonReformatter.Reformat(json, JsonLayout.Indented, indent, output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    // ---------------------------------------------------------------- helpers

    private static SearchValues<char> ExactChars(Utf8JsonWriter writer) =>
        ReferenceEquals(writer.Options.Encoder, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)
            ? RelaxedExactChars
            : AnyEncoderExactChars;

    private static SearchValues<byte> ExactNameBytes(Utf8JsonWriter writer) =>
        ReferenceEquals(writer.Options.Encoder, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)
            ? RelaxedExactNameBytes
            : AnyEncoderExactNameBytes;

    private static void WriteEscapedString(Utf8JsonWriter writer, ReadOnlySpan<char> value)
    {
        var max = PythonJsonText.MaxQuotedLength(value);
        byte[]? rented = null;
        Span<byte> buffer = max <= StackLimit
            ? stackalloc byte[StackLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            var n = PythonJsonText.EscapeQuoted(value, buffer);
            writer.WriteRawValue(buffer[..n], skipInputValidation: true);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Writes a string token given as JSON text (with quotes), rewriting it in Python form if needed.</summary>
    private static void WriteRawString(Utf8JsonWriter writer, ReadOnlySpan<byte> token)
    {
        var content = token[1..^1];
        if (PythonJsonText.IsSafe(content))
        {
            writer.WriteRawValue(token, skipInputValidation: true);
            return;
        }

        var max = checked(2 + (PythonJsonText.MaxBytesPerInputUnit * content.Length));
        byte[]? rented = null;
        Span<byte> buffer = max <= StackLimit
            ? stackalloc byte[StackLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            buffer[0] = (byte)'"';
            var n = 1 + PythonJsonText.Canonicalize(content, buffer[1..]);
            buffer[n++] = (byte)'"';
            writer.WriteRawValue(buffer[..n], skipInputValidation: true);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// True when compact output from our writer differs from Python's: raw non-ASCII bytes, or a
    /// <c>\uXXXX</c> escape with uppercase hex. (Digit-only escapes such as <c>\u2028</c> are the same
    /// in both, and the relaxed encoder never escapes printable ASCII as <c>\u00XX</c>.) A false
    /// positive, e.g. on <c>\\uABCD</c> text, only costs a rewrite that changes nothing.
    /// </summary>
    internal static bool NeedsPythonRewrite(ReadOnlySpan<byte> json)
    {
        if (json.ContainsAnyInRange((byte)0x80, (byte)0xFF))
        {
            return true;
        }

        var i = 0;
        while (true)
        {
            var k = json[i..].IndexOf("\\u"u8);
            if (k < 0)
            {
                return false;
            }

            i += k + 2;
            var hex = json.Slice(i, Math.Min(4, json.Length - i));
            if (hex.ContainsAnyInRange((byte)'A', (byte)'F'))
            {
                return true;
            }
        }
    }

    /// <summary>
    /// Serialises <paramref name="rows"/> once as the JSON array <c>[r0,r1,…]</c>, byte-exact Python, into a buffer
    /// that leaves <paramref name="headroom"/> free bytes before the array's <c>[</c> and at least one after its
    /// <c>]</c>, and reports where each row's object starts and ends, so that frames over any subset of the rows
    /// can be assembled by copying, and the frame over all of them around the array in place (see
    /// <see cref="SerializedRows"/>). The array is <c>buffer[headroom..arrayEnd]</c>.
    /// </summary>
    internal static byte[] SerializeRows(IReadOnlyList<Row> rows, int headroom, out int arrayEnd, out int[] starts, out int[] ends)
    {
        var output = new ArrayBufferWriter<byte>(headroom + Math.Max(1024, rows.Count * 128));
        output.Advance(headroom);
        var startList = new List<int>(rows.Count);
        var endList = new List<int>(rows.Count);
        using (var w = CreateWriter(output))
        {
            w.WriteStartArray();
            w.Flush();
            foreach (var row in rows)
            {
                startList.Add(output.WrittenCount + (startList.Count > 0 ? 1 : 0)); // after the separating comma
                WriteRow(w, row);
                w.Flush();
                endList.Add(output.WrittenCount);
            }

            w.WriteEndArray();
        }

        starts = [.. startList];
        ends = [.. endList];
        return FinishRows(output, headroom, starts, ends, NeedsPythonRewrite(output.WrittenSpan[headroom..]), out arrayEnd);
    }

    /// <summary>
    /// The end of <see cref="SerializeRows"/> for rows written into <paramref name="output"/> by another encoder (one
    /// that writes each row's compact JSON object, names as <see cref="EncodeName"/> gives them, strings escaped the
    /// Python way or as raw UTF-8): output that is not yet Python's (<paramref name="rewrite"/>, as
    /// <see cref="NeedsPythonRewrite"/> finds it over the output or the encoder knows it) is rewritten row by row (offsets
    /// in <paramref name="starts"/> and <paramref name="ends"/> updated), and the buffer is returned without a copy.
    /// </summary>
    /// <param name="output">Holds <paramref name="headroom"/> free bytes, then the array <c>[r0,r1,…]</c>.</param>
    /// <param name="headroom">The free bytes before the array.</param>
    /// <param name="starts">Where each row's object starts in <paramref name="output"/>.</param>
    /// <param name="ends">Where each row's object ends.</param>
    /// <param name="rewrite">Whether the output needs Python's rewrite (rare: non-ASCII names or text).</param>
    /// <param name="arrayEnd">The end of the array (its <c>]</c> included) in the returned buffer.</param>
    internal static byte[] FinishRows(ArrayBufferWriter<byte> output, int headroom, int[] starts, int[] ends, bool rewrite, out int arrayEnd)
    {
        if (rewrite)
        {
            // Rare (non-ASCII text): rewrite row by row, so that the offsets stay exact.
            var written = output.WrittenSpan;
            var fixedUp = new ArrayBufferWriter<byte>(headroom + written.Length + (written.Length / 4) + 16);
            fixedUp.Advance(headroom);
            fixedUp.Write("["u8);
            for (var i = 0; i < starts.Length; i++)
            {
                if (i > 0)
                {
                    fixedUp.Write(","u8);
                }

                var row = Reformat(written[starts[i]..ends[i]], JsonLayout.Compact, 0);
                starts[i] = fixedUp.WrittenCount;
                fixedUp.Write(row);
                ends[i] = fixedUp.WrittenCount;
            }

            fixedUp.Write("]"u8);
            output = fixedUp;
        }

        // The buffer itself, not a copy of it (an 11 MB snapshot would be copied once more for nothing).
        output.GetSpan(1);
        arrayEnd = output.WrittenCount;
        return MemoryMarshal.TryGetArray(output.WrittenMemory, out var segment) && segment.Offset == 0
            ? segment.Array!
            : throw new InvalidOperationException("ArrayBufferWriter is expected to write into one array.");
    }

    private static byte[] Reformat(ReadOnlySpan<byte> json, JsonLayout layout, int indent)
    {
        using var output = new PooledByteBufferWriter(json.Length + (json.Length / 4) + 16);
        JsonReformatter.Reformat(json, layout, indent, output);
        return output.WrittenSpan.ToArray();
    }

    private static string BuildChars(bool relaxed)
    {
        var chars = new StringBuilder();
        for (var c = ' '; c <= '~'; c++)
        {
            if (relaxed || !"\"&'+<>`\\".Contains(c, StringComparison.Ordinal))
            {
                chars.Append(c);
            }
        }

        if (relaxed)
        {
            chars.Append("\b\f\n\r\t");
        }

        return chars.ToString();
    }

    private sealed class SerializeBuffer
    {
        public SerializeBuffer()
        {
            Output = new ArrayBufferWriter<byte>(1024);
            Writer = new Utf8JsonWriter(Output, Options);
        }

        public ArrayBufferWriter<byte> Output { get; }

        public Utf8JsonWriter Writer { get; }
    }
}
