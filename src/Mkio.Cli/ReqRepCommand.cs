using System.CommandLine;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Mkio.Cli;

/// <summary>
/// <c>mkio reqrep &lt;url&gt; &lt;service&gt; [json | key=value…]</c>: one request to a reqrep service. Prints the reply's
/// <c>value</c> (text as is, anything else as JSON), its <c>row</c> as JSON, or one JSON line per row of <c>rows</c>;
/// an error prints <c>Error: …</c> (plus a <c>Hint:</c> when the service is not reqrep) and exits 1.
/// </summary>
internal static partial class ReqRepCommand
{
    public const string Usage = "Usage: mkio reqrep <url> <service> [json | key=value ...]";

    public static Command Create() => LaterRequest.Command(
        "reqrep",
        "Call a reqrep service and print its reply.",
        "mkio reqrep <url> <service> [json | key=value ...] [--verbose]",
        [
            ("<url>", "The server: a port (8080), host:port or http://host:port."),
            ("<service>", "A reqrep service (or _mkio)."),
            ("[data]", "One JSON object, or key=value pairs (numbers, true, false and null are converted)."),
        ],
        RunAsync);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var @out = CliConsole.Out;
        if (args.Length < 2)
        {
            await @out.WriteLineAsync(Usage).ConfigureAwait(false);
            await @out.WriteLineAsync("  mkio reqrep http://localhost:8080 tax amount=100").ConfigureAwait(false);
            return 1;
        }

        var data = LaterRequest.Data(args[2..], out var error);
        if (data is null)
        {
            await @out.WriteLineAsync($"Error: {error}").ConfigureAwait(false);
            return 1;
        }

        using var answer = await LaterRequest.SendAsync(args[0], args[1], data, ct).ConfigureAwait(false);
        if (answer is null)
        {
            return 1;
        }

        var root = answer.RootElement;
        if (await LaterRequest.PrintErrorAsync(root).ConfigureAwait(false))
        {
            if (root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String && Mismatch().Match(m.GetString()!) is { Success: true } match)
            {
                var command = match.Groups[1].Value switch
                {
                    "transaction" => "send",
                    "subpub" or "stream" or "query" => "subscribe",
                    var other => other,
                };
                await @out.WriteLineAsync($"Hint: try 'mkio {command} {args[0]} {args[1]} …'").ConfigureAwait(false);
            }

            return 1;
        }

        if (root.TryGetProperty("value", out var value))
        {
            await @out.WriteLineAsync(value.ValueKind == JsonValueKind.String ? value.GetString() : LaterRequest.PyJson(value)).ConfigureAwait(false);
        }
        else if (root.TryGetProperty("row", out var row))
        {
            await @out.WriteLineAsync(LaterRequest.PyJson(row)).ConfigureAwait(false);
        }
        else if (root.TryGetProperty("rows", out var rows) && rows.ValueKind == JsonValueKind.Array)
        {
            foreach (var r in rows.EnumerateArray())
            {
                await @out.WriteLineAsync(LaterRequest.PyJson(r)).ConfigureAwait(false);
            }
        }

        return 0;
    }

    [GeneratedRegex("uses protocol '([^']*)', not 'reqrep'")]
    private static partial Regex Mismatch();
}
