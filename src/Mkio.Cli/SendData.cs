using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Mkio.Protocol;
using Mkio.Protocol.Json;

namespace Mkio.Cli;

/// <summary>One message of <c>mkio send</c>: the payload as raw JSON and the envelope values (null = absent).</summary>
/// <param name="Payload">The data object (raw JSON bytes), or null when the row is invalid.</param>
/// <param name="Op">The envelope op (non-empty) or null.</param>
/// <param name="Ref">The envelope ref (non-empty) or null.</param>
/// <param name="MsgId">The envelope msgid or null.</param>
/// <param name="Error">Why the row cannot be sent, when <paramref name="Payload"/> is null.</param>
internal sealed record SendMessage(byte[]? Payload, string? Op, string? Ref, JsonNode? MsgId, string? Error = null)
{
    public string PayloadText => Payload is null ? string.Empty : Encoding.UTF8.GetString(Payload);
}

/// <summary>The data sources of <c>mkio send</c> (CLI.md §5.2): inline JSON, a <c>.json</c> file or a <c>.csv</c> file.</summary>
internal static partial class SendData
{

    [GeneratedRegex(@"^[+-]?\d(?:_?\d)*$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$")]
    private static partial Regex FloatPattern();

    /// <summary>Loads the messages named by the data argument.</summary>
    /// <exception cref="SendDataException">The file is missing or unreadable, or the JSON/CSV is invalid (message is one line).</exception>
    public static List<SendMessage> Load(string argument)
    {
        if (argument.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            return FromJson(ReadFile(argument), argument);
        }

        if (argument.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            return FromCsv(ReadFile(argument), argument);
        }

        return FromJson(argument, null);
    }

    private static string ReadFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new SendDataException($"file not found: {path}");
        }

        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SendDataException($"cannot read {path}: {ex.Message}");
        }
    }

    /// <summary>JSON text: an object or an array of objects.</summary>
    public static List<SendMessage> FromJson(string text, string? fileName)
    {
        // Python's json module also reads the bare tokens NaN, Infinity and -Infinity as floats.
        var nonFinite = NonFiniteJson.Scan(text);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(nonFinite.Text, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException ex)
        {
            var where = fileName is null ? "invalid JSON data" : $"invalid JSON in {fileName}";
            throw new SendDataException($"{where}: {nonFinite.MapErrorPosition(FirstLine(ex.Message), ex)}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            var list = new List<SendMessage>();
            switch (root.ValueKind)
            {
                case JsonValueKind.Object:
                    list.Add(FromObject(root, nonFinite));
                    break;
                case JsonValueKind.Array:
                    var i = 0;
                    foreach (var item in root.EnumerateArray())
                    {
                        i++;
                        list.Add(item.ValueKind == JsonValueKind.Object
                            ? FromObject(item, nonFinite)
                            : new SendMessage(null, null, null, null, $"item {i} is not a JSON object"));
                    }

                    break;
                default:
                    throw new SendDataException($"{(fileName is null ? "the data" : fileName)} must be a JSON object or an array of objects");
            }

            return list;
        }
    }

    private static SendMessage FromObject(JsonElement obj, NonFiniteJson nonFinite)
    {
        if (obj.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object)
        {
            return new SendMessage(
                Encoding.UTF8.GetBytes(nonFinite.Restore(data.GetRawText())),
                EnvelopeString(obj, "op", nonFinite),
                EnvelopeString(obj, "ref", nonFinite),
                obj.TryGetProperty("msgid", out var m) && m.ValueKind != JsonValueKind.Null ? MsgIdNode(m, nonFinite) : null);
        }

        return new SendMessage(Encoding.UTF8.GetBytes(nonFinite.Restore(obj.GetRawText())), null, null, null);
    }

    private static string? EnvelopeString(JsonElement obj, string name, NonFiniteJson nonFinite)
    {
        if (!obj.TryGetProperty(name, out var v))
        {
            return null;
        }

        var raw = v.GetRawText();
        var s = nonFinite.Contains(raw) ? nonFinite.Restore(raw) : v.ValueKind switch // a non-finite value: its token, as other numbers
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Null => null,
            _ => raw,
        };
        return string.IsNullOrEmpty(s) ? null : s;
    }

    /// <summary>The envelope msgid as a node; one holding a non-finite float is kept as raw JSON (a JSON node cannot hold it).</summary>
    private static JsonNode? MsgIdNode(JsonElement msgId, NonFiniteJson nonFinite)
    {
        var raw = msgId.GetRawText();
        return nonFinite.Contains(raw) ? RawJson.Node(WireJson.ToCompact(Encoding.UTF8.GetBytes(nonFinite.Restore(raw)))) : JsonNode.Parse(raw);
    }

    /// <summary>CSV text: a header row, then one message per row (structured when a header starts with <c>data.</c>).</summary>
    public static List<SendMessage> FromCsv(string text, string fileName)
    {
        List<string[]> rows;
        try
        {
            rows = CsvReader.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new SendDataException($"invalid CSV in {fileName}: {ex.Message}");
        }

        var list = new List<SendMessage>();
        if (rows.Count == 0)
        {
            return list;
        }

        var header = rows[0];
        var structured = header.Any(h => h.StartsWith("data.", StringComparison.Ordinal));
        for (var r = 1; r < rows.Count; r++)
        {
            var cells = rows[r];
            string? op = null, @ref = null, msgid = null;
            var buffer = new ArrayBufferWriter<byte>();
            using (var w = WireJson.CreateWriter(buffer))
            {
                w.WriteStartObject();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (var c = 0; c < header.Length; c++)
                {
                    var name = header[c];
                    var value = c < cells.Length ? cells[c] : string.Empty; // missing cells are empty (CLI.md §8)
                    switch (name)
                    {
                        case "op":
                            op = value.Length == 0 ? null : value; // empty envelope cells are absent (§8)
                            continue;
                        case "ref":
                            @ref = value.Length == 0 ? null : value;
                            continue;
                        case "msgid":
                            msgid = value.Length == 0 ? null : value;
                            continue;
                        case "service":
                            continue;
                    }

                    string field;
                    if (structured)
                    {
                        if (!name.StartsWith("data.", StringComparison.Ordinal))
                        {
                            continue;
                        }

                        field = name[5..];
                    }
                    else
                    {
                        field = name;
                    }

                    if (!seen.Add(field))
                    {
                        continue; // a repeated column: the first one wins (a JSON object has unique keys)
                    }

                    WireJson.WritePropertyName(w, field);
                    WriteCell(w, value);
                }

                w.WriteEndObject();
            }

            list.Add(new SendMessage(buffer.WrittenSpan.ToArray(), op, @ref, msgid is null ? null : JsonValue.Create(msgid)));
        }

        return list;
    }

    /// <summary>Writes a CSV cell as Python's <c>int(v)</c>, else <c>float(v)</c>, else the string.</summary>
    public static void WriteCell(Utf8JsonWriter w, string value)
    {
        var t = value.Trim();
        if (IntegerPattern().IsMatch(t))
        {
            WireJson.WriteInteger(w, BigInteger.Parse(t.Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
            return;
        }

        if (TryParseFloat(t, out var d))
        {
            WireJson.WriteDouble(w, d);
            return;
        }

        WireJson.WriteString(w, value);
    }

    /// <summary>Python's <c>float(str)</c> syntax (after trimming): decimal/exponent forms, <c>_</c> separators, <c>nan</c>, <c>inf</c>, <c>infinity</c>.</summary>
    public static bool TryParseFloat(string t, out double value)
    {
        var lower = t.ToLowerInvariant();
        var sign = 1.0;
        var body = lower;
        if (body.StartsWith('+') || body.StartsWith('-'))
        {
            sign = body[0] == '-' ? -1.0 : 1.0;
            body = body[1..];
        }

        switch (body)
        {
            case "nan":
                value = double.NaN;
                return true;
            case "inf":
            case "infinity":
                value = sign * double.PositiveInfinity;
                return true;
        }

        if (FloatPattern().IsMatch(t))
        {
            value = double.Parse(t.Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture);
            return true;
        }

        value = 0;
        return false;
    }

    /// <summary>The payload JSON a CSV row would produce, for tests.</summary>
    internal static string CellJson(string value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = WireJson.CreateWriter(buffer))
        {
            WriteCell(w, value);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string FirstLine(string s)
    {
        var i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }
}

/// <summary>JSON bytes written into a message as they are (a payload, or a msgid holding <c>NaN</c>/<c>Infinity</c>).</summary>
internal sealed class RawJson(byte[] bytes)
{
    /// <summary>Type info whose converter writes <see cref="Bytes"/> unchanged.</summary>
    public static JsonTypeInfo<RawJson> Info { get; } =
        JsonMetadataServices.CreateValueInfo<RawJson>(new JsonSerializerOptions { TypeInfoResolver = JsonTypeInfoResolver.Combine() }, new Converter());

    public byte[] Bytes => bytes;

    /// <summary>A JSON node that writes <paramref name="json"/> as it is.</summary>
    public static JsonNode Node(byte[] json) => JsonValue.Create(new RawJson(json), Info) ?? throw new InvalidOperationException("JsonValue.Create returned null.");

    private sealed class Converter : JsonConverter<RawJson>
    {
        public override RawJson Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException();

        public override void Write(Utf8JsonWriter writer, RawJson value, JsonSerializerOptions options) =>
            writer.WriteRawValue(value.Bytes, skipInputValidation: true);
    }
}

/// <summary>An invalid data argument, reported as one <c>Error: …</c> line.</summary>
internal sealed class SendDataException(string message) : Exception(message);
