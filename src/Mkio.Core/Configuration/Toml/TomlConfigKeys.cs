using System.Collections.Frozen;

namespace Mkio;

/// <summary>
/// The keys mkio 0.1.0 reads at each level of <c>mkio.toml</c> (CONFIG.md §2–§5), the keys of later
/// versions we accept with a warning (§9), and the "did you mean" lookup used for unknown keys.
/// </summary>
internal static class TomlConfigKeys
{
    public const string Transaction = "transaction";
    public const string SubPub = "subpub";
    public const string Stream = "stream";
    public const string Query = "query";
    public const string ReqRep = "reqrep";

    /// <summary>Top-level keys of 0.1.0.</summary>
    public static readonly string[] Root =
    [
        "host", "port", "db_path", "postgres", "batch_max_size", "batch_max_wait_ms", "change_log_size",
        "wal_checkpoint_interval_s", "auto_migrate", "backup_on_startup", "backup_dir", "shutdown_timeout",
        "tables", "services", "static", "ws_heartbeat_s", "allowed_origins",
        "name", "version", "config", "later_protocol", "ws_send_buffer_mb", "access", "monitor_access",
    ];

    /// <summary>Later top-level keys accepted silently (application identity, config endpoint).</summary>
    public static readonly FrozenSet<string> RootSilent = FrozenSet.Create<string>(StringComparer.Ordinal);

    /// <summary>Later top-level keys accepted with a "not supported" warning (none left: access control is read).</summary>
    public static readonly FrozenSet<string> RootLater = FrozenSet.Create<string>(StringComparer.Ordinal);

    /// <summary>Keys of <c>[tables.&lt;t&gt;]</c>.</summary>
    public static readonly string[] Table = ["columns", "append_only", "seed", "versioned", "unversioned", "primary_key", "archive"];

    /// <summary>Keys of a table's <c>archive = {…}</c>.</summary>
    public static readonly string[] Archive = ["cutoff", "format", "group", "with"];

    /// <summary>Later table keys accepted with a "not supported" warning.</summary>
    public static readonly FrozenSet<string> TableLater = FrozenSet.Create<string>(StringComparer.Ordinal);

    /// <summary>Keys of one op spec.</summary>
    public static readonly string[] Op = ["table", "op_type", "fields", "key", "defaults", "bind", "access"];

    /// <summary>Later op keys accepted with a "not supported" warning (none left).</summary>
    public static readonly FrozenSet<string> OpLater = FrozenSet.Create<string>(StringComparer.Ordinal);

    /// <summary>Later service keys accepted with a "not supported" warning, whatever the type (none left: access keys are read).</summary>
    public static readonly FrozenSet<string> ServiceLater = FrozenSet.Create<string>(StringComparer.Ordinal);

    /// <summary>Access keys every service type reads.</summary>
    public static readonly string[] ServiceAccess = ["access", "monitor_access"];

    private static readonly string[] Common = ["type", "protocol", "description", "publish", "where", "filterable"];

    private static readonly FrozenDictionary<string, string[]> ByType = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        [Transaction] = [.. Common, "ops", "descriptions", "table", "op_type", "fields", "key", "change_log_size"],
        [SubPub] = [.. Common, "primary_table", "key", "topic", "watch_tables", "sql", "change_log_size", "defaults"],
        [Stream] = [.. Common, "primary_table", "watch_tables", "sql", "buffer_size"],
        [Query] = [.. Common, "primary_table", "watch_tables", "sql", "change_log_size", "max_buffer"],
        [ReqRep] = ["type", "protocol", "description", "sql", "params", "reply"],
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Every service key any built-in type reads (used for custom or missing types).</summary>
    public static readonly string[] AnyService = [.. ByType.Values.SelectMany(k => k).Concat(ServiceAccess).Distinct(StringComparer.Ordinal)];

    /// <summary>True for the four built-in service types.</summary>
    public static bool IsBuiltInType(string? type) => type is not null && ByType.ContainsKey(type);

    /// <summary>The keys a service of <paramref name="type"/> reads; every known key for custom or missing types.</summary>
    public static string[] ForServiceType(string? type) =>
        type is not null && ByType.TryGetValue(type, out var keys) ? keys : AnyService;

    /// <summary>
    /// The candidate closest to <paramref name="key"/> (optimal string alignment distance, so a swap of two
    /// neighbouring letters counts once), or null when none is within 2 edits and closer than the key's length.
    /// </summary>
    public static string? Suggest(string key, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var d = Distance(key, candidate);
            if (d < bestDistance)
            {
                best = candidate;
                bestDistance = d;
            }
        }

        return bestDistance <= 2 && bestDistance < key.Length ? best : null;
    }

    /// <summary>Optimal string alignment (restricted Damerau–Levenshtein) distance, case-insensitive.</summary>
    internal static int Distance(string a, string b)
    {
        var w = b.Length + 1;
        var d = new int[(a.Length + 1) * w];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i * w] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                var v = Math.Min(Math.Min(d[((i - 1) * w) + j] + 1, d[(i * w) + j - 1] + 1), d[((i - 1) * w) + j - 1] + cost);
                if (i > 1 && j > 1
                    && char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 2])
                    && char.ToLowerInvariant(a[i - 2]) == char.ToLowerInvariant(b[j - 1]))
                {
                    v = Math.Min(v, d[((i - 2) * w) + j - 2] + 1);
                }

                d[(i * w) + j] = v;
            }
        }

        return d[d.Length - 1];
    }
}
