using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mkio.Client;

/// <summary>The outbound message shapes of the reference clients (CLIENTS.md §5), UTF-8 JSON.</summary>
internal static class MkioMessages
{
    private static readonly JsonEncodedText ServiceName = JsonEncodedText.Encode("service");
    private static readonly JsonEncodedText DataName = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText OpName = JsonEncodedText.Encode("op");
    private static readonly JsonEncodedText MsgIdName = JsonEncodedText.Encode("msgid");
    private static readonly JsonEncodedText RefName = JsonEncodedText.Encode("ref");
    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText FilterName = JsonEncodedText.Encode("filter");
    private static readonly JsonEncodedText CheckType = JsonEncodedText.Encode("check");
    private static readonly JsonEncodedText SubscribeType = JsonEncodedText.Encode("subscribe");
    private static readonly JsonEncodedText UnsubscribeType = JsonEncodedText.Encode("unsubscribe");
    private static readonly JsonEncodedText TxnIdName = JsonEncodedText.Encode("txnid");
    private static readonly JsonEncodedText SubIdName = JsonEncodedText.Encode("subid");
    private static readonly JsonEncodedText ReqIdName = JsonEncodedText.Encode("reqid");
    private static readonly JsonEncodedText ProtocolName = JsonEncodedText.Encode("protocol");
    private static readonly JsonEncodedText FieldsName = JsonEncodedText.Encode("fields");
    private static readonly JsonEncodedText MaxCountName = JsonEncodedText.Encode("maxcount");
    private static readonly JsonEncodedText SnapshotName = JsonEncodedText.Encode("snapshot");
    private static readonly JsonEncodedText UpdatesName = JsonEncodedText.Encode("updates");
    private static readonly JsonEncodedText TopicName = JsonEncodedText.Encode("topic");
    private static readonly JsonEncodedText GetMoreType = JsonEncodedText.Encode("getmore");
    private static readonly JsonEncodedText RequestType = JsonEncodedText.Encode("request");

    /// <summary><c>{"type":"auth","data":{"username":…,"password":…}}</c>: the mkio login.</summary>
    public static ReadOnlyMemory<byte> Auth(string username, string password) =>
        Write((username, password), static (w, s) =>
        {
            w.WriteString(TypeName, "auth");
            w.WriteStartObject(DataName);
            w.WriteString("username", s.username);
            w.WriteString("password", s.password);
            w.WriteEndObject();
        });

    /// <summary><c>{"service", "data", ["op"], ["msgid"], ["ref"]}</c> — the ref last, as the reference clients send it.</summary>
    /// <remarks>Later clients send the id as <c>txnid</c> (<paramref name="txnId"/>) instead of <c>msgid</c>.</remarks>
    public static ReadOnlyMemory<byte> Send<TState>(string service, TState data, Action<Utf8JsonWriter, TState> writeData, string? op, JsonNode? msgId, string? @ref, JsonNode? txnId = null) =>
        Write((service, data, writeData, op, msgId, @ref, txnId), static (w, s) =>
        {
            w.WriteString(ServiceName, s.service);
            w.WritePropertyName(DataName);
            s.writeData(w, s.data);
            if (s.op is not null)
            {
                w.WriteString(OpName, s.op);
            }

            if (s.msgId is not null)
            {
                w.WritePropertyName(MsgIdName);
                s.msgId.WriteTo(w);
            }

            if (s.txnId is not null)
            {
                w.WritePropertyName(TxnIdName);
                s.txnId.WriteTo(w);
            }

            if (s.@ref is not null)
            {
                w.WriteString(RefName, s.@ref);
            }
        });

    /// <summary><c>{"service", "type": "check", "ref"}</c>.</summary>
    public static ReadOnlyMemory<byte> Check(string service, string @ref) =>
        Write((service, @ref), static (w, s) =>
        {
            w.WriteString(ServiceName, s.service);
            w.WriteString(TypeName, CheckType);
            w.WriteString(RefName, s.@ref);
        });

    /// <summary><c>{"service", "type": "subscribe", ["filter"], ["ref"]}</c>.</summary>
    public static ReadOnlyMemory<byte> Subscribe(string service, string? filter, string? @ref) =>
        Write((service, filter, @ref), static (w, s) =>
        {
            w.WriteString(ServiceName, s.service);
            w.WriteString(TypeName, SubscribeType);
            if (!string.IsNullOrEmpty(s.filter))
            {
                w.WriteString(FilterName, s.filter);
            }

            if (!string.IsNullOrEmpty(s.@ref))
            {
                w.WriteString(RefName, s.@ref);
            }
        });

    /// <summary><c>{"service", "type": "unsubscribe"}</c>.</summary>
    public static ReadOnlyMemory<byte> Unsubscribe(string service) =>
        Write(service, static (w, s) =>
        {
            w.WriteString(ServiceName, s);
            w.WriteString(TypeName, UnsubscribeType);
        });

    /// <summary>
    /// A later subscribe: <c>{"service","type":"subscribe"[,"protocol"],"subid"[,"filter"][,"ref"][,"fields"][,"maxcount"]
    /// [,"snapshot":false][,"updates":false][,"topic"]}</c>.
    /// </summary>
    public static ReadOnlyMemory<byte> SubscribeLater(string service, string subId, string? protocol, string? filter, string? @ref, MkioSubscribeOptions options) =>
        Write((service, subId, protocol, filter, @ref, options), static (w, s) =>
        {
            w.WriteString(ServiceName, s.service);
            w.WriteString(TypeName, SubscribeType);
            if (s.protocol is not null)
            {
                w.WriteString(ProtocolName, s.protocol);
            }

            w.WriteString(SubIdName, s.subId);
            if (!string.IsNullOrEmpty(s.filter))
            {
                w.WriteString(FilterName, s.filter);
            }

            if (!string.IsNullOrEmpty(s.@ref))
            {
                w.WriteString(RefName, s.@ref);
            }

            var o = s.options;
            if (o.Fields is { } fields)
            {
                WriteStrings(w, FieldsName, fields);
            }

            if (o.MaxCount is { } max)
            {
                w.WriteNumber(MaxCountName, max);
            }

            if (!o.Snapshot)
            {
                w.WriteBoolean(SnapshotName, false);
            }

            if (!o.Updates)
            {
                w.WriteBoolean(UpdatesName, false);
            }

            if (o.Topics is { } topics)
            {
                WriteStrings(w, TopicName, topics);
            }
        });

    /// <summary><c>{"service","type":"getmore","subid"}</c>: the next page of a paged query snapshot.</summary>
    public static ReadOnlyMemory<byte> GetMore(string service, string subId) => ServiceTypeSubId(service, GetMoreType, subId);

    /// <summary><c>{"service","type":"unsubscribe","subid"}</c>: ends one later subscription.</summary>
    public static ReadOnlyMemory<byte> Unsubscribe(string service, string subId) => ServiceTypeSubId(service, UnsubscribeType, subId);

    /// <summary><c>{"service","type":"request","reqid","data"}</c>: a reqrep request.</summary>
    public static ReadOnlyMemory<byte> Request<TState>(string service, string reqId, TState data, Action<Utf8JsonWriter, TState> writeData) =>
        Write((service, reqId, data, writeData), static (w, s) =>
        {
            w.WriteString(ServiceName, s.service);
            w.WriteString(TypeName, RequestType);
            w.WriteString(ReqIdName, s.reqId);
            w.WritePropertyName(DataName);
            s.writeData(w, s.data);
        });

    private static ReadOnlyMemory<byte> ServiceTypeSubId(string service, JsonEncodedText type, string subId) =>
        Write((service, type, subId), static (w, s) =>
        {
            w.WriteString(ServiceName, s.service);
            w.WriteString(TypeName, s.type);
            w.WriteString(SubIdName, s.subId);
        });

    private static void WriteStrings(Utf8JsonWriter w, JsonEncodedText name, IReadOnlyList<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    private static ReadOnlyMemory<byte> Write<TState>(TState state, Action<Utf8JsonWriter, TState> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w, state);
            w.WriteEndObject();
        }

        return buffer.WrittenMemory;
    }
}

/// <summary>
/// The server writes non-finite floats as the bare tokens <c>NaN</c>, <c>Infinity</c> and
/// <c>-Infinity</c> (PROTOCOL.md §2), which System.Text.Json rejects. This turns them into the
/// strings <c>"NaN"</c>, <c>"Infinity"</c> and <c>"-Infinity"</c> (readable as doubles with
/// <see cref="System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals"/>).
/// Only used after a parse failed; tokens inside strings are left alone.
/// </summary>
internal static class NonFiniteTokens
{
    /// <summary>The rewritten message, or <see langword="null"/> when it has no such token.</summary>
    public static byte[]? Quote(ReadOnlySpan<byte> utf8)
    {
        byte[]? output = null;
        var written = 0;
        var copied = 0;
        var inString = false;
        for (var i = 0; i < utf8.Length; i++)
        {
            var b = utf8[i];
            if (inString)
            {
                if (b == (byte)'\\')
                {
                    i++;
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }

                continue;
            }

            if (b == (byte)'"')
            {
                inString = true;
                continue;
            }

            var length = Token(utf8[i..]);
            if (length == 0)
            {
                continue;
            }

            output ??= new byte[(utf8.Length * 2) + 2];
            utf8[copied..i].CopyTo(output.AsSpan(written));
            written += i - copied;
            output[written++] = (byte)'"';
            utf8.Slice(i, length).CopyTo(output.AsSpan(written));
            written += length;
            output[written++] = (byte)'"';
            i += length - 1;
            copied = i + 1;
        }

        if (output is null)
        {
            return null;
        }

        utf8[copied..].CopyTo(output.AsSpan(written));
        written += utf8.Length - copied;
        return output.AsSpan(0, written).ToArray();
    }

    private static int Token(ReadOnlySpan<byte> s) =>
        s.StartsWith("NaN"u8) ? 3 : s.StartsWith("Infinity"u8) ? 8 : s.StartsWith("-Infinity"u8) ? 9 : 0;
}
