using System.Globalization;
using System.Text;
using System.Text.Json;
using Mkio.Model;
using Mkio.Protocol;

namespace Mkio.Discovery;

/// <summary>
/// The discovery documents of PROTOCOL.md §11: the service list and per-service detail, with the
/// reference key order, written in Python's "pretty-compact" form (<c>", "</c> / <c>": "</c>).
/// </summary>
internal static partial class ServiceDiscovery
{
    /// <summary><c>GET /api/services</c>; with <paramref name="include"/>, only the services it accepts (by name).</summary>
    public static byte[] List(MkioModel model, Func<string, bool>? include = null) => WireJson.ToPrettyCompact(WireJson.Serialize(w =>
    {
        w.WriteStartArray();
        foreach (var s in model.Services)
        {
            if (include is not null && !include(s.Name))
            {
                continue;
            }

            w.WriteStartObject();
            Str(w, "name", s.Name);
            Str(w, "type", s.Type);
            LaterProtocolKey(w, model, s);
            switch (s)
            {
                case ListenerServiceModel l:
                    Str(w, "primary_table", l.PrimaryTable.Name);
                    StrArray(w, "watch_tables", l.WatchTables);
                    break;
                case TransactionServiceModel t:
                    StrArray(w, "tables", t.Tables);
                    if (t.Named)
                    {
                        StrArray(w, "ops", t.OpSets.Select(o => o.DisplayName));
                    }

                    break;
                case CustomServiceModel c:
                    if (c.Options.PrimaryTable is { } pt)
                    {
                        Str(w, "primary_table", pt);
                    }

                    if (c.WatchTables.Length > 0)
                    {
                        StrArray(w, "watch_tables", c.WatchTables);
                    }

                    break;
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }));

    /// <summary><c>{"error": "Unknown service: &lt;name&gt;"}</c> for a 404.</summary>
    public static byte[] UnknownService(string name) => WireJson.ToPrettyCompact(WireJson.Serialize(w =>
    {
        w.WriteStartObject();
        Str(w, "error", $"Unknown service: {name}");
        w.WriteEndObject();
    }));

    /// <summary><c>GET /api/services/{name}</c>.</summary>
    public static byte[] Detail(MkioModel model, ServiceModel service) => WireJson.ToPrettyCompact(WireJson.Serialize(w =>
    {
        w.WriteStartObject();
        Str(w, "name", service.Name);
        Str(w, "type", service.Type);
        LaterProtocolKey(w, model, service);
        if (service.Description is { } d)
        {
            Str(w, "description", d);
        }

        switch (service)
        {
            case TransactionServiceModel t:
                WriteTransaction(w, t);
                break;
            case ListenerServiceModel l:
                WriteListener(w, l);
                break;
            case ReqRepServiceModel r:
                WriteReqRep(w, r);
                break;
            default:
                w.WritePropertyName("subscribe");
                w.WriteStartObject();
                SubscribeMessage(w, service.Name, service.Filterable);
                if (service.Filterable.Length > 0)
                {
                    StrArray(w, "filter_fields", service.Filterable);
                }

                w.WriteEndObject();
                break;
        }

        w.WriteEndObject();
    }));

    private static void WriteTransaction(Utf8JsonWriter w, TransactionServiceModel t)
    {
        w.WritePropertyName("ops");
        w.WriteStartObject();
        foreach (var set in t.OpSets)
        {
            w.WritePropertyName(set.DisplayName);
            w.WriteStartObject();
            if (set.Name is not null && t.Options.Descriptions?.TryGetValue(set.Name, out var desc) == true && !string.IsNullOrEmpty(desc))
            {
                Str(w, "description", desc);
            }

            w.WritePropertyName("steps");
            w.WriteStartArray();
            foreach (var op in set.Ops)
            {
                WriteStep(w, op);
            }

            w.WriteEndArray();
            if (Example(t.Name, set) is { } example)
            {
                Str(w, "example", example);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WritePropertyName("recovery");
        w.WriteStartObject();
        Str(w, "description", "Every result carries a ref; after a disconnect send a check message with that ref to learn whether the transaction committed.");
        w.WritePropertyName("check_message");
        w.WriteStartObject();
        Str(w, "service", t.Name);
        Str(w, "type", "check");
        Str(w, "ref", "<ref>");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static string TypeOf(OpModel op, string column) => op.Table.Find(column)?.Type ?? "TEXT";

    private static void WriteStep(Utf8JsonWriter w, OpModel op)
    {
        w.WriteStartObject();
        Str(w, "table", op.Table.Name);
        Str(w, "op_type", op.OpTypeName);
        var fieldNames = new List<string>(op.Fields);
        foreach (var k in op.Key)
        {
            if (!fieldNames.Contains(k))
            {
                fieldNames.Add(k);
            }
        }

        if (fieldNames.Count > 0)
        {
            w.WritePropertyName("fields");
            w.WriteStartObject();
            foreach (var f in fieldNames)
            {
                var col = op.Table.Find(f);
                w.WritePropertyName(f);
                w.WriteStartObject();
                Str(w, "type", col?.Type ?? "TEXT");
                if (op.Key.Contains(f))
                {
                    w.WriteBoolean("key", true);
                    w.WriteBoolean("required", true);
                }
                else if (op.Defaults.TryGetValue(f, out var dv))
                {
                    w.WriteBoolean("required", false);
                    w.WritePropertyName("default");
                    WireJson.WriteValue(w, dv);
                }
                else if (col is { NotNull: true, Default: null, PrimaryKey: false })
                {
                    w.WriteBoolean("required", true);
                }
                else if (col is { PrimaryKey: true, Default: null, IsRowIdAlias: false })
                {
                    w.WriteBoolean("required", true); // F16
                }
                else
                {
                    w.WriteBoolean("required", false);
                    if (col?.Default is { } cd)
                    {
                        Str(w, "default", cd);
                    }
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        var auto = new List<(string Name, Action Write)>();
        foreach (var col in op.Table.Columns)
        {
            if (op.Fields.Contains(col.Name) || op.Key.Contains(col.Name) || op.BindRaw.ContainsKey(col.Name) || op.Defaults.ContainsKey(col.Name))
            {
                continue;
            }

            var c = col;
            auto.Add((c.Name, () =>
            {
                Str(w, "type", c.Type);
                if (c.PrimaryKey && c.AutoIncrement)
                {
                    Str(w, "source", "autoincrement");
                }
                else if (c.PrimaryKey)
                {
                    Str(w, "source", "primary_key");
                }
                else if (c.Default is { } d)
                {
                    Str(w, "source", "default");
                    Str(w, "default", d);
                }
            }));
        }

        foreach (var (name, value) in op.Defaults)
        {
            if (op.Fields.Contains(name) || op.Key.Contains(name))
            {
                continue;
            }

            var n = name;
            var v = value;
            auto.Add((n, () =>
            {
                Str(w, "type", TypeOf(op, n));
                Str(w, "source", "op_default");
                w.WritePropertyName("default");
                WireJson.WriteValue(w, v);
            }));
        }

        if (auto.Count > 0)
        {
            w.WritePropertyName("auto");
            w.WriteStartObject();
            foreach (var (name, write) in auto)
            {
                w.WritePropertyName(name);
                w.WriteStartObject();
                write();
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        if (op.BindRaw.Count > 0)
        {
            w.WritePropertyName("bind");
            w.WriteStartObject();
            foreach (var (k, v) in op.BindRaw)
            {
                Str(w, k, v);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static string? Example(string service, OpSetModel set)
    {
        var op = set.Ops[0];
        var names = new List<string>(op.Key);
        foreach (var f in op.Fields)
        {
            if (!op.Defaults.ContainsKey(f) && !names.Contains(f))
            {
                names.Add(f);
            }
        }

        if (names.Count == 0)
        {
            return null;
        }

        var json = new StringBuilder("{");
        for (var i = 0; i < names.Count; i++)
        {
            if (i > 0)
            {
                json.Append(", ");
            }

            var type = TypeOf(op, names[i]);
            var value = !op.Fields.Contains(names[i]) ? "\"...\"" : type is "INTEGER" or "INT" ? "0" : type == "REAL" ? "0.0" : "\"...\"";
            json.Append('"').Append(names[i]).Append("\": ").Append(value);
        }

        json.Append('}');
        var opPart = set.Name is null ? string.Empty : $" --op {set.Name}";
        return $"mkio send <url> {service}{opPart} '{json}'";
    }

    private static void WriteListener(Utf8JsonWriter w, ListenerServiceModel l)
    {
        Str(w, "primary_table", l.PrimaryTable.Name);
        if (l.Key is { } key)
        {
            Str(w, "key", key);
        }

        if (l.Filterable.Length > 0)
        {
            StrArray(w, "filterable", l.Filterable);
        }

        w.WritePropertyName("schema");
        w.WriteStartObject();
        foreach (var c in l.PrimaryTable.Columns)
        {
            w.WritePropertyName(c.Name);
            w.WriteStartObject();
            Str(w, "type", c.Type);
            if (c.PrimaryKey)
            {
                w.WriteBoolean("pk", true);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WritePropertyName("subscribe");
        w.WriteStartObject();
        SubscribeMessage(w, l.Name, l.Filterable);
        Str(w, "recovery", l.Kind switch
        {
            ListenerKind.SubPub => "Send the last ref you received as \"ref\" when resubscribing: you get a delta of the changes since then from the change log, or a full snapshot when that ref is too old.",
            ListenerKind.Stream => "Send the last ref you received as \"ref\" when resubscribing: you get the rows after it from the buffer, or the whole buffer when that ref is too old.",
            _ => "Send the last ref you received as \"ref\" when resubscribing: you get a delta of the changes since then, or a full snapshot from the database when that ref is too old.",
        });
        StrArray(w, "response_types", l.Kind == ListenerKind.Stream ? ["snapshot", "update"] : ["snapshot", "delta", "update"]);
        if (l.Kind == ListenerKind.Stream)
        {
            w.WriteNumber("buffer_size", l.BufferSize);
        }
        else
        {
            w.WriteNumber("change_log_size", l.ChangeLogSize);
        }

        if (l.Filterable.Length > 0)
        {
            StrArray(w, "filter_fields", l.Filterable);
        }

        w.WriteEndObject();
        w.WritePropertyName("example");
        w.WriteStartObject();
        Str(w, "subscribe", $"mkio subscribe <url> {l.Name}");
        if (l.Filterable.Length > 0)
        {
            Str(w, "subscribe_filter", $"mkio subscribe <url> {l.Name} --filter \"{l.Filterable[0]} == '...'\"");
        }

        Str(w, "subscribe_recover", $"mkio subscribe <url> {l.Name} --ref \"<ref from last message>\"");
        w.WriteEndObject();
    }

    private static void SubscribeMessage(Utf8JsonWriter w, string name, string[] filterable)
    {
        w.WritePropertyName("message");
        w.WriteStartObject();
        Str(w, "service", name);
        Str(w, "type", "subscribe");
        if (filterable.Length > 0)
        {
            Str(w, "filter", "<expr>");
        }

        w.WriteEndObject();
    }

    private static void Str(Utf8JsonWriter w, string name, string value)
    {
        w.WritePropertyName(name);
        WireJson.WriteString(w, value);
    }

    private static void StrArray(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WritePropertyName(name);
        w.WriteStartArray();
        foreach (var v in values)
        {
            WireJson.WriteString(w, v);
        }

        w.WriteEndArray();
    }

    internal static string Thousands(int n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
