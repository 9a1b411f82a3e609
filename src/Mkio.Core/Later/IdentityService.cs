using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using Mkio.Data;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Storage;

namespace Mkio.Later;

/// <summary>
/// The built-in <c>_mkio</c> reqrep service: the server's identity (name, version, implementation, protocol level,
/// services, tables, config hash, uptime), a compatibility check against the versions a client expects, and the
/// live column list of a configured table. Registered after the user's services; a user service of the same name
/// wins. Hidden from discovery and from "available services" lists.
/// </summary>
internal sealed class IdentityService : ReqRepService
{
    public const string ServiceName = "_mkio";

    /// <summary>The protocol level reported (the 0.1.45–0.1.48 identity service: no versioned tables).</summary>
    public const string ProtocolLevel = "1.0";

    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly string _startedRef;
    private readonly string _configHash;

    public IdentityService(MkioEngine engine)
        : base(engine, new ReqRepServiceModel(new MkioServiceOptions(ServiceName) { Type = "reqrep" }) { IsIdentity = true })
    {
        // A ref of the start time, formatted without drawing from the writer's generator.
        _startedRef = MkioRef.Format((TimeProvider.System.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100, 0);
        _configHash = ConfigHash.Compute(engine.Model.Options);
    }

    /// <summary>The implementation version: the assembly's informational version without build metadata.</summary>
    public static string ImplementationVersion { get; } = (typeof(IdentityService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "dev").Split('+')[0];

    /// <summary>
    /// Before login (access control on, caller not authenticated): identity only — no services, tables, config hash,
    /// uptime or start ref; compatibility still answered; a table schema request is refused.
    /// </summary>
    protected override byte[] Answer(Row data, JsonElement reqid, Sessions.MkioSession session)
    {
        if (!Engine.Access.Enabled || session.Identity.IsAuthenticated)
        {
            return Answer(data, reqid);
        }

        if (data.TryGetValue("table", out _))
        {
            return Error(Security.AccessControl.AuthenticationRequired, reqid);
        }

        var row = IdentityFields();
        AddCompatibility(row, data);
        return LaterProtocol.Reply(Name, reqid, "row", row);
    }

    /// <summary><c>name</c>, <c>version</c>, <c>mkio</c>, <c>protocol</c>: what the service answers to anyone.</summary>
    private OrderedDictionary<string, object?> IdentityFields() => new(StringComparer.Ordinal)
    {
        ["name"] = Engine.Model.Options.Name,
        ["version"] = Engine.Model.Options.Version,
        ["mkio"] = ImplementationVersion,
        ["protocol"] = Engine.Model.Tables.Any(t => t.Versioned) ? Versioning.VersionedIdentity.ProtocolLevel : ProtocolLevel,
    };

    protected override byte[] Answer(Row data, JsonElement reqid)
    {
        if (data.TryGetValue("table", out var table))
        {
            return Schema(table as string ?? Convert.ToString(table, CultureInfo.InvariantCulture) ?? "None", reqid);
        }

        var row = IdentityFields();
        row["services"] = Services();
        row["tables"] = Engine.Model.Tables.Select(t => (object?)t.Name).ToList();
        row["config_hash"] = _configHash;
        row["uptime"] = Math.Round(Stopwatch.GetElapsedTime(_started).TotalSeconds, 1);
        row["started"] = _startedRef;
        Versioning.VersionedIdentity.Add(row, Engine.Model);
        AddCompatibility(row, data);
        return LaterProtocol.Reply(Name, reqid, "row", row);
    }

    private OrderedDictionary<string, object?> Services()
    {
        var services = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var s in Engine.Model.Services)
        {
            if (!s.Name.StartsWith('_'))
            {
                services[s.Name] = s.Type;
            }
        }

        return services;
    }

    /// <summary><c>compatible</c> and <c>compatibility</c> when the data names any of <c>version</c>, <c>protocol</c>, <c>mkio</c>.</summary>
    private static void AddCompatibility(OrderedDictionary<string, object?> row, Row data)
    {
        var checks = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var key in (string[])["version", "protocol", "mkio"])
        {
            if (data.TryGetValue(key, out var wanted))
            {
                checks[key] = Compatible(wanted as string, (string)row[key]!);
            }
        }

        if (checks.Count > 0)
        {
            row["compatible"] = checks.Values.All(v => v is true);
            row["compatibility"] = checks;
        }
    }

    /// <summary>Caret semver: client <paramref name="client"/> is satisfied by server <paramref name="server"/>.</summary>
    internal static bool Compatible(string? client, string server)
    {
        if (!TryParse(client, out var c) || !TryParse(server, out var s))
        {
            return false;
        }

        if (c.Major > 0)
        {
            return s.Major == c.Major && s.CompareTo(c) >= 0;
        }

        if (c.Minor > 0)
        {
            return s.Major == 0 && s.Minor == c.Minor && s.Patch >= c.Patch;
        }

        return s.Equals(c);
    }

    /// <summary><c>MAJOR.MINOR[.PATCH]</c>, non-negative integers; anything else is unparseable.</summary>
    internal static bool TryParse(string? text, out (long Major, long Minor, long Patch) version)
    {
        version = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var parts = text.Split('.');
        if (parts.Length is < 2 or > 3)
        {
            return false;
        }

        var numbers = new long[3];
        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length == 0 || !parts[i].All(char.IsAsciiDigit) || !long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]))
            {
                return false;
            }
        }

        version = (numbers[0], numbers[1], numbers[2]);
        return true;
    }

    /// <summary><c>{"table":T,"columns":[…]}</c> from <c>PRAGMA table_info</c> of a configured table (on PostgreSQL: <see cref="Storage.Postgres.PostgresTableInfo"/>).</summary>
    private byte[] Schema(string table, JsonElement reqid)
    {
        if (!Engine.Model.TablesByName.TryGetValue(table, out var model))
        {
            return Error($"Unknown table: {PyRepr.OfString(table)} (available: {string.Join(", ", Engine.Model.Tables.Select(t => t.Name))})", reqid);
        }

        if (Engine.PostgresTableColumns(model) is { } live)
        {
            var answer = new OrderedDictionary<string, object?>(StringComparer.Ordinal) { ["table"] = table, ["columns"] = live };
            Versioning.VersionedIdentity.AddSchema(answer, model);
            return LaterProtocol.Reply(Name, reqid, "row", answer);
        }

        var columns = Engine.Database.Read(c => MkioDatabase.Query(c, $"PRAGMA table_info({table})"));
        var list = new List<object?>(columns.Count);
        foreach (var col in columns)
        {
            col.TryGetValue("name", out var name);
            col.TryGetValue("type", out var type);
            col.TryGetValue("notnull", out var notnull);
            col.TryGetValue("pk", out var pk);
            col.TryGetValue("dflt_value", out var dflt);
            list.Add(new OrderedDictionary<string, object?>(StringComparer.Ordinal)
            {
                ["name"] = name,
                ["type"] = type,
                ["notnull"] = notnull is long n && n != 0,
                ["pk"] = pk is long p && p != 0,
                ["dflt_value"] = dflt,
            });
        }

        var row = new OrderedDictionary<string, object?>(StringComparer.Ordinal) { ["table"] = table, ["columns"] = list };
        Versioning.VersionedIdentity.AddSchema(row, model);
        return LaterProtocol.Reply(Name, reqid, "row", row);
    }
}

/// <summary>
/// The <c>config_hash</c> of the identity service: the loaded config (defaults filled) as compact JSON in declaration
/// order, keys starting with <c>_</c> left out, SHA-256, first 8 lowercase hex digits. Stable for one config, different
/// when it changes.
/// </summary>
internal static class ConfigHash
{
    public static string Compute(MkioOptions o)
    {
        var json = WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("name", o.Name);
            w.WriteString("version", o.Version);
            w.WriteString("host", o.Host);
            w.WriteNumber("port", o.Port);
            w.WriteString("db_path", o.DbPath);
            w.WriteNumber("batch_max_size", o.BatchMaxSize);
            w.WriteNumber("batch_max_wait_ms", o.BatchMaxWaitMs);
            w.WriteNumber("change_log_size", o.ChangeLogSize);
            w.WriteNumber("wal_checkpoint_interval_s", o.WalCheckpointIntervalS);
            w.WriteString("auto_migrate", o.AutoMigrate.ToString());
            w.WriteNumber("shutdown_timeout", o.ShutdownTimeout);
            w.WriteStartObject("tables");
            foreach (var t in o.Tables.Where(t => !t.Name.StartsWith('_')))
            {
                w.WriteStartObject(t.Name);
                w.WriteStartObject("columns");
                foreach (var (name, def) in t.Columns)
                {
                    w.WriteString(name, def);
                }

                w.WriteEndObject();
                w.WriteBoolean("append_only", t.AppendOnly);
                if (t.Seed is not null)
                {
                    w.WriteString("seed", t.Seed);
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteStartObject("services");
            foreach (var s in o.Services.Where(s => !s.Name.StartsWith('_')))
            {
                w.WritePropertyName(s.Name);
                WriteService(w, s);
            }

            w.WriteEndObject();
            w.WriteStartObject("static");
            foreach (var r in o.Static)
            {
                w.WriteString(r.Prefix, r.Directory);
            }

            w.WriteEndObject();
            w.WriteStartObject("config");
            foreach (var r in o.ConfigRoutes)
            {
                w.WriteString(r.Prefix, r.Directory);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        });
        return Convert.ToHexStringLower(SHA256.HashData(json))[..8];
    }

    private static void WriteService(Utf8JsonWriter w, MkioServiceOptions s)
    {
        w.WriteStartObject();
        w.WriteString("protocol", s.Type);
        Str(w, "description", s.Description);
        Map(w, "publish", s.Publish);
        Str(w, "where", s.Where);
        List(w, "filterable", s.Filterable);
        Str(w, "primary_table", s.PrimaryTable);
        Str(w, "topic", s.Key);
        List(w, "watch_tables", s.WatchTables);
        Str(w, "sql", s.Sql);
        if (s.ChangeLogSize is { } cls)
        {
            w.WriteNumber("change_log_size", cls);
        }

        if (s.BufferSize is { } bs)
        {
            w.WriteNumber("buffer_size", bs);
        }

        Map(w, "params", s.Params);
        Str(w, "reply", s.Reply);
        Map(w, "reply_fields", s.ReplyFields);
        Str(w, "table", s.Table);
        Str(w, "op_type", s.OpType);
        List(w, "fields", s.Fields);
        List(w, "key", s.KeyColumns);
        Map(w, "descriptions", s.Descriptions);
        w.WriteStartArray("ops");
        foreach (var set in s.Ops)
        {
            w.WriteStartObject();
            Str(w, "name", set.Name);
            w.WriteStartArray("steps");
            foreach (var op in set.Steps)
            {
                w.WriteStartObject();
                Str(w, "table", op.Table);
                Str(w, "op_type", op.OpType);
                List(w, "fields", op.Fields);
                List(w, "key", op.Key);
                w.WriteStartObject("defaults");
                foreach (var (k, v) in op.Defaults)
                {
                    w.WritePropertyName(k);
                    WireJson.WriteValue(w, v);
                }

                w.WriteEndObject();
                Map(w, "bind", op.Bind);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Str(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static void List(Utf8JsonWriter w, string name, IEnumerable<string>? values)
    {
        if (values is null)
        {
            return;
        }

        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    private static void Map(Utf8JsonWriter w, string name, OrderedDictionary<string, string>? map)
    {
        if (map is null)
        {
            return;
        }

        w.WriteStartObject(name);
        foreach (var (k, v) in map.Where(kv => !kv.Key.StartsWith('_')))
        {
            w.WriteString(k, v);
        }

        w.WriteEndObject();
    }
}
