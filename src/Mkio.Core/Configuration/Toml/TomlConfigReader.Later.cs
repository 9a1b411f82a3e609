using System.Globalization;
using Tomlyn.Model;

namespace Mkio;

/// <summary>Keys of the later protocol generations: identity, <c>[config]</c>, send buffer, reqrep services.</summary>
internal sealed partial class TomlConfigReader
{
    private void ReadLaterRootKey(Entry e)
    {
        switch (e.Key)
        {
            case "name":
                if (TryString(e, out var name))
                {
                    _options.Name = name;
                }

                break;
            case "version":
                if (TryString(e, out var version))
                {
                    _options.Version = version;
                }

                break;
            case "later_protocol":
                if (TryBool(e, out var later))
                {
                    _options.LaterProtocol = later;
                }

                break;
            case "ws_send_buffer_mb":
                // A number > 0 (not a boolean): the per-connection bound of unsent bytes, in MiB.
                if (e.Value is bool || !TryNumber(e, out var mb))
                {
                    if (e.Value is bool)
                    {
                        TypeError(e, "a number of megabytes > 0");
                    }

                    break;
                }

                if (!(mb > 0) || !double.IsFinite(mb))
                {
                    Error(e, $"ws_send_buffer_mb must be a number > 0, got {mb.ToString(CultureInfo.InvariantCulture)}");
                    break;
                }

                _options.MaxSendQueueBytes = (long)Math.Max(1024, Math.Round(mb * 1024 * 1024));
                break;
            default:
                ReadConfigRoutes(e);
                break;
        }
    }

    /// <summary><c>[config]</c>: route → directory, or route → <c>{ path = … }</c> (1.x).</summary>
    private void ReadConfigRoutes(Entry e)
    {
        if (!TryTable(e, out var routes))
        {
            return;
        }

        foreach (var r in Entries(routes, e.Path))
        {
            string? directory = null;
            if (r.Value is TomlTable t)
            {
                if (t.TryGetValue("path", out var p) && p is string s)
                {
                    directory = s;
                }
                else
                {
                    Error(r, "a [config] route table needs 'path' = \"<directory>\"");
                    continue;
                }
            }
            else if (!TryString(r, out directory))
            {
                continue;
            }

            var route = new MkioStaticRoute(r.Key, directory);
            var index = -1;
            for (var i = 0; i < _options.ConfigRoutes.Count; i++)
            {
                if (string.Equals(_options.ConfigRoutes[i].Prefix, r.Key, StringComparison.Ordinal))
                {
                    index = i;
                }
            }

            if (index >= 0)
            {
                _options.ConfigRoutes[index] = route;
            }
            else
            {
                _options.ConfigRoutes.Add(route);
            }
        }
    }

    /// <summary>ReqRep <c>params</c> (table of expressions) and <c>reply</c> (an expression or a table of expressions).</summary>
    private void ReadReqRepKey(Entry e, MkioServiceOptions service)
    {
        if (e.Key == "reply" && e.Value is string reply)
        {
            service.Reply = reply;
            service.ReplyFields = null;
            return;
        }

        if (ExpressionMap(e, e.Key == "reply" ? "a string or a table of expressions" : "a table of expressions") is not { } map)
        {
            return;
        }

        if (e.Key == "reply")
        {
            service.ReplyFields = map;
            service.Reply = null;
        }
        else
        {
            service.Params = map;
        }
    }

    /// <summary>
    /// Query <c>max_buffer</c> (an integer) and subpub <c>defaults</c> (a table of column → expression; a non-string
    /// value is an expression written as a TOML literal, so <c>0</c> is the expression <c>0</c>).
    /// </summary>
    private void ReadListenerLaterKey(Entry e, MkioServiceOptions service)
    {
        if (e.Key == "max_buffer")
        {
            if (TryInt(e, out var maxBuffer))
            {
                service.MaxBuffer = maxBuffer;
            }
        }
        else if (ExpressionMap(e, "a table of expressions") is { } map)
        {
            service.TopicDefaults = map;
        }
    }

    /// <summary>A table of name → expression text (TOML literals 0, 1.5, true taken as their expression text), or null after a type error.</summary>
    private OrderedDictionary<string, string>? ExpressionMap(Entry e, string expected)
    {
        if (e.Value is not TomlTable table)
        {
            TypeError(e, expected);
            return null;
        }

        var map = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in Entries(table, e.Path))
        {
            switch (item.Value)
            {
                case string s:
                    map[item.Key] = s;
                    break;
                case long or double or bool:
                    map[item.Key] = item.Value is bool b ? (b ? "TRUE" : "FALSE") : Convert.ToString(item.Value, CultureInfo.InvariantCulture)!;
                    break;
                default:
                    TypeError(item, "an expression string");
                    break;
            }
        }

        return map;
    }
}
