using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Mkio.Client;
using Mkio.Protocol;

namespace Mkio.Cli;

/// <summary>
/// <c>mkio subpub</c>, <c>mkio stream</c> and <c>mkio query</c>: one later-protocol subscribe (<c>protocol</c>, <c>subid</c>,
/// <c>fields</c>, …) over a raw WebSocket, printing the snapshot and updates as <c>mkio subscribe</c> does until Ctrl+C.
/// </summary>
internal static class LaterSubscribeCommand
{
    /// <summary>Rows asked per page by <c>mkio query</c>; further pages are fetched with <c>getmore</c> automatically.</summary>
    internal const int QueryPageSize = 500;

    private const string Url = "The server: a port (8080), host:port or http://host:port.";
    private static readonly (string, string) SubIdOption = ("--subid <id>", "Subscription id sent with the subscribe and echoed on every message.");
    private static readonly (string, string) FieldsOption = ("--fields <a,b>", "Only these columns in the rows (comma-separated).");
    private static readonly (string, string) FilterOption = ("--filter <expr>", "Only rows matching this expression over the service's filterable columns.");

    /// <summary><c>mkio subpub &lt;url&gt; &lt;service&gt; [topic…] [--subid] [--fields]</c>.</summary>
    public static System.CommandLine.Command SubPub() => LaterRequest.Command(
        "subpub",
        "Subscribe to a subpub service (later protocol) and print its snapshot and updates until Ctrl+C.",
        "mkio subpub <url> <service> [<topic>...] [--subid <id>] [--fields <a,b>] [--verbose]",
        [("<url>", Url), ("<service>", "A subpub service."), ("<topic>", "Topics (values of the service's topic column): one row each, then their updates; none subscribes to the whole service.")],
        (args, ct) => RunAsync("subpub", args, ct),
        SubIdOption,
        FieldsOption);

    /// <summary><c>mkio stream &lt;url&gt; &lt;service&gt; [--subid] [--fields] [--filter] [--ref R] [--maxcount N] [--before]</c>.</summary>
    public static System.CommandLine.Command Stream() => LaterRequest.Command(
        "stream",
        "Subscribe to a stream service (later protocol) and print new rows until Ctrl+C.",
        "mkio stream <url> <service> [--subid <id>] [--fields <a,b>] [--filter <expr>] [--ref <ref>] [--maxcount <n>] [--before] [--verbose]",
        [("<url>", Url), ("<service>", "A stream service.")],
        (args, ct) => RunAsync("stream", args, ct),
        SubIdOption,
        FieldsOption,
        FilterOption,
        ("--ref <ref>", "Start after this ref (buffered rows newer than it first); without it only rows written from now on."),
        ("--maxcount <n>", "Page through the buffer n rows at a time, then go live (with --before: page backwards, then stop)."),
        ("--before", "Print the buffered rows before --ref (all of the buffer without it), newest page first, then stop."));

    /// <summary><c>mkio query &lt;url&gt; &lt;service&gt; [--subid] [--fields] [--filter] [--snapshotOnly] [--updateOnly]</c>.</summary>
    public static System.CommandLine.Command Query() => LaterRequest.Command(
        "query",
        "Subscribe to a query service (later protocol): print the snapshot, fetched page by page, then updates until Ctrl+C.",
        "mkio query <url> <service> [--subid <id>] [--fields <a,b>] [--filter <expr>] [--snapshotOnly | --updateOnly] [--verbose]",
        [("<url>", Url), ("<service>", "A query service.")],
        (args, ct) => RunAsync("query", args, ct),
        SubIdOption,
        FieldsOption,
        FilterOption,
        ("--snapshotOnly", "Print the snapshot and exit (no updates)."),
        ("--updateOnly", "No snapshot: only the changes from now on."));

    /// <summary>Runs one of the three commands; <paramref name="protocol"/> is the command name and the service protocol.</summary>
    public static async Task<int> RunAsync(string protocol, string[] args, CancellationToken ct)
    {
        var @out = CliConsole.Out;
        var usage = protocol switch
        {
            "subpub" => "Usage: mkio subpub <url> <service> [<topic>...] [--subid <id>] [--fields <a,b>]",
            "stream" => "Usage: mkio stream <url> <service> [--subid <id>] [--fields <a,b>] [--filter <expr>] [--ref <ref>] [--maxcount <n>] [--before]",
            _ => "Usage: mkio query <url> <service> [--subid <id>] [--fields <a,b>] [--filter <expr>] [--snapshotOnly | --updateOnly]",
        };
        var parsed = Parse(protocol, args, out var error);
        if (parsed is null)
        {
            if (error is not null)
            {
                await @out.WriteLineAsync($"Error: {error}").ConfigureAwait(false);
            }

            await @out.WriteLineAsync(usage).ConfigureAwait(false);
            return 1;
        }

        using var socket = await LaterRequest.ConnectAsync(parsed.Url, ct).ConfigureAwait(false);
        if (socket is null)
        {
            return 1;
        }

        try
        {
            if (parsed.MaxCount is not null || parsed.Before)
            {
                // Stream paging: each page is a subscribe that registers nothing; forward paging ends by going live.
                var (code, live) = await PageStreamAsync(socket, parsed, ct).ConfigureAwait(false);
                if (live is null)
                {
                    return code;
                }

                parsed = live;
            }

            await socket.SendAsync(Subscribe(parsed), WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
            return await PrintAsync(socket, parsed, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return await SubscribeCommand.StoppedAsync().ConfigureAwait(false);
        }
        catch (WebSocketException ex)
        {
            await @out.WriteLineAsync($"Error: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>The parsed arguments, or null (with <paramref name="error"/> set unless only the usage is due).</summary>
    internal static Options? Parse(string protocol, IReadOnlyList<string> args, out string? error)
    {
        error = null;
        var positional = new List<string>();
        var o = new Options { Protocol = protocol };
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            var allowed = a switch
            {
                "--subid" or "--fields" => true,
                "--filter" => protocol != "subpub",
                "--ref" or "--maxcount" or "--before" => protocol == "stream",
                "--snapshotOnly" or "--updateOnly" => protocol == "query",
                _ => !a.StartsWith("--", StringComparison.Ordinal),
            };
            if (!allowed)
            {
                error = $"unknown option: {a}";
                return null;
            }

            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                positional.Add(a);
                continue;
            }

            if (a is "--before" or "--snapshotOnly" or "--updateOnly")
            {
                o.Before |= a == "--before";
                o.SnapshotOnly |= a == "--snapshotOnly";
                o.UpdateOnly |= a == "--updateOnly";
                continue;
            }

            if (i + 1 >= args.Count)
            {
                error = $"{a} requires a value";
                return null;
            }

            var v = args[++i];
            switch (a)
            {
                case "--subid":
                    o.SubId = v;
                    break;
                case "--fields":
                    o.Fields = [.. v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
                case "--filter":
                    o.Filter = v;
                    break;
                case "--ref":
                    o.Ref = v;
                    break;
                default:
                    if (!int.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n <= 0)
                    {
                        error = $"--maxcount must be a positive integer, got '{v}'";
                        return null;
                    }

                    o.MaxCount = n;
                    break;
            }
        }

        if (o.SnapshotOnly && o.UpdateOnly)
        {
            error = "--snapshotOnly and --updateOnly cannot be combined";
            return null;
        }

        if (positional.Count < 2 || (protocol != "subpub" && positional.Count > 2))
        {
            return null;
        }

        o.Url = positional[0];
        o.Service = positional[1];
        o.Topics = [.. positional.Skip(2)];
        return o;
    }

    /// <summary>
    /// Stream paging (<c>--maxcount</c>, <c>--before</c>): asks page after page, each a subscribe carrying the ref the last
    /// page returned, and prints each as a snapshot. Forward paging then returns the options of the live subscribe that
    /// continues after the last row printed; backward paging (and a refusal) returns the exit code and no live options.
    /// </summary>
    private static async Task<(int Code, Options? Live)> PageStreamAsync(ClientWebSocket socket, Options o, CancellationToken ct)
    {
        var @out = CliConsole.Out;
        var buffer = new ArrayBufferWriter<byte>();
        var page = o.Clone();
        var lastRef = o.Ref;
        while (true)
        {
            await socket.SendAsync(Subscribe(page), WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
            buffer.ResetWrittenCount();
            if (!await LaterRequest.ReceiveAsync(socket, buffer, ct).ConfigureAwait(false))
            {
                await @out.WriteLineAsync("Error: the server closed the connection").ConfigureAwait(false);
                return (1, null);
            }

            using var doc = JsonDocument.Parse(buffer.WrittenMemory);
            var m = doc.RootElement;
            if (!(m.TryGetProperty("type", out var t) && t.ValueEquals("snapshot")))
            {
                return (await PrintRefusalAsync(m, t.ValueKind == JsonValueKind.String ? t.GetString()! : "reply").ConfigureAwait(false), null);
            }

            await @out.WriteAsync(SubscribeCommand.Format(MkioEventType.Snapshot, m, CliConsole.IsTty)).ConfigureAwait(false);
            var hasMore = m.TryGetProperty("hasmore", out var h) && h.ValueKind == JsonValueKind.True;
            var pageRef = m.TryGetProperty("ref", out var r) && r.ValueKind == JsonValueKind.String && r.GetString() is { Length: > 0 } s ? s : null;
            lastRef = pageRef ?? lastRef;
            if (!hasMore || page.MaxCount is null || pageRef is null)
            {
                break;
            }

            page.Ref = pageRef;
        }

        if (o.Before)
        {
            return (0, null);
        }

        // Live from the last row printed (or from the given ref / the whole buffer when no row was printed).
        var live = o.Clone();
        live.MaxCount = null;
        live.Ref = lastRef;
        return (0, live);
    }

    private static byte[] Subscribe(Options o) => WireJson.Serialize(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "subscribe");
        w.WritePropertyName("service");
        WireJson.WriteString(w, o.Service);
        w.WriteString("protocol", o.Protocol);
        if (o.SubId is not null)
        {
            w.WritePropertyName("subid");
            WireJson.WriteString(w, o.SubId);
        }

        if (o.Fields is not null)
        {
            w.WriteStartArray("fields");
            foreach (var f in o.Fields)
            {
                WireJson.WriteString(w, f);
            }

            w.WriteEndArray();
        }

        if (o.Filter is not null)
        {
            w.WritePropertyName("filter");
            WireJson.WriteString(w, o.Filter);
        }

        if (o.Topics.Length > 0)
        {
            w.WriteStartArray("topic");
            foreach (var topic in o.Topics)
            {
                WireJson.WriteString(w, topic);
            }

            w.WriteEndArray();
        }

        if (o.Ref is not null)
        {
            w.WritePropertyName("ref");
            WireJson.WriteString(w, o.Ref);
        }

        if (o.Protocol == "stream" && o.MaxCount is { } maxCount)
        {
            w.WriteNumber("maxcount", maxCount);
        }

        if (o.Protocol == "stream" && o.Before)
        {
            w.WriteBoolean("before", true);
        }

        if (o.Protocol == "query")
        {
            if (o.SnapshotOnly)
            {
                w.WriteBoolean("updates", false);
            }

            if (o.UpdateOnly)
            {
                w.WriteBoolean("snapshot", false);
            }
            else
            {
                w.WriteNumber("maxcount", QueryPageSize);
            }
        }

        w.WriteEndObject();
    });

    private static async Task<int> PrintAsync(ClientWebSocket socket, Options o, CancellationToken ct)
    {
        var @out = CliConsole.Out;
        var buffer = new ArrayBufferWriter<byte>();
        var newOnly = o.Protocol == "stream" && o.Ref is null;
        while (true)
        {
            buffer.ResetWrittenCount();
            if (!await LaterRequest.ReceiveAsync(socket, buffer, ct).ConfigureAwait(false))
            {
                await @out.WriteLineAsync("Error: the server closed the connection").ConfigureAwait(false);
                return 1;
            }

            using var doc = JsonDocument.Parse(buffer.WrittenMemory);
            var m = doc.RootElement;
            var type = m.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            switch (type)
            {
                case "snapshot":
                {
                    var hasMore = m.TryGetProperty("hasmore", out var h) && h.ValueKind == JsonValueKind.True;
                    if (newOnly)
                    {
                        // No --ref: the rows already buffered are skipped; only the ref is shown, then the new rows.
                        var r = m.TryGetProperty("ref", out var rv) && rv.ValueKind == JsonValueKind.String && rv.GetString() is { Length: > 0 } s ? $" ref={s}" : string.Empty;
                        await @out.WriteLineAsync($"[{CliConsole.Now()}] SUBSCRIBED (new rows only){r}").ConfigureAwait(false);
                    }
                    else
                    {
                        await @out.WriteAsync(SubscribeCommand.Format(MkioEventType.Snapshot, m, CliConsole.IsTty)).ConfigureAwait(false);
                    }

                    if (hasMore && m.TryGetProperty("subid", out var subid) && subid.ValueKind == JsonValueKind.String)
                    {
                        await socket.SendAsync(GetMore(o.Service, subid.GetString()!), WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
                    }
                    else if (o.SnapshotOnly)
                    {
                        return 0;
                    }

                    break;
                }

                case "update":
                    await @out.WriteAsync(SubscribeCommand.Format(MkioEventType.Update, m, CliConsole.IsTty)).ConfigureAwait(false);
                    break;
                case "nack" or "error":
                    return await PrintRefusalAsync(m, type).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Prints a refusal (nack, error or any unexpected reply) and the <c>Error:</c> line; the exit code 1.</summary>
    private static async Task<int> PrintRefusalAsync(JsonElement m, string type)
    {
        var @out = CliConsole.Out;
        await @out.WriteLineAsync($"[{CliConsole.Now()}] {type}: {SubscribeCommand.Json(m)}").ConfigureAwait(false);
        var message = m.TryGetProperty("message", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : type;
        await @out.WriteLineAsync($"Error: {message}").ConfigureAwait(false);
        return 1;
    }

    private static byte[] GetMore(string service, string subId) => WireJson.Serialize(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "getmore");
        w.WritePropertyName("service");
        WireJson.WriteString(w, service);
        w.WritePropertyName("subid");
        WireJson.WriteString(w, subId);
        w.WriteEndObject();
    });

    /// <summary>The arguments of one of the three commands.</summary>
    internal sealed class Options
    {
        public required string Protocol { get; init; }

        public string Url { get; set; } = string.Empty;

        public string Service { get; set; } = string.Empty;

        public string[] Topics { get; set; } = [];

        public string? SubId { get; set; }

        public string[]? Fields { get; set; }

        public string? Filter { get; set; }

        public string? Ref { get; set; }

        public int? MaxCount { get; set; }

        public bool Before { get; set; }

        public bool SnapshotOnly { get; set; }

        public bool UpdateOnly { get; set; }

        /// <summary>A copy to change for one page or the live subscribe.</summary>
        public Options Clone() => (Options)MemberwiseClone();
    }
}
