using System.Globalization;
using System.Text;
using Mkio.LoadTool;

LoadToolOptions options;
try
{
    options = LoadToolOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}

if (options.Help)
{
    Console.WriteLine(LoadToolOptions.Usage);
    return 0;
}

if (options.BareServer)
{
    await LiveBenchmarks.BareServerAsync();
    return 0;
}

var repo = FindRepoRoot();
var serverDll = Path.GetFullPath(options.ServerDll ?? Path.Combine(repo, "src", "Mkio.Cli", "bin", "Release", "net10.0", "mkio.dll"));
var config = Path.GetFullPath(options.Config ?? Path.Combine(repo, "samples", "OrderBook", "mkio.toml"));
if (!File.Exists(serverDll))
{
    await Console.Error.WriteLineAsync($"Server not built: {serverDll}. Run: dotnet build -c Release src/Mkio.Cli");
    return 2;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};

if (options.Idle > 0)
{
    var idle = await LiveBenchmarks.IdleAsync(serverDll, config, options, cts.Token);
    Console.WriteLine(idle);
    if (options.MarkdownPath is not null)
    {
        await File.AppendAllTextAsync(options.MarkdownPath, idle + Environment.NewLine, cts.Token);
    }

    return 0;
}

if (options.Resume)
{
    var resume = await LiveBenchmarks.ResumeAsync(serverDll, config, options, cts.Token);
    Console.WriteLine(resume);
    if (options.MarkdownPath is not null)
    {
        await File.AppendAllTextAsync(options.MarkdownPath, resume + Environment.NewLine, cts.Token);
    }

    return 0;
}

if (options.Fanout > 0 || options.Snapshot)
{
    var live = new StringBuilder();
    if (options.Fanout > 0)
    {
        live.AppendLine(await LiveBenchmarks.FanoutAsync(serverDll, config, options, cts.Token));
    }

    if (options.Snapshot)
    {
        live.AppendLine(await LiveBenchmarks.SnapshotAsync(serverDll, config, options, cts.Token));
    }

    Console.WriteLine(live.ToString());
    if (options.MarkdownPath is not null)
    {
        await File.AppendAllTextAsync(options.MarkdownPath, live.ToString(), cts.Token);
    }

    return 0;
}

var started = DateTimeOffset.Now;
var rows = new List<ScenarioResult>();
foreach (var scenario in options.Scenarios)
{
    var loadBefore = LoadAverage();
    Console.Error.WriteLine($"[{scenario}] starting server… (load average {loadBefore})");
    LoadResult load;
    await using (var server = await ServerProcess.StartAsync(serverDll, config, options.ConfigOverrides, options.BatchLog, options.ServerEnvironment, cts.Token))
    {
        Console.Error.WriteLine($"[{scenario}] server pid {server.Id} on port {server.Port}; warm-up {F(options.Warmup, 1)} s, measuring {(options.Count > 0 ? options.Count.ToString(CultureInfo.InvariantCulture) + " acks" : F(options.Seconds, 1) + " s")}");
        load = await LoadRunner.RunAsync(server, scenario, options, cts.Token);
        if (load.TotalErrors > 0)
        {
            Console.Error.WriteLine($"[{scenario}] {load.TotalErrors} error replies; first: {load.FirstError}");
            var serverErrors = server.LastErrors();
            if (serverErrors.Length > 0)
            {
                Console.Error.WriteLine("Server log:" + Environment.NewLine + serverErrors);
            }
        }
    }

    var loadAfter = LoadAverage();
    Console.Error.WriteLine($"[{scenario}] {F(load.AcksPerSecond, 0)} acks/s, p99 {F(load.Latency.P99, 2)} ms (load average {loadAfter})");

    BaselineResult? baseline = null;
    BaselineResult? journal = null;
    if (options.Baseline)
    {
        var batch = options.BaselineBatch > 0 ? options.BaselineBatch
            : load.Batches.Batches > 0 ? Math.Max(1, (int)Math.Round(load.Batches.AverageSize))
            : 500;
        Console.Error.WriteLine($"[{scenario}] raw SQLite baseline, batches of {batch}…");
        baseline = SqliteBaseline.Run(batch, options.Warmup, options.BaselineSeconds ?? options.Seconds, options.Count > 0 ? load.Acks : 0, options.BaselineAutoCheckpoint);
        Console.Error.WriteLine($"[{scenario}] baseline {F(baseline.RequestsPerSecond, 0)} req/s, batch ms p50 / p99 / max {BatchPercentiles(baseline.BatchDurations)}");
        if (options.BaselineJournal > 0)
        {
            journal = SqliteBaseline.Run(batch, options.Warmup, options.BaselineSeconds ?? options.Seconds, options.Count > 0 ? load.Acks : 0, options.BaselineAutoCheckpoint, options.BaselineJournal);
            Console.Error.WriteLine($"[{scenario}] baseline + journal {F(journal.RequestsPerSecond, 0)} req/s, batch ms p50 / p99 / max {BatchPercentiles(journal.BatchDurations)}");
        }
    }

    rows.Add(new ScenarioResult(load, baseline, journal, loadBefore, loadAfter));
}

var md = Render(options, started, rows);
Console.WriteLine(md);
if (options.MarkdownPath is not null)
{
    await File.AppendAllTextAsync(options.MarkdownPath, md + Environment.NewLine, cts.Token);
}

var bad = rows.Exists(r => r.Load.TotalErrors > 0);
return bad ? 1 : 0;

static string Render(LoadToolOptions options, DateTimeOffset started, List<ScenarioResult> rows)
{
    var sb = new StringBuilder();
    sb.Append("#### ").Append(started.ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture));
    if (options.Label is not null)
    {
        sb.Append(" — ").Append(options.Label);
    }

    foreach (var (k, v) in options.ConfigOverrides)
    {
        sb.Append(" — `").Append(k).Append(" = ").Append(v).Append('`');
    }

    sb.AppendLine().AppendLine();
    sb.AppendLine("| C×W | acks/s | p50 ms | p95 ms | p99 ms | max ms | errors | server CPU | server µs/ack | tool CPU | other CPU | load avg before → after |");
    sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    foreach (var r in rows)
    {
        var load = r.Load;
        var l = load.Latency;
        var secs = load.Seconds;
        var perAck = load.Acks > 0 ? load.ServerCpu.TotalMilliseconds * 1000 / load.Acks : 0;
        var other = Math.Max(0, (load.MachineCpu - load.ServerCpu - load.ToolCpu).TotalSeconds / secs);
        sb.Append("| ").Append(load.Scenario)
          .Append(" | ").Append(F(load.AcksPerSecond, 0))
          .Append(" | ").Append(F(l.P50, 2))
          .Append(" | ").Append(F(l.P95, 2))
          .Append(" | ").Append(F(l.P99, 2))
          .Append(" | ").Append(F(l.Max, 2))
          .Append(" | ").Append(load.TotalErrors.ToString(CultureInfo.InvariantCulture))
          .Append(" | ").Append(F(load.ServerCpu.TotalSeconds / secs, 2))
          .Append(" | ").Append(F(perAck, 0))
          .Append(" | ").Append(F(load.ToolCpu.TotalSeconds / secs, 2))
          .Append(" | ").Append(F(other, 2))
          .Append(" | ").Append(r.LoadBefore).Append(" → ").Append(r.LoadAfter).AppendLine(" |");
    }

    sb.AppendLine();
    sb.AppendLine("| C×W | server avg batch | server batch ms p50 / p99 / max | writer busy | baseline req/s (batch) | baseline µs/req | baseline batch ms p50 / p99 / max | **ratio** | baseline + journal req/s | ratio to it |");
    sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    foreach (var r in rows)
    {
        var load = r.Load;
        var secs = load.Seconds;
        sb.Append("| ").Append(load.Scenario)
          .Append(" | ").Append(load.Batches.Batches > 0 ? F(load.Batches.AverageSize, 1) : "n/a")
          .Append(" | ").Append(BatchPercentiles(load.BatchDurations))
          .Append(" | ").Append(load.Batches.Batches > 0 ? F(100 * load.Batches.BusyMs / (secs * 1000), 0) + " %" : "n/a");
        if (r.Baseline is { } b)
        {
            sb.Append(" | ").Append(F(b.RequestsPerSecond, 0)).Append(" (").Append(b.BatchSize.ToString(CultureInfo.InvariantCulture)).Append(')')
              .Append(" | ").Append(F(b.Cpu.TotalMilliseconds * 1000 / Math.Max(1, b.Requests), 1))
              .Append(" | ").Append(BatchPercentiles(b.BatchDurations))
              .Append(" | **").Append(F(load.AcksPerSecond / b.RequestsPerSecond, 3)).Append("**");
        }
        else
        {
            sb.Append(" | – | – | – | –");
        }

        if (r.JournalBaseline is { } j)
        {
            sb.Append(" | ").Append(F(j.RequestsPerSecond, 0)).Append(" | ").Append(F(load.AcksPerSecond / j.RequestsPerSecond, 3));
        }
        else
        {
            sb.Append(" | – | –");
        }

        sb.AppendLine(" |");
    }

    sb.AppendLine();
    sb.Append("Measured ").Append(options.Count > 0 ? options.Count.ToString(CultureInfo.InvariantCulture) + " acks" : F(options.Seconds, 0) + " s")
      .Append(" per scenario after ").Append(F(options.Warmup, 0)).Append(" s warm-up. CPU columns are CPU time ÷ wall time in cores (")
      .Append(Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)).Append(" here); other = the rest of the machine (/proc/stat) in the same window. ")
      .Append("Batch ms = the writer's \"Committed N writes in X ms\" log (BEGIN … COMMIT and completion). ")
      .AppendLine("Baseline µs/req = baseline CPU time per request on one thread; ratio = server acks/s ÷ baseline req/s.");
    foreach (var r in rows)
    {
        if (r.Load.Scenario == new Scenario(8, 16))
        {
            var load = r.Load;
            var met = load.AcksPerSecond >= 15_000 && load.Latency.P99 <= 20 && load.TotalErrors == 0;
            sb.AppendLine()
              .Append("Floor at 8×16 (≥ 15,000 acks/s, p99 ≤ 20 ms): **").Append(met ? "met" : "not met").Append("** (")
              .Append(F(load.AcksPerSecond, 0)).Append(" acks/s, p99 ").Append(F(load.Latency.P99, 2)).AppendLine(" ms).");
        }
    }

    return sb.ToString();
}

static string BatchPercentiles(double[] sorted)
{
    if (sorted.Length == 0)
    {
        return "n/a";
    }

    double Pct(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    return F(Pct(0.5), 1) + " / " + F(Pct(0.99), 1) + " / " + F(sorted[^1], 1);
}

static string F(double value, int decimals) => value.ToString("N" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

static string LoadAverage()
{
    try
    {
        var parts = File.ReadAllText("/proc/loadavg").Split(' ');
        return parts.Length >= 3 ? string.Join(' ', parts[..3]) : "?";
    }
    catch (IOException)
    {
        return "?";
    }
}

static string FindRepoRoot()
{
    foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
    {
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Mkio.sln")))
            {
                return d.FullName;
            }
        }
    }

    return Directory.GetCurrentDirectory();
}

/// <summary>One scenario's load result with the baselines measured right after it.</summary>
internal sealed record ScenarioResult(LoadResult Load, BaselineResult? Baseline, BaselineResult? JournalBaseline, string LoadBefore, string LoadAfter);
