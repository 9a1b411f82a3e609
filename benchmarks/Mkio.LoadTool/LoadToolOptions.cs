using System.Globalization;

namespace Mkio.LoadTool;

/// <summary>One load shape: <see cref="Connections"/> WebSockets, each with <see cref="InFlight"/> requests outstanding.</summary>
internal readonly record struct Scenario(int Connections, int InFlight)
{
    public override string ToString() => Connections.ToString(CultureInfo.InvariantCulture) + "×" + InFlight.ToString(CultureInfo.InvariantCulture);

    public static Scenario Parse(string text)
    {
        var parts = text.Split('x', 'X', '×');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var c)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var w)
            || c < 1 || w < 1)
        {
            throw new ArgumentException($"Scenario '{text}' is not CxW with positive integers (e.g. 8x16).");
        }

        return new Scenario(c, w);
    }
}

/// <summary>Command-line options of the load tool.</summary>
internal sealed class LoadToolOptions
{
    public const string Usage = """
        mkio load tool: drives the order-book 'orders' service over real WebSockets, then runs a raw
        Microsoft.Data.Sqlite baseline doing the same rows, and prints a Markdown table.

        Usage: dotnet Mkio.LoadTool.dll [options]
          --connections N       WebSocket connections (default 8)
          --inflight N          requests in flight per connection (default 16)
          --scenarios LIST      several shapes in one run, e.g. 1x1,8x16,32x16 (overrides the two above)
          --seconds S           measured duration per scenario (default 10)
          --warmup S            warm-up before measuring (default 2)
          --count N             stop measuring after N acks instead of after --seconds (0 = off)
          --server-dll PATH     mkio.dll (default <repo>/src/Mkio.Cli/bin/Release/net10.0/mkio.dll)
          --config PATH         config to copy (default <repo>/samples/OrderBook/mkio.toml)
          --baseline-batch N    baseline batch size (default: the server's average batch, else 500)
          --baseline-seconds S  baseline duration (default: --seconds)
          --no-baseline         skip the SQLite baseline
          --baseline-journal N  also run a second baseline that adds the server's change journal (F18):
                                the change rows as JSON, one _mkio_journal_batch record per table per batch, pruned to the newest N
                                (the order-book config keeps 10000); 0 = off (default)
          --baseline-autocheckpoint N   PRAGMA wal_autocheckpoint for the baseline (default: SQLite's 1000, as the server)
          --no-batch-log        do not enable the writer's per-batch debug log (batch sizes then unknown)
          --server-env K=V      extra environment variable for the server process (repeatable)
          --set KEY=VALUE       override a top-level key of the config copy, e.g. batch_max_wait_ms=0.5 (repeatable)
          --markdown PATH       also append the Markdown output to PATH
          --label TEXT          a label printed with the results

        Live-data modes (issue 3):
          --fanout N            N subscribers of 'all_orders' while publishers write (default N 50); also runs a
                                bare Kestrel broadcast baseline in the tool
          --publishers CxW      publisher connections × in flight for --fanout (default 4x16)
          --nodes N             --fanout over N nodes of one cluster (needs --set postgres=…): connection i
                                (subscriber or publisher) goes to node i mod N; server CPU is the nodes' sum
          --feeds A,B,...       services every --fanout subscriber subscribes to (default all_orders); bare
                                --feeds = all_orders,open_orders,audit_feed (a query, a subpub of pending orders
                                the tool adds to the config copy, and the audit stream): every order is 3 deliveries
          --snapshot            load --snapshot-rows orders, then time 10 concurrent 'all_orders' snapshots; also
                                runs a Microsoft.Data.Sqlite + Utf8JsonWriter baseline on a copy of the database
          --snapshot-rows N     rows to load for --snapshot (default 100000)
          --snapshot-rounds N   rounds of 10 concurrent subscribes (default 3)
          --resume              catch-up (issue 10): a client subscribes to 'all_orders', --resume-missed orders are
                                written, then it resubscribes with its ref (5 times live; after a restart of the
                                server on the same database, the first resume and 5 more); also times a
                                Microsoft.Data.Sqlite + Utf8JsonWriter read of the same rows on a copy
          --resume-missed N     orders written while the client is away (default 1000)
          --idle N              memory (issue 10): the server's RSS with N idle WebSocket connections, each
                                subscribed to 'all_orders', against the same N connections not subscribed and a
                                bare Kestrel WebSocket server (a child process of this tool, server GC as mkio)
        """;

    public List<Scenario> Scenarios { get; } = [];

    public double Seconds { get; set; } = 10;

    public double Warmup { get; set; } = 2;

    public long Count { get; set; }

    public string? ServerDll { get; set; }

    public string? Config { get; set; }

    public int BaselineBatch { get; set; }

    public double? BaselineSeconds { get; set; }

    public bool Baseline { get; set; } = true;

    public int? BaselineAutoCheckpoint { get; set; }

    public int BaselineJournal { get; set; }

    public bool BatchLog { get; set; } = true;

    public Dictionary<string, string> ServerEnvironment { get; } = new(StringComparer.Ordinal);

    /// <summary>Top-level TOML keys to override in the config copy (raw TOML values).</summary>
    public Dictionary<string, string> ConfigOverrides { get; } = new(StringComparer.Ordinal);

    public string? MarkdownPath { get; set; }

    public string? Label { get; set; }

    public bool Help { get; set; }

    /// <summary>Subscribers for the fan-out mode; 0 = mode off.</summary>
    public int Fanout { get; set; }

    /// <summary>Nodes started for --fanout (several only with --set postgres=…: one cluster).</summary>
    public int Nodes { get; set; } = 1;

    public Scenario Publishers { get; set; } = new(4, 16);

    /// <summary>The services each fan-out subscriber subscribes to.</summary>
    public IReadOnlyList<string> Feeds { get; set; } = ["all_orders"];

    public bool Snapshot { get; set; }

    public int SnapshotRows { get; set; } = 100_000;

    public int SnapshotRounds { get; set; } = 3;

    public bool Resume { get; set; }

    public int ResumeMissed { get; set; } = 1000;

    /// <summary>Idle connections for the memory mode; 0 = mode off.</summary>
    public int Idle { get; set; }

    /// <summary>Run as the bare Kestrel WebSocket server of the memory mode's baseline (internal).</summary>
    public bool BareServer { get; set; }

    public static LoadToolOptions Parse(string[] args)
    {
        var o = new LoadToolOptions();
        var connections = 8;
        var inflight = 16;
        string? scenarios = null;
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"Option {a} needs a value.");
            switch (a)
            {
                case "--connections": connections = PositiveInt(a, Next()); break;
                case "--inflight": inflight = PositiveInt(a, Next()); break;
                case "--scenarios": scenarios = Next(); break;
                case "--seconds": o.Seconds = PositiveDouble(a, Next()); break;
                case "--warmup": o.Warmup = NonNegativeDouble(a, Next()); break;
                case "--count": o.Count = long.Parse(Next(), NumberStyles.None, CultureInfo.InvariantCulture); break;
                case "--server-dll": o.ServerDll = Next(); break;
                case "--config": o.Config = Next(); break;
                case "--baseline-batch": o.BaselineBatch = PositiveInt(a, Next()); break;
                case "--baseline-seconds": o.BaselineSeconds = PositiveDouble(a, Next()); break;
                case "--no-baseline": o.Baseline = false; break;
                case "--baseline-journal": o.BaselineJournal = int.Parse(Next(), NumberStyles.None, CultureInfo.InvariantCulture); break;
                case "--baseline-autocheckpoint": o.BaselineAutoCheckpoint = int.Parse(Next(), NumberStyles.None, CultureInfo.InvariantCulture); break;
                case "--no-batch-log": o.BatchLog = false; break;
                case "--server-env":
                    {
                        var (k, v) = KeyValue(a, Next());
                        o.ServerEnvironment[k] = v;
                        break;
                    }

                case "--set":
                    {
                        var (k, v) = KeyValue(a, Next());
                        o.ConfigOverrides[k] = v;
                        break;
                    }

                case "--markdown": o.MarkdownPath = Next(); break;
                case "--label": o.Label = Next(); break;
                case "-h" or "--help": o.Help = true; break;
                case "--nodes": o.Nodes = PositiveInt(a, Next()); break;
                case "--fanout":
                    o.Fanout = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? PositiveInt(a, Next()) : 50;
                    break;
                case "--publishers": o.Publishers = Scenario.Parse(Next()); break;
                case "--feeds":
                    o.Feeds = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                        ? Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        : ["all_orders", "open_orders", "audit_feed"];
                    break;
                case "--snapshot": o.Snapshot = true; break;
                case "--resume": o.Resume = true; break;
                case "--resume-missed": o.ResumeMissed = PositiveInt(a, Next()); break;
                case "--idle":
                    o.Idle = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? PositiveInt(a, Next()) : 10_000;
                    break;
                case "--bare-server": o.BareServer = true; break;
                case "--snapshot-rows": o.SnapshotRows = PositiveInt(a, Next()); break;
                case "--snapshot-rounds": o.SnapshotRounds = PositiveInt(a, Next()); break;
                default: throw new ArgumentException($"Unknown option '{a}'. Try --help.");
            }
        }

        if (scenarios is not null)
        {
            foreach (var s in scenarios.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                o.Scenarios.Add(Scenario.Parse(s));
            }
        }
        else
        {
            o.Scenarios.Add(new Scenario(connections, inflight));
        }

        return o;
    }

    private static (string Key, string Value) KeyValue(string name, string text)
    {
        var eq = text.IndexOf('=', StringComparison.Ordinal);
        return eq > 0 ? (text[..eq].Trim(), text[(eq + 1)..].Trim()) : throw new ArgumentException($"{name} expects KEY=VALUE, got '{text}'.");
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} expects a positive integer, got '{value}'.");

    private static double PositiveDouble(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0
            ? d
            : throw new ArgumentException($"{name} expects a positive number, got '{value}'.");

    private static double NonNegativeDouble(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d >= 0
            ? d
            : throw new ArgumentException($"{name} expects a number ≥ 0, got '{value}'.");
}
