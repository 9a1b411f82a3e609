using System.Text;
using System.Text.Json;

namespace Mkio.Protocol;

/// <summary>Python <c>repr</c> of values, as the reference shows them in error texts (<c>Unknown op: 'x'</c>).</summary>
internal static class PyRepr
{
    public static string Of(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => OfString(value.GetString()!),
        JsonValueKind.True => "True",
        JsonValueKind.False => "False",
        JsonValueKind.Null => "None",
        _ => Compact(value),
    };

    public static string OfString(string s)
    {
        var quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2).Append(quote);
        foreach (var ch in s)
        {
            switch (ch)
            {
                case '\\': sb.Append(@"\\"); break;
                case '\n': sb.Append(@"\n"); break;
                case '\r': sb.Append(@"\r"); break;
                case '\t': sb.Append(@"\t"); break;
                default:
                    if (ch == quote)
                    {
                        sb.Append('\\').Append(ch);
                    }
                    else if (ch < 0x20 || ch == 0x7f)
                    {
                        sb.Append(@"\x").Append(((int)ch).ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(ch);
                    }

                    break;
            }
        }

        return sb.Append(quote).ToString();
    }

    /// <summary>Compact JSON text of a value (for non-string service names and op values).</summary>
    public static string Compact(JsonElement value) =>
        Encoding.UTF8.GetString(WireJson.Serialize(w => WireJson.WriteValue(w, value)));
}
