using Tomlyn.Model;

namespace Mkio;

/// <summary><c>[services]</c>, transaction op sets and op specs (CONFIG.md §4, §9 aliases).</summary>
internal sealed partial class TomlConfigReader
{
    private void ReadServices(Entry e)
    {
        if (!TryTable(e, out var services))
        {
            return;
        }

        foreach (var s in Entries(services, e.Path))
        {
            if (TryTable(s, out var body))
            {
                ReadService(s, body);
            }
        }
    }

    private void ReadService(Entry s, TomlTable body)
    {
        var service = _options.Services.FirstOrDefault(x => string.Equals(x.Name, s.Key, StringComparison.Ordinal));
        if (service is null)
        {
            service = new MkioServiceOptions(s.Key);
            _options.Services.Add(service);
        }

        var entries = Entries(body, s.Path);
        var type = ReadServiceType(s, entries, service);
        var builtIn = TomlConfigKeys.IsBuiltInType(type);
        var known = TomlConfigKeys.ForServiceType(type);
        Entry? keyEntry = null;
        var hasKey = entries.Exists(x => x.Key == "key");

        foreach (var e in entries)
        {
            if (e.Key is "type" or "protocol")
            {
                continue;
            }

            if (e.Key is "access" or "monitor_access")
            {
                ReadServiceAccess(e, service);
                continue;
            }

            if (builtIn && Array.IndexOf(known, e.Key) < 0)
            {
                UnknownServiceKey(e, type!, known);
                continue;
            }

            switch (e.Key)
            {
                case "description":
                    if (TryString(e, out var description))
                    {
                        service.Description = description;
                    }

                    break;
                case "publish":
                    if (TryStringMap(e, out var publish))
                    {
                        service.Publish = publish;
                    }

                    break;
                case "where":
                    if (TryString(e, out var where))
                    {
                        service.Where = where;
                    }

                    break;
                case "filterable":
                    if (TryStringList(e, out var filterable))
                    {
                        service.Filterable = filterable;
                    }

                    break;
                case "primary_table":
                    if (TryString(e, out var primaryTable))
                    {
                        service.PrimaryTable = primaryTable;
                    }

                    break;
                case "key":
                case "topic":
                    ReadServiceKey(s, e, type, service, hasKey, ref keyEntry);
                    break;
                case "watch_tables":
                    if (TryStringList(e, out var watchTables))
                    {
                        service.WatchTables = watchTables;
                    }

                    break;
                case "max_buffer" or "defaults" when builtIn:
                    ReadListenerLaterKey(e, service);
                    break;
                case "params" or "reply" when type == TomlConfigKeys.ReqRep:
                    ReadReqRepKey(e, service);
                    break;
                case "sql":
                    if (TryString(e, out var sql))
                    {
                        service.Sql = sql;
                    }

                    break;
                case "change_log_size":
                    if (TryInt(e, out var changeLogSize))
                    {
                        service.ChangeLogSize = changeLogSize;
                    }

                    break;
                case "buffer_size":
                    if (TryInt(e, out var bufferSize))
                    {
                        service.BufferSize = bufferSize;
                    }

                    break;
                case "descriptions":
                    if (TryStringMap(e, out var descriptions))
                    {
                        service.Descriptions = descriptions;
                    }

                    break;
                case "ops":
                    ReadOps(e, service);
                    break;
                case "table":
                    if (TryString(e, out var table))
                    {
                        service.Table = table;
                    }

                    break;
                case "op_type":
                    if (TryString(e, out var opType))
                    {
                        service.OpType = opType;
                    }

                    break;
                case "fields":
                    if (TryStringList(e, out var fields))
                    {
                        service.Fields = fields;
                    }

                    break;
                default:
                    // Custom (or missing) type: the service implementation reads its own keys.
                    service.Extra[e.Key] = ToPlain(e.Value);
                    break;
            }
        }
    }

    /// <summary><c>type</c> and its later alias <c>protocol</c>; both given must agree.</summary>
    private string? ReadServiceType(Entry s, List<Entry> entries, MkioServiceOptions service)
    {
        Entry? typeEntry = null;
        Entry? protocolEntry = null;
        foreach (var e in entries)
        {
            if (e.Key == "type")
            {
                typeEntry = e;
            }
            else if (e.Key == "protocol")
            {
                protocolEntry = e;
            }
        }

        string? type = null;
        if (typeEntry is { } t && TryString(t, out var typeValue))
        {
            type = typeValue;
        }

        if (protocolEntry is { } p && TryString(p, out var protocolValue))
        {
            if (type is null && typeEntry is null)
            {
                type = protocolValue;
                if (p.Location is { } location)
                {
                    _options.Locations.Set(s.Path + ".type", location);
                }
            }
            else if (type is not null && !string.Equals(type, protocolValue, StringComparison.Ordinal))
            {
                Error(p, $"'protocol' = '{protocolValue}' conflicts with 'type' = '{type}'; 'protocol' is an alias of 'type', give one value");
            }
        }

        if (type is not null)
        {
            service.Type = type;
        }

        return type;
    }

    /// <summary>
    /// <c>key</c> / <c>topic</c>: a string (subpub cache key, or a custom service's key) or, for the transaction
    /// shorthand, an array of strings (<see cref="MkioServiceOptions.KeyColumns"/>). <c>key</c> and <c>topic</c> must agree.
    /// </summary>
    private void ReadServiceKey(Entry s, Entry e, string? type, MkioServiceOptions service, bool hasKey, ref Entry? previous)
    {
        var isTransaction = type == TomlConfigKeys.Transaction;
        var allowString = !isTransaction;
        var allowArray = e.Key == "key" && type != TomlConfigKeys.SubPub;
        var expected = (allowString, allowArray) switch
        {
            (true, true) => "a string or an array of strings",
            (true, false) => "a string",
            _ => "an array of strings",
        };

        if (allowString && e.Value is string value)
        {
            if (previous is { Value: string earlier } other && !string.Equals(earlier, value, StringComparison.Ordinal))
            {
                Error(e, $"'{e.Key}' = '{value}' conflicts with '{other.Key}' = '{earlier}'; 'topic' is an alias of 'key', give one value");
                return;
            }

            previous = e;
            service.Key = value;
            if (e.Key == "topic" && !hasKey && e.Location is { } location)
            {
                _options.Locations.Set(s.Path + ".key", location);
            }

            return;
        }

        if (allowArray && e.Value is TomlArray)
        {
            if (TryStringList(e, out var columns))
            {
                service.KeyColumns = columns;
            }

            return;
        }

        TypeError(e, expected);
    }

    /// <summary>A key a built-in service type does not read: explain why it is ignored.</summary>
    private void UnknownServiceKey(Entry e, string type, string[] known)
    {
        if (type == TomlConfigKeys.Transaction && e.Key is "defaults" or "bind")
        {
            Warn(e, $"'{e.Key}' has no effect at service level (the transaction shorthand does not move it into the op); ignored");
        }
        else if (TomlConfigKeys.ServiceLater.Contains(e.Key))
        {
            LaterKey(e);
        }
        else if (Array.IndexOf(TomlConfigKeys.AnyService, e.Key) >= 0)
        {
            Warn(e, $"'{e.Key}' does not apply to {type} services (ignored)");
        }
        else
        {
            Unknown(e, known, TomlConfigKeys.ServiceLater);
        }
    }

    /// <summary>An array of op specs (one unnamed set) or a table of name → array of op specs (named sets).</summary>
    private void ReadOps(Entry e, MkioServiceOptions service)
    {
        if (AsItems(e.Value) is { } items)
        {
            service.Ops.Clear();
            service.OpsNamed = false;
            var set = new MkioOpSetOptions(null);
            ReadSteps(set, items, e.Path, e.Location);
            service.Ops.Add(set);
            return;
        }

        if (e.Value is not TomlTable named)
        {
            TypeError(e, "an array of op tables or a table of named op sets");
            return;
        }

        service.Ops.Clear();
        service.OpsNamed = true;
        foreach (var n in Entries(named, e.Path))
        {
            if (AsItems(n.Value) is { } steps)
            {
                var set = new MkioOpSetOptions(n.Key);
                ReadSteps(set, steps, n.Path, n.Location);
                service.Ops.Add(set);
            }
            else
            {
                TypeError(n, "an array of op tables");
            }
        }
    }

    private void ReadSteps(MkioOpSetOptions set, IReadOnlyList<object?> items, string path, SourceLocation? fallback)
    {
        for (var i = 0; i < items.Count; i++)
        {
            var itemPath = FormattableString.Invariant($"{path}[{i}]");
            if (items[i] is TomlTable op)
            {
                set.Steps.Add(ReadOp(set, op, itemPath, fallback));
            }
            else
            {
                Error(itemPath, $"expected an op table, got {Describe(items[i])}", fallback);
            }
        }
    }

    private MkioOpOptions ReadOp(MkioOpSetOptions set, TomlTable table, string path, SourceLocation? fallback)
    {
        var op = new MkioOpOptions();
        var entries = Entries(table, path);

        // The op itself is located at its first key (Tomlyn keeps spans per key, not per array element).
        SourceLocation? first = null;
        foreach (var e in entries)
        {
            if (e.Location is not null)
            {
                first = e.Location;
                break;
            }
        }

        if ((first ?? fallback) is { } location)
        {
            _options.Locations.Set(path, location);
        }

        foreach (var e in entries)
        {
            switch (e.Key)
            {
                case "table":
                    if (TryString(e, out var target))
                    {
                        op.Table = target;
                    }

                    break;
                case "op_type":
                    if (TryString(e, out var opType))
                    {
                        op.OpType = opType;
                    }

                    break;
                case "fields":
                    if (TryStringList(e, out var fields))
                    {
                        foreach (var f in fields)
                        {
                            op.Fields.Add(f);
                        }
                    }

                    break;
                case "key":
                    if (TryStringList(e, out var key))
                    {
                        foreach (var k in key)
                        {
                            op.Key.Add(k);
                        }
                    }

                    break;
                case "defaults":
                    ReadDefaults(e, op);
                    break;
                case "bind":
                    if (TryStringMap(e, out var bind))
                    {
                        foreach (var (column, reference) in bind)
                        {
                            op.Bind[column] = reference;
                        }
                    }

                    break;
                case "access":
                    ReadOpAccess(e, set);
                    break;
                default:
                    Unknown(e, TomlConfigKeys.Op, TomlConfigKeys.OpLater);
                    break;
            }
        }

        return op;
    }

    /// <summary>Column → constant: TOML integer → long, float → double, string, boolean.</summary>
    private void ReadDefaults(Entry e, MkioOpOptions op)
    {
        if (!TryTable(e, out var table))
        {
            return;
        }

        foreach (var d in Entries(table, e.Path))
        {
            if (d.Value is long or double or string or bool)
            {
                op.Defaults[d.Key] = d.Value;
            }
            else
            {
                TypeError(d, "a string, number or boolean");
            }
        }
    }
}
