using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Mkio.Client;
using Mkio.Protocol;

namespace Mkio.Cli;

/// <summary>
/// <c>--username &lt;u&gt;</c> on the WebSocket commands: the password comes from <c>MKIO_PASSWORD</c>, else a prompt
/// on a terminal; the command sends <c>{"type":"auth",…}</c> right after connecting and stops on a refused login.
/// </summary>
internal static class CliLogin
{
    /// <summary>The environment variable holding the password.</summary>
    public const string PasswordVariable = "MKIO_PASSWORD";

    /// <summary>The commands that speak WebSocket (and so take <c>--username</c>).</summary>
    private static readonly HashSet<string> WebSocketCommands = new(StringComparer.Ordinal)
    {
        "send", "subscribe", "subpub", "stream", "query", "monitor", "reqrep", "schema", "check",
    };

    /// <summary>The user to log in as, or null (no login).</summary>
    public static string? Username { get; private set; }

    /// <summary>
    /// Takes <c>--username &lt;u&gt;</c> / <c>--username=&lt;u&gt;</c> out of a WebSocket command's arguments (any position).
    /// Null when given without a value (the caller prints the error).
    /// </summary>
    public static string[]? Extract(string[] args)
    {
        if (args.Length == 0 || !WebSocketCommands.Contains(args[0]))
        {
            return args;
        }

        var rest = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--username")
            {
                if (i + 1 >= args.Length || args[i + 1].Length == 0)
                {
                    return null;
                }

                Username = args[++i];
            }
            else if (args[i].StartsWith("--username=", StringComparison.Ordinal))
            {
                Username = args[i]["--username=".Length..];
                if (Username.Length == 0)
                {
                    return null;
                }
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        return [.. rest];
    }

    /// <summary>
    /// The password: <c>MKIO_PASSWORD</c> when set (empty is an error), else read from the terminal without echo
    /// (twice when <paramref name="confirm"/>); null after printing why there is none.
    /// </summary>
    public static async Task<string?> PasswordAsync(bool confirm)
    {
        var @out = CliConsole.Out;
        if (Environment.GetEnvironmentVariable(PasswordVariable) is { } fromEnvironment)
        {
            if (fromEnvironment.Length == 0)
            {
                await @out.WriteLineAsync($"Error: {PasswordVariable} is set but empty.").ConfigureAwait(false);
                return null;
            }

            return fromEnvironment;
        }

        if (Console.IsInputRedirected)
        {
            await @out.WriteLineAsync($"Error: no password: set {PasswordVariable} or run on a terminal.").ConfigureAwait(false);
            return null;
        }

        var password = Prompt("Password: ");
        if (password.Length == 0)
        {
            await @out.WriteLineAsync("Error: the password is empty.").ConfigureAwait(false);
            return null;
        }

        if (confirm && Prompt("Confirm password: ") != password)
        {
            await @out.WriteLineAsync("Error: the passwords do not match.").ConfigureAwait(false);
            return null;
        }

        return password;
    }

    private static string Prompt(string text)
    {
        Console.Error.Write(text);
        var sb = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (sb.Length > 0)
                {
                    sb.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                sb.Append(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return sb.ToString();
    }

    /// <summary>
    /// Puts the <c>--username</c> login into <paramref name="options"/> (the client logs in on every connect and
    /// reconnect); false after printing why there is no password.
    /// </summary>
    public static async Task<bool> ConfigureAsync(MkioClientOptions options)
    {
        if (Username is not { } username)
        {
            return true;
        }

        if (await PasswordAsync(confirm: false).ConfigureAwait(false) is not { } password)
        {
            return false;
        }

        options.UserName = username;
        options.Password = password;
        return true;
    }

    /// <summary>Prints a refused login (<c>Error: login failed: …</c>); exit code 1.</summary>
    public static async Task<int> RefusedAsync(MkioLoginRefusedException refusal)
    {
        await CliConsole.Out.WriteLineAsync($"Error: login failed: {refusal.Message}").ConfigureAwait(false);
        return 1;
    }

    /// <summary>Logs <paramref name="socket"/> in when <c>--username</c> was given; false after printing the refusal.</summary>
    public static async Task<bool> LoginAsync(ClientWebSocket socket, CancellationToken ct)
    {
        if (Username is not { } username)
        {
            return true;
        }

        if (await PasswordAsync(confirm: false).ConfigureAwait(false) is not { } password)
        {
            return false;
        }

        var request = WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "auth");
            w.WriteStartObject("data");
            w.WritePropertyName("username");
            WireJson.WriteString(w, username);
            w.WritePropertyName("password");
            WireJson.WriteString(w, password);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        await socket.SendAsync(request, WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
        var buffer = new ArrayBufferWriter<byte>();
        while (true)
        {
            buffer.ResetWrittenCount();
            if (!await LaterRequest.ReceiveAsync(socket, buffer, ct).ConfigureAwait(false))
            {
                await CliConsole.Out.WriteLineAsync("Error: the server closed the connection").ConfigureAwait(false);
                return false;
            }

            using var doc = JsonDocument.Parse(buffer.WrittenMemory);
            var root = doc.RootElement;
            if (!root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "auth")
            {
                continue;
            }

            if (root.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True)
            {
                return true;
            }

            var message = root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : "login refused";
            await CliConsole.Out.WriteLineAsync($"Error: login failed: {message}").ConfigureAwait(false);
            return false;
        }
    }
}
