using System.CommandLine;
using System.Text.Json;
using Mkio.Protocol;

namespace Mkio.Cli;

/// <summary>
/// <c>mkio check &lt;url&gt; [version=… protocol=… mkio=…]</c>: the server's identity from <c>_mkio</c> and, with
/// expectations, whether it is compatible (exit 0) or not (exit 1).
/// </summary>
internal static class CheckCommand
{
    public const string Usage = "Usage: mkio check <url> [version=<v>] [protocol=<v>] [mkio=<v>]";

    private static readonly string[] Keys = ["version", "protocol", "mkio"];

    public static Command Create() => LaterRequest.Command(
        "check",
        "Show a server's identity and check it against expected versions.",
        "mkio check <url> [version=<v>] [protocol=<v>] [mkio=<v>] [--verbose]",
        [
            ("<url>", "The server: a port (8080), host:port or http://host:port."),
            ("key=value", "Expected versions (caret rules: same major and at least this version)."),
        ],
        RunAsync);

    public static async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        var @out = CliConsole.Out;
        if (args.Length < 1)
        {
            await @out.WriteLineAsync(Usage).ConfigureAwait(false);
            await @out.WriteLineAsync("  mkio check http://localhost:8080 version=1.2").ConfigureAwait(false);
            return 1;
        }

        var expected = new List<(string Key, string Value)>();
        foreach (var a in args[1..])
        {
            var eq = a.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !Keys.Contains(a[..eq]))
            {
                await @out.WriteLineAsync($"Error: expected version=…, protocol=… or mkio=…, got '{a}'").ConfigureAwait(false);
                return 1;
            }

            expected.Add((a[..eq], a[(eq + 1)..]));
        }

        var data = WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            foreach (var (k, v) in expected)
            {
                w.WritePropertyName(k);
                WireJson.WriteString(w, v);
            }

            w.WriteEndObject();
        });
        using var answer = await LaterRequest.SendAsync(args[0], "_mkio", data, ct).ConfigureAwait(false);
        if (answer is null || await LaterRequest.PrintErrorAsync(answer.RootElement).ConfigureAwait(false))
        {
            return 1;
        }

        var row = answer.RootElement.GetProperty("row");
        string Get(string key) => row.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s : "(not set)";
        foreach (var key in (string[])["name", "version", "mkio", "protocol"])
        {
            await @out.WriteLineAsync(Line(key, Get(key))).ConfigureAwait(false);
        }

        if (expected.Count == 0)
        {
            return 0;
        }

        var compatible = row.TryGetProperty("compatible", out var c) && c.ValueKind == JsonValueKind.True;
        await @out.WriteLineAsync(Line("compatible", compatible ? "yes" : "NO")).ConfigureAwait(false);
        if (row.TryGetProperty("compatibility", out var detail) && detail.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in detail.EnumerateObject())
            {
                await @out.WriteLineAsync($"    {p.Name}: {Get(p.Name)} ({(p.Value.ValueKind == JsonValueKind.True ? "ok" : "MISMATCH")})").ConfigureAwait(false);
            }
        }

        return compatible ? 0 : 1;
    }

    /// <summary><c>  key:</c> with the value from the 16th character on.</summary>
    internal static string Line(string key, string value) => "  " + (key + ":").PadRight(13) + value;
}
