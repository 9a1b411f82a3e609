using System.Text.Json;

namespace Mkio.Protocol;

/// <summary>
/// Builds the outbound frames of PROTOCOL.md §6–9 with the reference key order. Each frame is
/// serialised once into an independent byte array that may be sent to many connections.
/// </summary>
internal static class Frames
{
    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText Service = JsonEncodedText.Encode("service");
    private static readonly JsonEncodedText RefName = JsonEncodedText.Encode("ref");
    private static readonly JsonEncodedText MsgId = JsonEncodedText.Encode("msgid");
    private static readonly JsonEncodedText TxnId = JsonEncodedText.Encode("txnid");
    private static readonly JsonEncodedText Ok = JsonEncodedText.Encode("ok");
    private static readonly JsonEncodedText Message = JsonEncodedText.Encode("message");
    private static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText Direction = JsonEncodedText.Encode("direction");
    private static readonly JsonEncodedText Result = JsonEncodedText.Encode("result");
    private static readonly JsonEncodedText Error = JsonEncodedText.Encode("error");
    private static readonly JsonEncodedText Nack = JsonEncodedText.Encode("nack");
    private static readonly JsonEncodedText MonitorAck = JsonEncodedText.Encode("monitor_ack");
    private static readonly JsonEncodedText Unknown = JsonEncodedText.Encode("unknown");
    private static readonly JsonEncodedText In = JsonEncodedText.Encode("in");
    private static readonly JsonEncodedText Out = JsonEncodedText.Encode("out");

    /// <summary><c>{"type":"result","service":S,"ref":R[,"msgid":M][,"txnid":X][,"status":"unknown"],"ok":true}</c>.</summary>
    public static byte[] TransactionResult(string service, string @ref, JsonElement echo, bool unknownStatus = false) =>
        WireJson.Serialize((service, @ref, echo, unknownStatus), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString(Type, Result);
            w.WritePropertyName(Service);
            WireJson.WriteString(w, s.service);
            w.WritePropertyName(RefName);
            WireJson.WriteString(w, s.@ref);
            WriteMsgId(w, s.echo);
            if (s.unknownStatus)
            {
                w.WriteString(Status, Unknown);
            }

            w.WriteBoolean(Ok, true);
            w.WriteEndObject();
        });

    /// <summary><c>{"type":"error","message":T[,"ref":R][,"msgid":M][,"txnid":X]}</c> — the §9 envelope.</summary>
    public static byte[] ErrorReply(string message, JsonElement @ref, JsonElement echo) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString(Type, Error);
            w.WritePropertyName(Message);
            WireJson.WriteString(w, message);
            if (@ref.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
            {
                w.WritePropertyName(RefName);
                WireJson.WriteValue(w, @ref);
            }

            WriteMsgId(w, echo);
            w.WriteEndObject();
        });

    /// <summary>A transaction error: always carries a ref (the client's, or the one generated for the attempt).</summary>
    public static byte[] TransactionError(string message, string @ref, JsonElement echo) =>
        WireJson.Serialize((message, @ref, echo), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString(Type, Error);
            w.WritePropertyName(Message);
            WireJson.WriteString(w, s.message);
            w.WritePropertyName(RefName);
            WireJson.WriteString(w, s.@ref);
            WriteMsgId(w, s.echo);
            w.WriteEndObject();
        });

    /// <summary><c>{"type":"nack","service":S,"message":T[,"ref":R]}</c> (fix F2).</summary>
    public static byte[] NackReply(string service, string message, JsonElement @ref) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString(Type, Nack);
            w.WritePropertyName(Service);
            WireJson.WriteString(w, service);
            w.WritePropertyName(Message);
            WireJson.WriteString(w, message);
            if (@ref.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
            {
                w.WritePropertyName(RefName);
                WireJson.WriteValue(w, @ref);
            }

            w.WriteEndObject();
        });

    /// <summary><c>{"type":"monitor_ack","service":S[,"ref":R]}</c> (ref only when non-empty).</summary>
    public static byte[] MonitorAckReply(string service, string? @ref) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString(Type, MonitorAck);
            w.WritePropertyName(Service);
            WireJson.WriteString(w, service);
            if (!string.IsNullOrEmpty(@ref))
            {
                w.WritePropertyName(RefName);
                WireJson.WriteString(w, @ref);
            }

            w.WriteEndObject();
        });

    /// <summary>A monitor envelope around an inbound message, re-encoded compactly.</summary>
    public static byte[] MonitorIn(string service, JsonElement message) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString(Direction, In);
            w.WritePropertyName(Service);
            WireJson.WriteString(w, service);
            w.WritePropertyName(Message);
            WireJson.WriteValue(w, message);
            w.WriteEndObject();
        });

    /// <summary>A monitor envelope around an outbound frame (embedded as-is).</summary>
    public static byte[] MonitorOut(string service, ReadOnlyMemory<byte> frame) =>
        WireJson.Serialize((service, frame), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString(Direction, Out);
            w.WritePropertyName(Service);
            WireJson.WriteString(w, s.service);
            w.WritePropertyName(Message);
            w.WriteRawValue(s.frame.Span, skipInputValidation: true);
            w.WriteEndObject();
        });

    /// <summary>
    /// Echoes the request's <c>msgid</c> and <c>txnid</c> (each under its own name, when present and not null);
    /// <paramref name="echo"/> is the request (<see cref="Envelope.Echo"/>) or undefined.
    /// </summary>
    private static void WriteMsgId(Utf8JsonWriter w, JsonElement echo)
    {
        if (echo.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        WriteId(w, echo, "msgid"u8, MsgId);
        WriteId(w, echo, "txnid"u8, TxnId);
    }

    private static void WriteId(Utf8JsonWriter w, JsonElement echo, ReadOnlySpan<byte> name, JsonEncodedText encoded)
    {
        if (echo.TryGetProperty(name, out var id) && id.ValueKind != JsonValueKind.Null)
        {
            w.WritePropertyName(encoded);
            WireJson.WriteValue(w, id);
        }
    }
}

/// <summary>Frames of the subscription protocol (PROTOCOL.md §7).</summary>
internal static class SubscriptionFrames
{
    private static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText Service = JsonEncodedText.Encode("service");
    private static readonly JsonEncodedText RefName = JsonEncodedText.Encode("ref");
    private static readonly JsonEncodedText Rows = JsonEncodedText.Encode("rows");
    private static readonly JsonEncodedText Changes = JsonEncodedText.Encode("changes");
    private static readonly JsonEncodedText Op = JsonEncodedText.Encode("op");
    private static readonly JsonEncodedText RowName = JsonEncodedText.Encode("row");
    private static readonly JsonEncodedText Snapshot = JsonEncodedText.Encode("snapshot");
    private static readonly JsonEncodedText Delta = JsonEncodedText.Encode("delta");
    private static readonly JsonEncodedText Update = JsonEncodedText.Encode("update");

    /// <summary><c>{"type":"snapshot","service":S,"ref":R,"rows":[…]}</c>.</summary>
    public static byte[] SnapshotFrame(string service, string @ref, List<Mkio.Data.Row> rows) =>
        WireJson.Serialize((service, @ref, rows), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString(Type, Snapshot);
            w.WritePropertyName(Service);
            WireJson.WriteString(w, s.service);
            w.WritePropertyName(RefName);
            WireJson.WriteString(w, s.@ref);
            w.WritePropertyName(Rows);
            w.WriteStartArray();
            foreach (var r in s.rows)
            {
                WireJson.WriteRow(w, r);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });

    /// <summary><c>{"type":"delta","service":S,"ref":R,"changes":[{"op":…,"row":…}]}</c>.</summary>
    public static byte[] DeltaFrame(string service, string @ref, List<(string Op, Mkio.Data.Row Row)> changes) =>
        WireJson.Serialize((service, @ref, changes), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString(Type, Delta);
            w.WritePropertyName(Service);
            WireJson.WriteString(w, s.service);
            w.WritePropertyName(RefName);
            WireJson.WriteString(w, s.@ref);
            w.WritePropertyName(Changes);
            w.WriteStartArray();
            foreach (var (op, row) in s.changes)
            {
                w.WriteStartObject();
                w.WritePropertyName(Op);
                WireJson.WriteString(w, op);
                w.WritePropertyName(RowName);
                w.WriteRawValue(RowJson(row), skipInputValidation: true);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });

    /// <summary>
    /// The row's JSON in its final (Python-style) form, serialised once per <see cref="Mkio.Data.Row"/> and kept on it:
    /// updates, deltas and every service that sends the row splice the same bytes.
    /// </summary>
    public static byte[] RowJson(Mkio.Data.Row row) =>
        row.EncodedJson ??= WireJson.Serialize(row, static (w, r) => WireJson.WriteRow(w, r));

    /// <summary>
    /// <c>{"type":"update","service":S,"ref":R,"op":O,"row":{…}}</c>. The row's JSON is serialised once per
    /// <see cref="Mkio.Data.Row"/> and spliced into the frame of every service that sends it.
    /// </summary>
    public static byte[] UpdateFrame(string service, string @ref, string op, Mkio.Data.Row row)
    {
        // The row's bytes are already in the final (Python-style) form; the frame's own rewrite, when its service
        // name or ref needs one, leaves them unchanged.
        var json = RowJson(row);
        return WireJson.Serialize((service, @ref, op, json), static (w, s) =>
        {
            w.WriteStartObject();
            w.WriteString(Type, Update);
            w.WritePropertyName(Service);
            WireJson.WriteString(w, s.service);
            w.WritePropertyName(RefName);
            WireJson.WriteString(w, s.@ref);
            w.WritePropertyName(Op);
            WireJson.WriteString(w, s.op);
            w.WritePropertyName(RowName);
            w.WriteRawValue(s.json, skipInputValidation: true);
            w.WriteEndObject();
        });
    }
}
