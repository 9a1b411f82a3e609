using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Mkio.Protocol;
using Spectre.Console;

namespace Mkio.Cli;

/// <summary><c>mkio services &lt;url&gt; [service]</c> (CLI.md §4): the service list or one service's detail.</summary>
internal static class ServicesCommand
{
    public static Command Create()
    {
        var tokens = new Argument<string[]>("args")
        {
            Description = "<url> [service]: the server base URL (8080, host:port or http://host:port) and optionally a service name.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verbose = new Option<bool>("--verbose") { Description = "Show error details." };
        var command = new Command("services", "List the services of a server, or show one service in detail.") { tokens, verbose };
        ManualHelp.Register(
            command,
            "mkio services <url> [service] [--verbose]",
            [
                ("<url>", "The server: a port (8080), host:port or http://host:port."),
                ("[service]", "Show this one service in detail."),
            ]);
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(tokens) ?? [], parse.GetValue(verbose), ct));
        return command;
    }

    public static async Task<int> RunAsync(string[] args, bool verbose, CancellationToken ct)
    {
        var @out = CliConsole.Out;
        if (args.Length < 1)
        {
            await @out.WriteLineAsync("Usage: mkio services <url> [service]").ConfigureAwait(false);
            await @out.WriteLineAsync("  mkio services http://localhost:8080").ConfigureAwait(false);
            await @out.WriteLineAsync("  mkio services http://localhost:8080 orders").ConfigureAwait(false);
            return 1;
        }

        var baseUrl = CliUrl.HttpBase(args[0]);
        var service = args.Length > 1 ? args[1] : null;
        var listUrl = baseUrl + "/api/services";
        var url = service is null ? listUrl : listUrl + "/" + Uri.EscapeDataString(service);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        HttpResponseMessage response;
        string body;
        try
        {
            response = await http.GetAsync(new Uri(url), ct).ConfigureAwait(false);
            body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or UriFormatException or TaskCanceledException or InvalidOperationException)
        {
            await @out.WriteLineAsync($"Error connecting to {listUrl}: {ex.Message}").ConfigureAwait(false);
            if (verbose)
            {
                await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return 1;
        }

        using (response)
        {
            if (service is not null && response.StatusCode == HttpStatusCode.NotFound)
            {
                await @out.WriteLineAsync($"Unknown service: {service}").ConfigureAwait(false);
                return 1;
            }

            if (response.StatusCode != HttpStatusCode.OK)
            {
                await @out.WriteLineAsync($"Error: HTTP {(int)response.StatusCode}").ConfigureAwait(false);
                return 1;
            }
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            await @out.WriteLineAsync($"Error: invalid JSON from {url}: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        using (doc)
        {
            if (service is null)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Array || doc.RootElement.GetArrayLength() == 0)
                {
                    await @out.WriteLineAsync("No services available.").ConfigureAwait(false);
                    return 0;
                }

                if (CliConsole.IsTty)
                {
                    RenderListTable(doc.RootElement);
                }
                else
                {
                    await @out.WriteAsync(FormatList(doc.RootElement)).ConfigureAwait(false);
                }
            }
            else
            {
                await @out.WriteAsync(FormatDetail(doc.RootElement)).ConfigureAwait(false);
            }
        }

        return 0;
    }

    private static string Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString() ?? string.Empty : v.GetRawText() : string.Empty;

    private static bool Has(JsonElement e, string name, out JsonElement value)
    {
        value = default;
        return e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out value);
    }

    private static IEnumerable<string> Strings(JsonElement array) =>
        array.ValueKind == JsonValueKind.Array ? array.EnumerateArray().Select(PyStr) : [PyStr(array)];

    /// <summary>The DETAILS column: <c>table=…</c>, <c>tables=a,b</c>, <c>watch=a,b</c>.</summary>
    internal static string Details(JsonElement s)
    {
        var parts = new List<string>();
        if (Has(s, "primary_table", out var pt))
        {
            parts.Add($"table={PyStr(pt)}");
        }

        if (Has(s, "tables", out var t))
        {
            parts.Add($"tables={string.Join(",", Strings(t))}");
        }

        if (Has(s, "watch_tables", out var w))
        {
            parts.Add($"watch={string.Join(",", Strings(w))}");
        }

        return string.Join(", ", parts);
    }

    /// <summary>The plain table of CLI.md §4.1.</summary>
    internal static string FormatList(JsonElement list)
    {
        var items = list.EnumerateArray().ToList();
        var w1 = Math.Max(7, items.Max(s => Str(s, "name").Length));
        var w2 = Math.Max(4, items.Max(s => Str(s, "type").Length));
        var sb = new StringBuilder();
        sb.Append("SERVICE".PadRight(w1)).Append("  ").Append("TYPE".PadRight(w2)).Append("  ").Append("DETAILS").Append('\n');
        sb.Append(new string('-', w1)).Append("  ").Append(new string('-', w2)).Append("  ").Append(new string('-', 30)).Append('\n');
        foreach (var s in items)
        {
            sb.Append(Str(s, "name").PadRight(w1)).Append("  ").Append(Str(s, "type").PadRight(w2)).Append("  ").Append(Details(s)).Append('\n');
        }

        return sb.ToString();
    }

    private static void RenderListTable(JsonElement list)
    {
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn("[bold]SERVICE[/]");
        table.AddColumn("[bold]TYPE[/]");
        table.AddColumn("[bold]DETAILS[/]");
        foreach (var s in list.EnumerateArray())
        {
            var type = Str(s, "type");
            var colour = type switch { "transaction" => "yellow", "subpub" => "green", "stream" => "cyan", "query" => "magenta", _ => "white" };
            table.AddRow($"[bold]{Markup.Escape(Str(s, "name"))}[/]", $"[{colour}]{Markup.Escape(type)}[/]", Markup.Escape(Details(s)));
        }

        AnsiConsole.Write(table);
    }

    /// <summary>The detail text of CLI.md §4.2 (ends with one blank line).</summary>
    internal static string FormatDetail(JsonElement d)
    {
        var sb = new StringBuilder();
        void Line(string s = "") => sb.Append(s).Append('\n');
        var type = Str(d, "type");
        Line($"Service: {Str(d, "name")} ({type})");
        if (Has(d, "description", out var desc) && PyStr(desc).Length > 0)
        {
            Line($"  {PyStr(desc)}");
        }

        Line();
        if (type == "transaction")
        {
            FormatTransaction(d, Line);
        }
        else
        {
            FormatListener(d, Line);
        }

        return sb.ToString();
    }

    private static void FormatTransaction(JsonElement d, Action<string> line)
    {
        if (!Has(d, "ops", out var ops) || ops.ValueKind != JsonValueKind.Object || !ops.EnumerateObject().Any())
        {
            return;
        }

        var opList = ops.EnumerateObject().ToList();
        var w = Math.Max(2, opList.Max(o => o.Name.Length));
        line("  Operations:");
        line(string.Empty);
        foreach (var op in opList)
        {
            var step = FirstStep(op.Value);
            var parts = new List<string>();
            if (Has(step, "fields", out var fields) && fields.ValueKind == JsonValueKind.Object)
            {
                foreach (var f in fields.EnumerateObject())
                {
                    if (Truthy(f.Value, "key"))
                    {
                        parts.Add($"{f.Name}* (key)");
                    }
                    else if (Truthy(f.Value, "required"))
                    {
                        parts.Add($"{f.Name}*");
                    }
                    else if (Has(f.Value, "default", out var dv) && Truthy(dv))
                    {
                        parts.Add($"{f.Name}={PyStr(dv)}");
                    }
                    else
                    {
                        parts.Add(f.Name);
                    }
                }
            }

            var summary = parts.Count == 0 ? "(no fields)" : string.Join(", ", parts);
            var opDesc = Has(op.Value, "description", out var od) && Truthy(od) ? $"  \u2014 {PyStr(od)}" : string.Empty;
            line($"    {op.Name.PadRight(w)}  {summary}{opDesc}");
        }

        line(string.Empty);
        foreach (var op in opList)
        {
            var step = FirstStep(op.Value);
            var hasFields = Has(step, "fields", out var fields) && fields.ValueKind == JsonValueKind.Object && fields.EnumerateObject().Any();
            var hasAuto = Has(step, "auto", out var auto) && auto.ValueKind == JsonValueKind.Object && auto.EnumerateObject().Any();
            if (!hasFields && !hasAuto)
            {
                continue;
            }

            line($"  {op.Name}:");
            if (hasFields)
            {
                var fw = fields.EnumerateObject().Max(f => f.Name.Length);
                foreach (var f in fields.EnumerateObject())
                {
                    var notes = new List<string>();
                    if (Truthy(f.Value, "key"))
                    {
                        notes.Add("required, key");
                    }
                    else if (Truthy(f.Value, "required"))
                    {
                        notes.Add("required");
                    }

                    if (Has(f.Value, "default", out var dv) && Truthy(dv))
                    {
                        notes.Add($"default: {PyStr(dv)}");
                    }

                    var text = $"    {f.Name.PadRight(fw)}  {Str(f.Value, "type"),-10}";
                    line(notes.Count > 0 ? $"{text}  {string.Join(", ", notes)}" : text);
                }
            }

            if (hasAuto)
            {
                line("    auto: " + string.Join(", ", auto.EnumerateObject().Select(a => $"{a.Name} ({Str(a.Value, "source")})")));
            }

            if (Has(op.Value, "steps", out var steps) && steps.ValueKind == JsonValueKind.Array)
            {
                foreach (var s in steps.EnumerateArray().Skip(1))
                {
                    if (Has(s, "bind", out var bind) && bind.ValueKind == JsonValueKind.Object && bind.EnumerateObject().Any())
                    {
                        line($"    + {Str(s, "table")}: " + string.Join(", ", bind.EnumerateObject().Select(b => $"{b.Name}={PyStr(b.Value)}")));
                    }
                }
            }

            if (Has(op.Value, "example", out var ex) && Truthy(ex))
            {
                line($"    example: {PyStr(ex)}");
            }

            line(string.Empty);
        }

        if (Has(d, "recovery", out var rec) && rec.ValueKind == JsonValueKind.Object)
        {
            line("  Recovery:");
            if (Has(rec, "description", out var rd))
            {
                line($"    {PyStr(rd)}");
            }

            if (Has(rec, "check_message", out var cm))
            {
                line($"    Check: {PyJson(cm)}");
            }

            line(string.Empty);
        }
    }

    private static void FormatListener(JsonElement d, Action<string> line)
    {
        if (Has(d, "primary_table", out var pt))
        {
            line($"  Table: {PyStr(pt)}");
        }

        if (Has(d, "key", out var key))
        {
            line($"  Key: {PyStr(key)}");
        }

        if (Has(d, "filterable", out var fl))
        {
            line($"  Filter by: {string.Join(", ", Strings(fl))}");
        }

        if (Has(d, "schema", out var schema) && schema.ValueKind == JsonValueKind.Object && schema.EnumerateObject().Any())
        {
            line(string.Empty);
            line("  Schema:");
            var w = schema.EnumerateObject().Max(c => c.Name.Length);
            foreach (var c in schema.EnumerateObject())
            {
                var pk = Truthy(c.Value, "pk") ? "  (primary key)" : string.Empty;
                line($"    {c.Name.PadRight(w)}  {Str(c.Value, "type")}{pk}");
            }
        }

        if (Has(d, "subscribe", out var sub) && sub.ValueKind == JsonValueKind.Object)
        {
            line(string.Empty);
            line("  Subscribe protocol:");
            if (Has(sub, "message", out var m))
            {
                line($"    Message: {PyJson(m)}");
            }

            if (Has(sub, "response_types", out var rt))
            {
                line($"    Response types: {string.Join(", ", Strings(rt))}");
            }

            if (Has(sub, "recovery", out var r))
            {
                line($"    Recovery: {PyStr(r)}");
            }

            if (Has(sub, "buffer_size", out var bs) && bs.TryGetInt64(out var b))
            {
                line($"    buffer_size: {b.ToString("N0", CultureInfo.InvariantCulture)}");
            }
            else if (Has(sub, "change_log_size", out var cs) && cs.TryGetInt64(out var c))
            {
                line($"    change_log_size: {c.ToString("N0", CultureInfo.InvariantCulture)}");
            }
        }

        if (Has(d, "example", out var ex) && ex.ValueKind == JsonValueKind.Object && ex.EnumerateObject().Any())
        {
            line(string.Empty);
            line("  Example:");
            foreach (var e in ex.EnumerateObject())
            {
                line($"    {PyStr(e.Value)}");
            }
        }

        line(string.Empty);
    }

    private static JsonElement FirstStep(JsonElement op) =>
        Has(op, "steps", out var steps) && steps.ValueKind == JsonValueKind.Array && steps.GetArrayLength() > 0 ? steps[0] : default;

    private static bool Truthy(JsonElement obj, string name) => Has(obj, name, out var v) && Truthy(v);

    /// <summary>Python truthiness of a JSON value.</summary>
    private static bool Truthy(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.String => v.GetString()!.Length > 0,
        JsonValueKind.Number => v.GetDouble() != 0,
        JsonValueKind.Array => v.GetArrayLength() > 0,
        JsonValueKind.Object => v.EnumerateObject().Any(),
        _ => false,
    };

    /// <summary>Python's <c>str()</c> of a JSON value.</summary>
    internal static string PyStr(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString()!,
        JsonValueKind.True => "True",
        JsonValueKind.False => "False",
        JsonValueKind.Null or JsonValueKind.Undefined => "None",
        _ => v.GetRawText(),
    };

    /// <summary>Python's <c>json.dumps</c> text of a JSON value.</summary>
    internal static string PyJson(JsonElement v) => Encoding.UTF8.GetString(WireJson.ToPrettyCompact(Encoding.UTF8.GetBytes(v.GetRawText())));
}
