using System.Text.Json;

namespace Mkio.Protocol;

/// <summary>How a message's <c>ref</c> field was given.</summary>
internal enum RefKind
{
    Absent,
    Null,
    String,

    /// <summary>Present, not null and not a string (fix F7).</summary>
    Invalid,
}

/// <summary>
/// The recognised top-level fields of one inbound message (PROTOCOL.md §4). Fields point into the
/// parsed <see cref="JsonDocument"/>, which stays alive as long as the envelope is in use.
/// </summary>
internal readonly struct Envelope
{
    public Envelope(JsonElement root, string? urlService)
    {
        Root = root;
        UrlService = urlService;
        ServiceElement = urlService is null && root.TryGetProperty("service"u8, out var s) ? s : default;
        Type = root.TryGetProperty("type"u8, out var t) ? t : default;
        if (root.TryGetProperty("ref"u8, out var r))
        {
            RefElement = r;
            RefKind = r.ValueKind switch
            {
                JsonValueKind.Null => RefKind.Null,
                JsonValueKind.String => RefKind.String,
                _ => RefKind.Invalid,
            };
            Ref = RefKind == RefKind.String ? r.GetString() : null;
        }
        else
        {
            RefElement = default;
            RefKind = RefKind.Absent;
            Ref = null;
        }

        Echo = HasId(root, "msgid"u8) || HasId(root, "txnid"u8) ? root : default;
    }

    public JsonElement Root { get; }

    public string? UrlService { get; }

    /// <summary>The body's <c>service</c> (undefined on the per-service endpoint, where the URL wins).</summary>
    public JsonElement ServiceElement { get; }

    public JsonElement Type { get; }

    public JsonElement RefElement { get; }

    public RefKind RefKind { get; }

    /// <summary>The ref when it is a string (possibly empty).</summary>
    public string? Ref { get; }

    /// <summary>
    /// The message itself when it carries a <c>msgid</c> (0.1.0) or <c>txnid</c> (later clients) that is not null, else
    /// undefined: replies echo each of them under its own name (<see cref="Frames"/>), never one translated into the other.
    /// </summary>
    public JsonElement Echo { get; }

    private static bool HasId(JsonElement root, ReadOnlySpan<byte> name) =>
        root.TryGetProperty(name, out var id) && id.ValueKind != JsonValueKind.Null;

    /// <summary>The <c>type</c> when it is a string, else null.</summary>
    public string? TypeString => Type.ValueKind == JsonValueKind.String ? Type.GetString() : null;

    /// <summary>True when the ref must be echoed on errors: present and not null (an empty string is echoed).</summary>
    public bool EchoRef => RefKind is RefKind.String or RefKind.Invalid;

    public bool TryGet(ReadOnlySpan<byte> name, out JsonElement value)
    {
        if (Root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }
}
