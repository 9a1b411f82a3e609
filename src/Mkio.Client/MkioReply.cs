using System.Text.Json;

namespace Mkio.Client;

/// <summary>The <c>reply</c> of a <c>reqrep</c> service (<see cref="MkioClient.RequestAsync(string, System.Text.Json.Nodes.JsonObject?, CancellationToken)"/>).</summary>
public sealed class MkioReply
{
    internal MkioReply(string service, JsonElement reply)
    {
        Reply = reply;
        Service = MkioClient.GetString(reply, "service") ?? service;
        ReqId = MkioClient.GetString(reply, "reqid");
        Value = reply.TryGetProperty("value"u8, out var v) ? v : default;
        Row = reply.TryGetProperty("row"u8, out var r) ? r : default;
        Rows = reply.TryGetProperty("rows"u8, out var rs) ? rs : default;
    }

    /// <summary>The service that answered.</summary>
    public string Service { get; }

    /// <summary>The echoed request id.</summary>
    public string? ReqId { get; }

    /// <summary>A scalar reply (<c>value</c>, JSON <c>null</c> when the SQL returned no row); otherwise undefined (<see cref="JsonValueKind.Undefined"/>).</summary>
    public JsonElement Value { get; }

    /// <summary>A single-record reply (<c>row</c>); otherwise undefined.</summary>
    public JsonElement Row { get; }

    /// <summary>A row-set reply (<c>rows</c>, an array); otherwise undefined.</summary>
    public JsonElement Rows { get; }

    /// <summary>The complete reply as received.</summary>
    public JsonElement Reply { get; }
}

/// <summary>
/// What the server's built-in <c>_mkio</c> service reports about itself (<see cref="MkioClient.IdentifyAsync"/>).
/// </summary>
public sealed class MkioIdentity
{
    internal MkioIdentity(JsonElement row)
    {
        Row = row;
        Name = MkioClient.GetString(row, "name") ?? string.Empty;
        Version = MkioClient.GetString(row, "version") ?? string.Empty;
        Mkio = MkioClient.GetString(row, "mkio") ?? string.Empty;
        Protocol = MkioClient.GetString(row, "protocol") ?? string.Empty;
        var services = new Dictionary<string, string>(StringComparer.Ordinal);
        if (row.TryGetProperty("services"u8, out var s) && s.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in s.EnumerateObject())
            {
                services[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.ToString();
            }
        }

        Services = services;
        Tables = row.TryGetProperty("tables"u8, out var t) && t.ValueKind == JsonValueKind.Array
            ? [.. t.EnumerateArray().Select(e => e.ToString())]
            : [];
        Compatible = row.TryGetProperty("compatible"u8, out var c) && c.ValueKind is JsonValueKind.True or JsonValueKind.False ? c.GetBoolean() : null;
        var compatibility = new Dictionary<string, bool>(StringComparer.Ordinal);
        if (row.TryGetProperty("compatibility"u8, out var cs) && cs.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in cs.EnumerateObject())
            {
                compatibility[p.Name] = p.Value.ValueKind == JsonValueKind.True;
            }
        }

        Compatibility = compatibility;
    }

    /// <summary>The config's top-level <c>name</c> (<c>""</c> when not set).</summary>
    public string Name { get; }

    /// <summary>The config's top-level <c>version</c> (<c>""</c> when not set).</summary>
    public string Version { get; }

    /// <summary>The server implementation's version.</summary>
    public string Mkio { get; }

    /// <summary>The protocol version the server speaks (e.g. <c>1.0</c>).</summary>
    public string Protocol { get; }

    /// <summary>Service name → protocol, in config order (services starting with <c>_</c> are not listed).</summary>
    public IReadOnlyDictionary<string, string> Services { get; }

    /// <summary>The configured table names.</summary>
    public IReadOnlyList<string> Tables { get; }

    /// <summary>
    /// When versions were given to <see cref="MkioClient.IdentifyAsync"/>: whether the server satisfies all of them
    /// (caret semver: same major version and not older, or for <c>0.x</c> the same minor version); otherwise <see langword="null"/>.
    /// </summary>
    public bool? Compatible { get; }

    /// <summary>The result of each version check that was asked for (<c>version</c>, <c>protocol</c>, <c>mkio</c>, <c>expr</c>).</summary>
    public IReadOnlyDictionary<string, bool> Compatibility { get; }

    /// <summary>The complete <c>row</c> of the reply.</summary>
    public JsonElement Row { get; }
}

/// <summary>The server is not compatible with the versions a client requires (<see cref="MkioClient.IdentifyAsync"/>).</summary>
public sealed class MkioIncompatibleServerException : MkioException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The explanation.</param>
    /// <param name="identity">What the server reported.</param>
    public MkioIncompatibleServerException(string message, MkioIdentity identity)
        : base(message)
    {
        Identity = identity;
    }

    /// <summary>What the server reported, with <see cref="MkioIdentity.Compatibility"/> naming the failed checks.</summary>
    public MkioIdentity Identity { get; }
}
