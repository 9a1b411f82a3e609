using System.Globalization;
using System.Text.Json;
using Mkio.Protocol;
using Tomlyn;
using Tomlyn.Model;

namespace Mkio.Later;

/// <summary>A TOML document as JSON (the <c>[config]</c> endpoint): tables → objects in document order, dates → ISO-8601 strings.</summary>
internal static class TomlJson
{
    /// <summary>Converts <paramref name="text"/>; null with <paramref name="error"/> set when it is not valid TOML.</summary>
    public static byte[]? Convert(string text, out string? error)
    {
        error = null;
        TomlTable? root;
        try
        {
            root = TomlSerializer.Deserialize<TomlTable>(text);
        }
        catch (TomlException ex)
        {
            error = ex.Message;
            return null;
        }

        return WireJson.Serialize(w => Write(w, root ?? []));
    }

    private static void Write(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case TomlTable table:
                w.WriteStartObject();
                foreach (var (k, v) in table)
                {
                    WireJson.WritePropertyName(w, k);
                    Write(w, v);
                }

                w.WriteEndObject();
                break;
            case TomlTableArray tables:
                w.WriteStartArray();
                foreach (var t in tables)
                {
                    Write(w, t);
                }

                w.WriteEndArray();
                break;
            case TomlArray array:
                w.WriteStartArray();
                foreach (var item in array)
                {
                    Write(w, item);
                }

                w.WriteEndArray();
                break;
            case TomlDateTime dt:
                WireJson.WriteString(w, dt.ToString());
                break;
            case DateTime or DateTimeOffset or DateOnly or TimeOnly:
                WireJson.WriteString(w, ((IFormattable)value).ToString(value is DateOnly ? "yyyy-MM-dd" : value is TimeOnly ? "HH:mm:ss.FFFFFFF" : "o", CultureInfo.InvariantCulture));
                break;
            default:
                WireJson.WriteValue(w, value);
                break;
        }
    }
}
