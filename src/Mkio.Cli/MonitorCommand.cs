using System.Buffers;
using System.CommandLine;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Mkio.Protocol;

namespace Mkio.Cli;

/// <summary><c>mkio monitor &lt;url&gt; &lt;service&gt;</c> (CLI.md §7): every message in and out of a service.</summary>
internal static class MonitorCommand
{
    public const string Usage = "Usage: mkio monitor <url> <service>";

    public static Command Create()
    {
        var tokens = new Argument<string[]>("args") { Description = "<url> <service>", Arity = ArgumentArity.ZeroOrMore };
        var verbose = new Option<bool>("--verbose") { Description = "Show error details." };
        var command = new Command("monitor", "Print every message going in and out of a service until Ctrl+C.") { tokens, verbose };
        ManualHelp.Register(
            command,
            "mkio monitor <url> <service> [--verbose]",
            [
                ("<url>", "The server: a port (8080), host:port or http://host:port."),
                ("<service>", "Any service: its inbound and outbound messages are printed."),
            ]);
        command.SetAction(parse =>
        {
            using var cts = CliConsole.CancelOnSignal(out var registration);
            using (registration)
            {
                return RunAsync(parse.GetValue(tokens) ?? [], parse.GetValue(verbose), cts.Token).GetAwaiter().GetResult();
            }
        });
        return command;
    }

    public static async Task<int> RunAsync(string[] args, bool verbose, CancellationToken ct)
    {
        var @out = CliConsole.Out;
        foreach (var a in args)
        {
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                await @out.WriteLineAsync($"Unknown option: {a}").ConfigureAwait(false);
                await @out.WriteLineAsync(Usage).ConfigureAwait(false);
                return 1;
            }
        }

        if (args.Length < 2)
        {
            await @out.WriteLineAsync(Usage).ConfigureAwait(false);
            await @out.WriteLineAsync("  mkio monitor http://localhost:8080 orders").ConfigureAwait(false);
            return 1;
        }

        var service = args[1];
        var wsUrl = CliUrl.WebSocket(args[0]);
        using var socket = new ClientWebSocket();
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new Uri(wsUrl), connectTimeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or UriFormatException or OperationCanceledException or ArgumentException)
        {
            if (ct.IsCancellationRequested)
            {
                await @out.WriteLineAsync().ConfigureAwait(false);
                await @out.WriteLineAsync("Monitor stopped.").ConfigureAwait(false);
                return 0;
            }

            await @out.WriteLineAsync($"Error connecting to {wsUrl}: {ex.Message}").ConfigureAwait(false);
            if (verbose)
            {
                await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return 1;
        }

        if (!await CliLogin.LoginAsync(socket, ct).ConfigureAwait(false))
        {
            return 1;
        }

        try
        {
            var request = WireJson.Serialize(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "monitor");
                w.WritePropertyName("service");
                WireJson.WriteString(w, service);
                w.WriteEndObject();
            });
            await socket.SendAsync(request, WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
            var buffer = new ArrayBufferWriter<byte>();
            if (!await ReceiveAsync(socket, buffer, ct).ConfigureAwait(false))
            {
                return 0;
            }

            using (var first = JsonDocument.Parse(buffer.WrittenMemory))
            {
                var root = first.RootElement;
                if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "error")
                {
                    var message = root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String && m.GetString() is { Length: > 0 } s ? s : "Unknown error";
                    await @out.WriteLineAsync($"Error: {message}").ConfigureAwait(false);
                    return 1;
                }
            }

            await @out.WriteLineAsync($"Monitoring service: {service}").ConfigureAwait(false);
            await @out.WriteLineAsync($"Connected to: {wsUrl}").ConfigureAwait(false);
            await @out.WriteLineAsync("---").ConfigureAwait(false);
            while (true)
            {
                buffer.ResetWrittenCount();
                if (!await ReceiveAsync(socket, buffer, ct).ConfigureAwait(false))
                {
                    return 0;
                }

                string text;
                try
                {
                    text = Format(buffer.WrittenSpan, CliConsole.IsTty);
                }
                catch (Exception ex) when (ex is JsonException or FormatException)
                {
                    continue; // not an envelope
                }

                await @out.WriteAsync(text).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await @out.WriteLineAsync().ConfigureAwait(false);
            await @out.WriteLineAsync("Monitor stopped.").ConfigureAwait(false);
            return 0;
        }
        catch (WebSocketException ex)
        {
            await @out.WriteLineAsync($"WebSocket error: {ex.Message}").ConfigureAwait(false);
            return 0;
        }
    }

    /// <summary>Reads one message; false when the server closed the socket.</summary>
    private static async Task<bool> ReceiveAsync(ClientWebSocket socket, ArrayBufferWriter<byte> buffer, CancellationToken ct)
    {
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(16 * 1024), ct).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                try
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
                }
                catch (WebSocketException)
                {
                }

                return false;
            }

            buffer.Advance(result.Count);
            if (result.EndOfMessage)
            {
                return true;
            }
        }
    }

    /// <summary>The lines printed for one monitor envelope (CLI.md §7), ending with an empty line.</summary>
    internal static string Format(ReadOnlySpan<byte> envelope, bool tty)
    {
        using var doc = JsonDocument.Parse(envelope.ToArray());
        var root = doc.RootElement;
        var direction = root.TryGetProperty("direction", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : string.Empty;
        var message = root.TryGetProperty("message", out var m) ? m : default;
        var type = message.ValueKind == JsonValueKind.Object && message.TryGetProperty("type", out var t)
            ? t.ValueKind == JsonValueKind.String ? t.GetString()! : t.GetRawText()
            : "(message)";
        var arrow = direction == "in" ? ">>" : "<<";
        var header = $"[{CliConsole.Now()}] {arrow} {direction.ToUpperInvariant(),-3} {type}";
        if (tty)
        {
            header = (direction == "in" ? CliConsole.Cyan : CliConsole.Yellow) + header + CliConsole.Reset;
        }

        var body = message.ValueKind == JsonValueKind.Undefined ? "null" : WireJson.ToIndented(Encoding.UTF8.GetBytes(message.GetRawText()));
        return header + "\n" + body + "\n\n";
    }
}
