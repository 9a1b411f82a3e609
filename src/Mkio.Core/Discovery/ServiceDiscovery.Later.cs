using System.Text;
using System.Text.Json;
using Mkio.Model;
using Mkio.Protocol;

namespace Mkio.Discovery;

/// <summary>Discovery additions of the later generations: the <c>protocol</c> key and reqrep documents.</summary>
internal static partial class ServiceDiscovery
{
    /// <summary>With the later-protocol option on, <c>"protocol"</c> follows <c>"type"</c> with the same value.</summary>
    private static void LaterProtocolKey(Utf8JsonWriter w, MkioModel model, ServiceModel service)
    {
        if (model.Options.LaterProtocol)
        {
            Str(w, "protocol", service.Type);
        }
    }

    /// <summary>The reqrep part of a detail document: SQL and its parameters, params, reply, shape, inputs, an example.</summary>
    private static void WriteReqRep(Utf8JsonWriter w, ReqRepServiceModel r)
    {
        var o = r.Options;
        if (r.Sql is { } sql)
        {
            Str(w, "sql", sql);
            if (r.SqlParameters.Length > 0)
            {
                StrArray(w, "parameters", r.SqlParameters);
            }
        }

        if (o.Params is { } ps)
        {
            StrMap(w, "params", ps);
        }

        if (o.Reply is { } reply)
        {
            Str(w, "reply", reply);
        }
        else if (o.ReplyFields is { } fields)
        {
            StrMap(w, "reply", fields);
        }

        Str(w, "reply_shape", r.ReplyShape);
        var inputs = InputFields(r);
        if (inputs.Length > 0)
        {
            StrArray(w, "input_fields", inputs);
        }

        var example = r.SqlParameters.Length > 0 ? [.. r.SqlParameters.Distinct(StringComparer.Ordinal)] : inputs;
        var data = WireJson.Serialize(x =>
        {
            x.WriteStartObject();
            foreach (var name in example.Length > 0 ? example : ["..."])
            {
                x.WritePropertyName(name);
                WireJson.WriteString(x, "...");
            }

            x.WriteEndObject();
        });
        w.WritePropertyName("request");
        w.WriteStartObject();
        w.WritePropertyName("message");
        w.WriteStartObject();
        Str(w, "service", r.Name);
        Str(w, "type", "request");
        Str(w, "reqid", "<reqid>");
        w.WritePropertyName("data");
        w.WriteRawValue(data, skipInputValidation: true);
        w.WriteEndObject();
        Str(w, "reply_type", "reply");
        w.WriteEndObject();
        w.WritePropertyName("example");
        w.WriteStartObject();
        Str(w, "request", $"mkio reqrep <url> {r.Name} '{Encoding.UTF8.GetString(WireJson.ToPrettyCompact(data))}'");
        w.WriteEndObject();
    }

    /// <summary>The request fields read by <c>params</c> (or by <c>reply</c> when there is no SQL), sorted.</summary>
    private static string[] InputFields(ReqRepServiceModel r)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        if (r.Params.Length > 0)
        {
            foreach (var (_, e) in r.Params)
            {
                names.UnionWith(e.Fields.Select(f => f.Name));
            }
        }
        else if (r.Sql is null)
        {
            if (r.ReplyValue is { } v)
            {
                names.UnionWith(v.Fields.Select(f => f.Name));
            }

            foreach (var e in r.ReplyRow?.Expressions ?? [])
            {
                names.UnionWith(e.Fields.Select(f => f.Name));
            }
        }

        return [.. names];
    }

    private static void StrMap(Utf8JsonWriter w, string name, OrderedDictionary<string, string> map)
    {
        w.WritePropertyName(name);
        w.WriteStartObject();
        foreach (var (k, v) in map)
        {
            Str(w, k, v);
        }

        w.WriteEndObject();
    }
}
