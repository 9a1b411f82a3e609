using System.Globalization;
using System.Text.Json;

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
                var raw = value.GetRawText();
                if (raw.AsSpan().IndexOfAny('.', 'e', 'E') >= 0)
                {
                    return double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
                }

                return value.TryGetInt64(out var l) ? l : new TooLargeInteger(raw);
            case JsonValueKind.True:
                return 1L;
            case JsonValueKind.False:
                return 0L;
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
