using System.CommandLine;
using System.Text;
using System.Text.Json;
using Mkio.Client;
using Mkio.Protocol;

namespace Mkio.Cli;

/// <summary><c>mkio subscribe &lt;url&gt; &lt;service&gt; [--filter expr] [--ref ref]</c> (CLI.md §6).</summary>
internal static class SubscribeCommand
{
    public const string Usage = "Usage: mkio subscribe <url> <service> [--filter <expr>] [--ref <ver>]";

    public static Command Create()
    {
        var tokens = new Argument<string[]>("args")
        {
            Description = "<url> <service> [--filter <expr>] [--ref <ref>]: --filter is an expression over the filterable columns; --ref resumes from a ref.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verbose = new Option<bool>("--verbose") { Description = "Show error details." };
        var command = new Command("subscribe", "Subscribe to a listener service and print its snapshot, deltas and updates until Ctrl+C (reconnects automatically).")
        {
            tokens, verbose,
        };
        ManualHelp.Register(
            command,
            "mkio subscribe <url> <service> [--filter <expr>] [--ref <ref>] [--verbose]",
            [
                ("<url>", "The server: a port (8080), host:port or http://host:port."),
                ("<service>", "A subpub, stream or query service."),
            ],
            ("--filter <expr>", "Only rows matching this expression over the service's filterable columns."),
            ("--ref <ref>", "Resume after this ref: only the changes since it (or a snapshot when it is too old)."));
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
        if (args.Length < 2)
        {
            await @out.WriteLineAsync(Usage).ConfigureAwait(false);
            return 1;
        }

        string? filter = null, fromRef = null;
        for (var i = 2; i < args.Length; i++)
        {
            var a = args[i];
            if (a is "--filter" or "--ref")
            {
                if (i + 1 >= args.Length)
                {
                    await @out.WriteLineAsync($"Error: {a} requires a value").ConfigureAwait(false);
                    return 1;
                }

                if (a == "--filter")
                {
                    filter = args[++i];
                }
                else
                {
                    fromRef = args[++i];
                }
            }
            else if (a.StartsWith("--", StringComparison.Ordinal))
            {
                await @out.WriteLineAsync($"Unknown option: {a}").ConfigureAwait(false);
                await @out.WriteLineAsync(Usage).ConfigureAwait(false);
                return 1;
            }
        }

        var service = args[1];
        var wsUrl = CliUrl.WebSocket(args[0]);
        if (!Uri.TryCreate(wsUrl, UriKind.Absolute, out var uri))
        {
            await @out.WriteLineAsync($"Error: invalid URL: {args[0]}").ConfigureAwait(false);
            return 1;
        }

        var options = new MkioClientOptions { Reconnect = true, BackoffMax = TimeSpan.FromSeconds(5), Protocol = MkioProtocol.V010 };
        if (!await CliLogin.ConfigureAsync(options).ConfigureAwait(false))
        {
            return 1;
        }

        await using var client = new MkioClient(uri, options);
        try
        {
            await client.ConnectAsync(ct).ConfigureAwait(false);
        }
        catch (MkioLoginRefusedException ex)
        {
            return await CliLogin.RefusedAsync(ex).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return await SubscribeCommand.StoppedAsync().ConfigureAwait(false);
        }
        catch (MkioConnectionException ex)
        {
            await @out.WriteLineAsync($"Error: could not connect to {wsUrl}. Is the mkio server running?").ConfigureAwait(false);
            if (verbose)
            {
                await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return 1;
        }

        try
        {
            await foreach (var e in client.SubscribeAsync(service, filter, string.IsNullOrEmpty(fromRef) ? null : fromRef, ct).ConfigureAwait(false))
            {
                await @out.WriteAsync(Format(e.Type, e.Message, CliConsole.IsTty)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return await SubscribeCommand.StoppedAsync().ConfigureAwait(false);
        }
        catch (MkioSubscriptionRejectedException ex)
        {
            if (ex.Reply is { } reply)
            {
                await @out.WriteLineAsync($"[{CliConsole.Now()}] {MessageType(reply)}: {Json(reply)}").ConfigureAwait(false);
            }

            await @out.WriteLineAsync($"Error: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        catch (MkioLoginRefusedException ex)
        {
            // A reconnect's login was refused (e.g. the password changed meanwhile).
            return await CliLogin.RefusedAsync(ex).ConfigureAwait(false);
        }
        catch (MkioException ex)
        {
            await @out.WriteLineAsync($"Error: {ex.Message}").ConfigureAwait(false);
            if (verbose)
            {
                await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return 1;
        }

        return 0;
    }

    /// <summary>Prints the stop line after Ctrl+C or SIGTERM (a blank line, <c>Subscription stopped.</c>); exit code 0.</summary>
    internal static async Task<int> StoppedAsync()
    {
        await CliConsole.Out.WriteLineAsync().ConfigureAwait(false);
        await CliConsole.Out.WriteLineAsync("Subscription stopped.").ConfigureAwait(false);
        return 0;
    }

    private static string MessageType(JsonElement m) =>
        m.ValueKind == JsonValueKind.Object && m.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "message";

    /// <summary>Python <c>json.dumps</c> text (<c>", "</c>, <c>": "</c>, ASCII escapes) of a received value.</summary>
    internal static string Json(JsonElement v) => Encoding.UTF8.GetString(WireJson.ToPrettyCompact(Encoding.UTF8.GetBytes(v.GetRawText())));

    /// <summary>The lines printed for one subscription message (CLI.md §6), each ending in a newline.</summary>
    internal static string Format(MkioEventType type, JsonElement message, bool tty)
    {
        var sb = new StringBuilder();
        var r = message.TryGetProperty("ref", out var rv) && rv.ValueKind == JsonValueKind.String ? rv.GetString() : null;
        var refPart = string.IsNullOrEmpty(r) ? string.Empty : $" ref={r}";
        var t = $"[{CliConsole.Now()}] ";
        string Header(string text, string colour) => tty ? colour + text + CliConsole.Reset : text;
        switch (type)
        {
            case MkioEventType.Snapshot:
            {
                var rows = message.TryGetProperty("rows", out var rs) && rs.ValueKind == JsonValueKind.Array ? rs : default;
                var count = rows.ValueKind == JsonValueKind.Array ? rows.GetArrayLength() : 0;
                sb.Append(Header($"{t}SNAPSHOT ({count} rows){refPart}", CliConsole.Green)).Append('\n');
                if (count > 0)
                {
                    foreach (var row in rows.EnumerateArray())
                    {
                        sb.Append("  ").Append(Json(row)).Append('\n');
                    }
                }

                break;
            }

            case MkioEventType.Delta:
            {
                var changes = message.TryGetProperty("changes", out var cs) && cs.ValueKind == JsonValueKind.Array ? cs : default;
                var count = changes.ValueKind == JsonValueKind.Array ? changes.GetArrayLength() : 0;
                sb.Append(Header($"{t}DELTA ({count} changes){refPart}", CliConsole.Magenta)).Append('\n');
                if (count > 0)
                {
                    foreach (var c in changes.EnumerateArray())
                    {
                        var op = c.TryGetProperty("op", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : "?";
                        var row = c.TryGetProperty("row", out var rw) ? Json(rw) : "{}";
                        sb.Append("  ").Append(op).Append(": ").Append(row).Append('\n');
                    }
                }

                break;
            }

            default:
            {
                var op = message.TryGetProperty("op", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString()! : "?";
                var colour = op switch { "insert" => CliConsole.Cyan, "update" => CliConsole.Yellow, _ => CliConsole.Red };
                sb.Append(Header($"{t}UPDATE {op}{refPart}", colour)).Append('\n');
                var row = message.TryGetProperty("row", out var rw) ? Json(rw) : "{}";
                sb.Append("  ").Append(row).Append('\n');
                break;
            }
        }

        return sb.ToString();
    }
}
