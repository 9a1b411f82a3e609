using System.Text.Json;

namespace Mkio.Client;

/// <summary>
/// A <c>result</c> reply: a committed transaction (PROTOCOL.md §6.2) or the answer to a check (§6.6).
/// </summary>
public sealed class MkioResult
{
    internal MkioResult(string service, JsonElement reply)
    {
        Reply = reply;
        Service = MkioClient.GetString(reply, "service") ?? service;
        Ref = MkioClient.GetString(reply, "ref") ?? string.Empty;
        MsgId = reply.TryGetProperty("msgid"u8, out var m) && m.ValueKind != JsonValueKind.Null ? m
            : reply.TryGetProperty("txnid"u8, out var t) && t.ValueKind != JsonValueKind.Null ? t : null;
        Status = MkioClient.GetString(reply, "status");
    }

    /// <summary>The service that answered.</summary>
    public string Service { get; }

    /// <summary>
    /// The transaction's ref: the server-assigned ref (its place in commit order) or the ref the
    /// request carried. For a check, the ref that was asked about.
    /// </summary>
    public string Ref { get; }

    /// <summary>The echoed <c>msgid</c> (a later server echoes <c>txnid</c>), or <see langword="null"/> when the reply carries none.</summary>
    public JsonElement? MsgId { get; }

    /// <summary>The reply's <c>status</c>: <c>"unknown"</c> when a check found no record of the ref; otherwise <see langword="null"/>.</summary>
    public string? Status { get; }

    /// <summary>
    /// For a check: <see langword="true"/> when the server knows the ref as a committed transaction;
    /// <see langword="false"/> when it has no record (never seen, failed, evicted or before a restart).
    /// Always <see langword="true"/> for a transaction result.
    /// </summary>
    public bool IsKnown => Status is null;

    /// <summary>The complete reply as received.</summary>
    public JsonElement Reply { get; }
}
