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

    /// <summary><c>{"service", "data", ["op"], ["msgid"], ["ref"]}</c> — the ref last, as the reference clients send it.</summary>
    public static ReadOnlyMemory<byte> Send<TState>(string service, TState data, Action<Utf8JsonWriter, TState> writeData, string? op, JsonNode? msgId, string? @ref) =>
        Write((service, data, writeData, op, msgId, @ref), static (w, s) =>
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
