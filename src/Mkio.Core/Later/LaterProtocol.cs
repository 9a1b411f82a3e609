using System.Numerics;
using System.Text.Json;
using Mkio.Data;
using Mkio.Protocol;

namespace Mkio.Later;

/// <summary>
/// How the server tells the protocol generations apart (a message is "later" when it carries a later marker)
/// and the frames only later clients receive. Everything else keeps the exact 0.1.0 shapes.
/// </summary>
internal static class LaterProtocol
{
    /// <summary>
    /// True when <paramref name="root"/> comes from a later client: a subscribe with <c>protocol</c>, any of
    /// <c>txnid</c>, <c>subid</c>, <c>reqid</c>, <c>fields</c>, <c>maxcount</c>, <c>topic</c> (present, not null), or
    /// the types <c>getmore</c>, <c>request</c>, <c>auth</c>.
    /// </summary>
    public static bool IsLater(JsonElement root)
    {
        var type = root.TryGetProperty("type"u8, out var t) && t.ValueKind == JsonValueKind.String ? t : default;
        if (type.ValueKind == JsonValueKind.String
            && (type.ValueEquals("getmore"u8) || type.ValueEquals("request"u8) || type.ValueEquals("auth"u8)
                || (type.ValueEquals("subscribe"u8) && Has(root, "protocol"u8))))
        {
            return true;
        }

        return Has(root, "txnid"u8) || Has(root, "subid"u8) || Has(root, "reqid"u8) || Has(root, "fields"u8)
            || Has(root, "maxcount"u8) || Has(root, "topic"u8);
    }

    /// <summary>The value of <paramref name="name"/> when present and not null (the echo rule), else undefined.</summary>
    public static JsonElement Echo(JsonElement root, ReadOnlySpan<byte> name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.Clone() : default;

    private static bool Has(JsonElement root, ReadOnlySpan<byte> name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    /// <summary><c>{"type":"nack","service":S,"message":M[,"ref"][,"txnid"][,"subid"]}</c>.</summary>
    public static byte[] Nack(string service, string message, JsonElement root) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "nack"u8);
            w.WritePropertyName("service"u8);
            WireJson.WriteString(w, service);
            w.WritePropertyName("message"u8);
            WireJson.WriteString(w, message);
            WriteEcho(w, root, "ref"u8);
            WriteEcho(w, root, "txnid"u8);
            WriteEcho(w, root, "subid"u8);
            w.WriteEndObject();
        });

    /// <summary><c>{"type":"error","message":M[,"ref"][,"reqid"][,"service"]}</c> (each echo only when given).</summary>
    public static byte[] Error(string message, JsonElement @ref, JsonElement reqid, string? service) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "error"u8);
            w.WritePropertyName("message"u8);
            WireJson.WriteString(w, message);
            WriteValue(w, "ref"u8, @ref);
            WriteValue(w, "reqid"u8, reqid);
            if (service is not null)
            {
                w.WritePropertyName("service"u8);
                WireJson.WriteString(w, service);
            }

            w.WriteEndObject();
        });

    /// <summary><c>{"type":"error","message":M[,"ref"][,"txnid"]}</c> — an error echoing the request's ref and txnid.</summary>
    public static byte[] ErrorEcho(string message, JsonElement root) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "error"u8);
            w.WritePropertyName("message"u8);
            WireJson.WriteString(w, message);
            WriteEcho(w, root, "ref"u8);
            WriteEcho(w, root, "txnid"u8);
            w.WriteEndObject();
        });

    /// <summary><c>{"type":"monitor_ack"[,"ref":R]}</c> — the acknowledgement of a monitor on every service.</summary>
    public static byte[] MonitorAllAck(string? @ref) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "monitor_ack"u8);
            if (!string.IsNullOrEmpty(@ref))
            {
                w.WritePropertyName("ref"u8);
                WireJson.WriteString(w, @ref);
            }

            w.WriteEndObject();
        });

    /// <summary><c>{"type":"reply","service":S[,"reqid":Q],"&lt;key&gt;":…}</c> with <paramref name="key"/> <c>value</c>, <c>row</c> or <c>rows</c>.</summary>
    public static byte[] Reply(string service, JsonElement reqid, string key, object? payload) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "reply"u8);
            w.WritePropertyName("service"u8);
            WireJson.WriteString(w, service);
            WriteValue(w, "reqid"u8, reqid);
            w.WritePropertyName(key);
            WireJson.WriteValue(w, payload);
            w.WriteEndObject();
        });

    /// <summary><c>Unknown service: 'x'. Available services: a, b</c> — sorted, names starting with <c>_</c> hidden.</summary>
    public static string UnknownServiceText(string name, IEnumerable<string> services) =>
        $"Unknown service: {PyRepr.OfString(name)}. Available services: {string.Join(", ", services.Where(s => !s.StartsWith('_')).Order(StringComparer.Ordinal))}";

    /// <summary>
    /// A request's <c>data</c> object as a row for expressions and binds: strings, integers (64-bit or larger),
    /// floats, booleans, null, arrays as lists and objects as ordered maps.
    /// </summary>
    public static Row DataRow(JsonElement data)
    {
        if (data.ValueKind != JsonValueKind.Object)
        {
            return new Row(new RowSchema([]), []);
        }

        var names = new List<string>();
        var values = new List<object?>();
        foreach (var p in data.EnumerateObject())
        {
            var i = names.IndexOf(p.Name);
            if (i >= 0)
            {
                values[i] = FromJson(p.Value);
            }
            else
            {
                names.Add(p.Name);
                values.Add(FromJson(p.Value));
            }
        }

        return new Row(new RowSchema(names), [.. values]);
    }

    /// <summary>One JSON value as a host object (see <see cref="DataRow"/>).</summary>
    public static object? FromJson(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String or JsonValueKind.Number:
                return Mkio.Storage.RequestValues.FromJson(value) is Mkio.Storage.TooLargeInteger big
                    ? BigInteger.Parse(big.Text, System.Globalization.CultureInfo.InvariantCulture)
                    : Mkio.Storage.RequestValues.FromJson(value);
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.Array:
                return value.EnumerateArray().Select(FromJson).ToList();
            case JsonValueKind.Object:
                var map = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var p in value.EnumerateObject())
                {
                    map[p.Name] = FromJson(p.Value);
                }

                return map;
            default:
                return null;
        }
    }

    private static void WriteEcho(Utf8JsonWriter w, JsonElement root, ReadOnlySpan<byte> name)
    {
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null)
        {
            w.WritePropertyName(name);
            WireJson.WriteValue(w, v);
        }
    }

    private static void WriteValue(Utf8JsonWriter w, ReadOnlySpan<byte> name, JsonElement value)
    {
        if (value.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
        {
            w.WritePropertyName(name);
            WireJson.WriteValue(w, value);
        }
    }
}
