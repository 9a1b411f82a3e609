using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Mkio.Protocol;

namespace Mkio.Cli;

/// <summary>
/// One later-protocol request over a WebSocket (<c>mkio reqrep</c>, <c>schema</c>, <c>check</c>; the connection and
/// command plumbing also serve <c>subpub</c>, <c>stream</c>, <c>query</c>): sends
/// <c>{"type":"request","service":…,"reqid":…,"data":…}</c> and returns the reply, error or nack answering it.
/// </summary>
internal static class LaterRequest
{
    private const string ReqId = "mkio-cli-1";

    /// <summary>True when <c>--verbose</c> was given: connection errors also print their details on stderr.</summary>
    private static bool Verbose { get; set; }

    /// <summary>
    /// A command whose arguments are parsed by <paramref name="run"/> (as the reference does), with real <c>--help</c>
    /// text and Ctrl+C cancelling the request.
    /// </summary>
    public static System.CommandLine.Command Command(string name, string description, string synopsis, (string Name, string Description)[] arguments, Func<string[], CancellationToken, Task<int>> run, params (string Name, string Description)[] options)
    {
        var tokens = new System.CommandLine.Argument<string[]>("args") { Description = string.Join(' ', arguments.Select(a => a.Name)), Arity = System.CommandLine.ArgumentArity.ZeroOrMore };
        var verbose = new System.CommandLine.Option<bool>("--verbose") { Description = "Show error details." };
        var command = new System.CommandLine.Command(name, description) { tokens, verbose };
        ManualHelp.Register(command, synopsis, arguments, options);
        command.SetAction(parse =>
        {
            Verbose = parse.GetValue(verbose);
            using var cts = CliConsole.CancelOnSignal(out var registration);
            using (registration)
            {
                return run(parse.GetValue(tokens) ?? [], cts.Token).GetAwaiter().GetResult();
            }
        });
        return command;
    }

    /// <summary>An open WebSocket to the server at <paramref name="url"/>, or null after printing a one-line connection error.</summary>
    public static async Task<ClientWebSocket?> ConnectAsync(string url, CancellationToken ct)
    {
        var wsUrl = CliUrl.WebSocket(url);
        var socket = new ClientWebSocket();
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new Uri(wsUrl), connectTimeout.Token).ConfigureAwait(false);
            if (!await CliLogin.LoginAsync(socket, ct).ConfigureAwait(false))
            {
                socket.Dispose();
                return null;
            }

            return socket;
        }
        catch (Exception ex) when (ex is WebSocketException or UriFormatException or OperationCanceledException or ArgumentException)
        {
            socket.Dispose();
            await CliConsole.Out.WriteLineAsync($"Error: could not connect to {wsUrl}. Is the mkio server running?").ConfigureAwait(false);
            if (Verbose)
            {
                await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return null;
        }
    }

    /// <summary>The answer, or null after printing a one-line connection error.</summary>
    public static async Task<JsonDocument?> SendAsync(string url, string service, byte[] data, CancellationToken ct)
    {
        using var socket = await ConnectAsync(url, ct).ConfigureAwait(false);
        if (socket is null)
        {
            return null;
        }

        var request = WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "request");
            w.WritePropertyName("service");
            WireJson.WriteString(w, service);
            w.WriteString("reqid", ReqId);
            w.WritePropertyName("data");
            w.WriteRawValue(data, skipInputValidation: true);
            w.WriteEndObject();
        });
        try
        {
            await socket.SendAsync(request, WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
            var buffer = new ArrayBufferWriter<byte>();
            while (true)
            {
                buffer.ResetWrittenCount();
                if (!await ReceiveAsync(socket, buffer, ct).ConfigureAwait(false))
                {
                    await CliConsole.Out.WriteLineAsync("Error: the server closed the connection").ConfigureAwait(false);
                    return null;
                }

                var doc = JsonDocument.Parse(buffer.WrittenMemory.ToArray());
                var root = doc.RootElement;
                var type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                var mine = root.TryGetProperty("reqid", out var q) && q.ValueKind == JsonValueKind.String && q.GetString() == ReqId;
                if (mine || type is "nack" || (type == "error" && !root.TryGetProperty("reqid", out _)))
                {
                    try
                    {
                        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (WebSocketException)
                    {
                    }

                    return doc;
                }

                doc.Dispose();
            }
        }
        catch (WebSocketException ex)
        {
            await CliConsole.Out.WriteLineAsync($"Error: {ex.Message}").ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>Prints <c>Error: &lt;message&gt;</c> when <paramref name="answer"/> is an error or nack; true if it was.</summary>
    public static async Task<bool> PrintErrorAsync(JsonElement answer)
    {
        var type = answer.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (type is "reply")
        {
            return false;
        }

        var message = answer.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : answer.GetRawText();
        await CliConsole.Out.WriteLineAsync($"Error: {message}").ConfigureAwait(false);
        return true;
    }

    /// <summary>Request data from the arguments: one JSON object, or <c>key=value</c> pairs (numbers, true/false/null converted).</summary>
    public static byte[]? Data(IReadOnlyList<string> args, out string? error)
    {
        error = null;
        if (args.Count == 0)
        {
            return "{}"u8.ToArray();
        }

        if (args.Count == 1 && args[0].TrimStart().StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(args[0]);
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                {
                    return Encoding.UTF8.GetBytes(args[0]);
                }
            }
            catch (JsonException ex)
            {
                error = $"invalid JSON data: {ex.Message.Split(" Path:")[0].Split(" LineNumber:")[0]}";
                return null;
            }

            error = "data must be a JSON object";
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var w = WireJson.CreateWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var pair in args)
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    error = $"expected key=value, got '{pair}'";
                    return null;
                }

                w.WritePropertyName(pair[..eq]);
                switch (pair[(eq + 1)..])
                {
                    case "true":
                        w.WriteBooleanValue(true);
                        break;
                    case "false":
                        w.WriteBooleanValue(false);
                        break;
                    case "null":
                        w.WriteNullValue();
                        break;
                    case var v:
                        SendData.WriteCell(w, v);
                        break;
                }
            }

            w.WriteEndObject();
        }

        return buffer.WrittenMemory.ToArray();
    }

    /// <summary>Python's default JSON text form (<c>", "</c> and <c>": "</c>) of a value.</summary>
    public static string PyJson(JsonElement v) => Encoding.UTF8.GetString(WireJson.ToPrettyCompact(Encoding.UTF8.GetBytes(v.GetRawText())));

    /// <summary>Reads one whole message into <paramref name="buffer"/>; false when the server closed the connection.</summary>
    public static async Task<bool> ReceiveAsync(ClientWebSocket socket, ArrayBufferWriter<byte> buffer, CancellationToken ct)
    {
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(16 * 1024), ct).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return false;
            }

            buffer.Advance(result.Count);
            if (result.EndOfMessage)
            {
                return true;
            }
        }
    }
}
