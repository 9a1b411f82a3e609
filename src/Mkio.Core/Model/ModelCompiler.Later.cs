using System.Collections.Frozen;
using Mkio.Expressions;

namespace Mkio.Model;

/// <summary>Rules of the later protocol generations: reqrep services, <c>[config]</c> routes, table seeds, reqrep limits.</summary>
internal sealed partial class ModelCompiler
{
    private ReqRepServiceModel? CompileReqRep(MkioServiceOptions s, string path)
    {
        var sql = string.IsNullOrWhiteSpace(s.Sql) ? null : s.Sql;
        if (sql is null && s.Reply is null && s.ReplyFields is null)
        {
            Error(path, $"Service '{s.Name}' (reqrep): requires at least one of 'sql' or 'reply'");
            return null;
        }

        var ok = true;
        var parameters = new List<(string, CompiledExpression)>();
        foreach (var (name, text) in s.Params ?? [])
        {
            if (CompileExpression(text, $"{path}.params.{name}") is { } e)
            {
                parameters.Add((name, e));
            }
            else
            {
                ok = false;
            }
        }

        CompiledExpression? value = null;
        CompiledFormatter? row = null;
        if (s.Reply is not null)
        {
            value = CompileExpression(s.Reply, $"{path}.reply");
            ok &= value is not null;
        }
        else if (s.ReplyFields is { Count: > 0 } fields)
        {
            foreach (var (field, text) in fields)
            {
                ok &= CompileExpression(text, $"{path}.reply.{field}") is not null;
            }

            if (ok)
            {
                row = CompiledFormatter.Compile(fields, _functions);
            }
        }

        if (!ok)
        {
            return null;
        }

        return new ReqRepServiceModel(s)
        {
            Sql = sql,
            SqlParameters = sql is null ? [] : ReqRepServiceModel.FindParameters(sql),
            Params = [.. parameters],
            ReplyValue = value,
            ReplyRow = row,
        };
    }

    /// <summary>
    /// Query <c>max_buffer</c> (at least 1; default 1000) and subpub <c>defaults</c>: each key must be an output column
    /// (the <c>publish</c> keys, else the primary table's columns) and each value an expression of the one engine.
    /// </summary>
    private (int MaxBuffer, (string, CompiledExpression)[] Defaults) CompileListenerLater(MkioServiceOptions s, string path, TableModel primary, ref bool ok)
    {
        var maxBuffer = s.MaxBuffer ?? 1000;
        if (maxBuffer < 1)
        {
            Error($"{path}.max_buffer", $"must be at least 1, got {maxBuffer}.");
            ok = false;
        }

        var defaults = new List<(string, CompiledExpression)>();
        if (s.TopicDefaults is not { Count: > 0 } map)
        {
            return (maxBuffer, []);
        }

        var columns = (s.Publish is { Count: > 0 } publish ? publish.Keys : primary.Columns.Select(c => c.Name)).Order(StringComparer.Ordinal).ToArray();
        foreach (var (column, text) in map)
        {
            if (!columns.Contains(column, StringComparer.Ordinal))
            {
                var best = TomlConfigKeys.Suggest(column, columns);
                Error($"{path}.defaults.{column}", $"Service '{s.Name}': defaults column '{column}' not found in output columns. Available columns: {string.Join(", ", columns)}." + (best is null ? string.Empty : $" Did you mean '{best}'?"));
                ok = false;
            }
            else if (CompileExpression(text, $"{path}.defaults.{column}") is { } e)
            {
                defaults.Add((column, e));
            }
            else
            {
                ok = false;
            }
        }

        return (maxBuffer, [.. defaults]);
    }

    private void CheckLater(FrozenDictionary<string, TableModel> tables)
    {
        var o = _options;
        if (o.ReqRepMaxRows < 1)
        {
            Error("ReqRepMaxRows", $"must be at least 1, got {o.ReqRepMaxRows}.");
        }

        if (o.ReqRepTimeoutMs < 1)
        {
            Error("ReqRepTimeoutMs", $"must be at least 1 millisecond, got {o.ReqRepTimeoutMs}.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var route in o.ConfigRoutes)
        {
            var path = $"config.{route.Prefix}";
            if (!route.Prefix.StartsWith('/'))
            {
                Error(path, $"route prefix '{route.Prefix}' must start with '/'.");
            }

            if (!seen.Add(route.Prefix.TrimEnd('/')))
            {
                Error(path, $"route prefix '{route.Prefix}' is declared twice.");
            }
        }

        foreach (var t in o.Tables)
        {
            if (t.Seed is not { } seed || !tables.ContainsKey(t.Name))
            {
                continue;
            }

            var ext = Path.GetExtension(seed).ToLowerInvariant();
            if (ext is not (".csv" or ".json" or ".jsonl"))
            {
                Error($"tables.{t.Name}.seed", $"seed file '{seed}' must be .csv, .json, or .jsonl");
            }
        }
    }
}
