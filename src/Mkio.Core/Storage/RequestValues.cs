using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Mkio.Data;

namespace Mkio.Storage;

/// <summary>JSON request values → SQLite parameter values (SERVICES.md §4).</summary>
internal static class RequestValues
{
    /// <summary>
    /// string → TEXT (a non-finite marker of an inbound NaN/Infinity → REAL; SQLite binds NaN as NULL); integer → INTEGER (beyond 64 bits: kept as text and rejected at bind time);
    /// number with fraction or exponent → REAL; true/false → 1/0; null → NULL; object/array → unbindable.
    /// </summary>
    public static object? FromJson(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                var s = value.GetString()!;
                return Mkio.Protocol.Json.NonFiniteJson.TryGetValue(s, out var nonFinite) ? nonFinite : s;
            case JsonValueKind.Number:
                var raw = JsonMarshal.GetRawUtf8Value(value);
                if (raw.IndexOfAny((byte)'.', (byte)'e', (byte)'E') >= 0)
                {
                    return double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
                }

                return value.TryGetInt64(out var l) ? BoxedInt64.Of(l) : new TooLargeInteger(Encoding.UTF8.GetString(raw));
            case JsonValueKind.True:
                return BoxedInt64.Of(1);
            case JsonValueKind.False:
                return BoxedInt64.Of(0);
            case JsonValueKind.Object:
                return UnbindableValue.Dict;
            case JsonValueKind.Array:
                return UnbindableValue.List;
            default:
                return null;
        }
    }
}

/// <summary>An integer literal outside the signed 64-bit range.</summary>
internal sealed record TooLargeInteger(string Text);
