using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Mkio.LoadTool;

/// <summary>Writer batches seen in the server's debug log: how many, how many requests, how long the writer was busy.</summary>
internal readonly record struct BatchStats(long Batches, long Requests, double BusyMs)
{
    public static BatchStats operator -(BatchStats a, BatchStats b) => new(a.Batches - b.Batches, a.Requests - b.Requests, a.BusyMs - b.BusyMs);

    public double AverageSize => Batches == 0 ? 0 : (double)Requests / Batches;
}

/// <summary>
/// A real <c>mkio serve</c> process on a temporary copy of the order-book config (database and
/// static folder in a temp directory, port 0). Its stdout is read continuously: the banner gives
/// the port, and the writer's "Committed N writes in X ms." debug lines give batch sizes.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private const string Banner = "======== Running on http://";
    private readonly Process _process;
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private readonly Queue<string> _lastErrors = new();
    private long _batches;
    private long _requests;
    private double _busyMs;
    private readonly List<double> _durations = [];

    private ServerProcess(Process process, string directory)
    {
        _process = process;
        Directory = directory;
    }

    /// <summary>The temp directory holding the config copy, the database and the static folder.</summary>
    public string Directory { get; }

    public int Port { get; private set; }

    public int Id => _process.Id;

    /// <summary>CPU time (user + system) the server has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public BatchStats Batches
    {
        get
        {
            lock (_lock)
            {
                return new BatchStats(_batches, _requests, _busyMs);
            }
        }
    }

    /// <summary>Keep <see cref="Directory"/> (the database) on dispose, for a restart on it.</summary>
    public bool KeepDirectory { get; set; }

    /// <param name="directory">An earlier server's kept directory to start on (a restart), or null for a new one.</param>
    public static async Task<ServerProcess> StartAsync(string serverDll, string sourceConfig, IReadOnlyDictionary<string, string> overrides, bool batchLog, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken, string? directory = null)
    {
        var dir = directory ?? Path.Combine(Path.GetTempPath(), "mkio-load-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "static"));
        var config = PrepareConfig(await File.ReadAllTextAsync(sourceConfig, cancellationToken), dir, overrides);
        var configPath = Path.Combine(dir, "mkio.toml");
        await File.WriteAllTextAsync(configPath, config, cancellationToken);

        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in new[] { serverDll, "serve", configPath, "--host", "127.0.0.1", "--port", "0" })
        {
            psi.ArgumentList.Add(a);
        }

        if (batchLog)
        {
            // Category-specific rule from configuration beats the CLI's Warning minimum.
            psi.Environment["Logging__LogLevel__Mkio.Writer"] = "Debug";
        }

        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start 'dotnet'.");
        var server = new ServerProcess(process, dir);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data, error: false);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data, error: true);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var exited = process.WaitForExitAsync(timeout.Token);
        var first = await Task.WhenAny(server._port.Task, exited);
        if (first != server._port.Task)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException("The server did not print its banner. Last stderr lines:" + Environment.NewLine + server.LastErrors());
        }

        server.Port = await server._port.Task;
        return server;
    }

    /// <summary>Points <c>db_path</c> and the <c>[static]</c> folder of the config into <paramref name="dir"/>.</summary>
    internal static string PrepareConfig(string toml, string dir, IReadOnlyDictionary<string, string> overrides)
    {
        var sb = new StringBuilder();
        var inStatic = false;
        var inTable = false;
        var sawDb = false;
        var pending = new Dictionary<string, string>(overrides, StringComparer.Ordinal);
        foreach (var raw in toml.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var t = line.Trim();
            if (t.StartsWith('['))
            {
                inStatic = t == "[static]";
                if (!inTable)
                {
                    // Keys not present at the top level go just before the first table.
                    foreach (var (k, v) in pending)
                    {
                        sb.Append(k).Append(" = ").Append(v).Append('\n');
                    }

                    pending.Clear();
                }

                inTable = true;
            }

            var eqAt = t.IndexOf('=', StringComparison.Ordinal);
            if (!inTable && eqAt > 0 && overrides.TryGetValue(t[..eqAt].Trim(), out var value))
            {
                sb.Append(t[..eqAt].Trim()).Append(" = ").Append(value).Append('\n');
                pending.Remove(t[..eqAt].Trim());
                continue;
            }

            if (!inTable && t.StartsWith("db_path", StringComparison.Ordinal) && t.Contains('=', StringComparison.Ordinal) && overrides.ContainsKey("postgres"))
            {
                sawDb = true; // --set postgres=…: the tables live in PostgreSQL, db_path must go
                continue;
            }

            if (!inTable && t.StartsWith("db_path", StringComparison.Ordinal) && t.Contains('=', StringComparison.Ordinal))
            {
                sb.Append("db_path = ").Append(TomlString(Path.Combine(dir, "orders.db"))).Append('\n');
                sawDb = true;
                continue;
            }

            if (inStatic && t.Length > 0 && !t.StartsWith('[') && !t.StartsWith('#') && t.Contains('=', StringComparison.Ordinal))
            {
                var key = t[..t.IndexOf('=', StringComparison.Ordinal)].Trim();
                sb.Append(key).Append(" = ").Append(TomlString(Path.Combine(dir, "static"))).Append('\n');
                continue;
            }

            sb.Append(line).Append('\n');
        }

        if (!sawDb)
        {
            throw new InvalidOperationException("The config has no top-level db_path line to redirect.");
        }

        return sb.ToString();
    }

    private static string TomlString(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private void OnLine(string? line, bool error)
    {
        if (line is null)
        {
            return;
        }

        if (!error && line.StartsWith(Banner, StringComparison.Ordinal))
        {
            var rest = line.AsSpan(Banner.Length);
            var colon = rest.LastIndexOf(':');
            var end = rest.IndexOf(' ');
            if (colon >= 0 && end > colon && int.TryParse(rest[(colon + 1)..end], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                _port.TrySetResult(port);
            }

            return;
        }

        // "dbug: Mkio.Writer[2101] Committed 37 writes in 1.234 ms."
        var at = line.IndexOf("Committed ", StringComparison.Ordinal);
        if (at >= 0 && TryParseBatch(line.AsSpan(at + "Committed ".Length), out var size, out var ms))
        {
            lock (_lock)
            {
                _batches++;
                _requests += size;
                _busyMs += ms;
                _durations.Add(ms);
            }

            return;
        }

        if (error || line.Contains("fail", StringComparison.Ordinal) || line.Contains("warn", StringComparison.Ordinal))
        {
            lock (_lock)
            {
                _lastErrors.Enqueue(line);
                while (_lastErrors.Count > 20)
                {
                    _lastErrors.Dequeue();
                }
            }
        }
    }

    private static bool TryParseBatch(ReadOnlySpan<char> s, out int size, out double ms)
    {
        ms = 0;
        var space = s.IndexOf(' ');
        if (space <= 0 || !int.TryParse(s[..space], NumberStyles.None, CultureInfo.InvariantCulture, out size))
        {
            size = 0;
            return false;
        }

        s = s[(space + 1)..];
        const string mid = "writes in ";
        if (!s.StartsWith(mid, StringComparison.Ordinal))
        {
            return false;
        }

        s = s[mid.Length..];
        var end = s.IndexOf(' ');
        return end > 0 && double.TryParse(s[..end], NumberStyles.Float, CultureInfo.InvariantCulture, out ms);
    }

    /// <summary>Durations (ms) of the batches logged since batch number <paramref name="from"/>.</summary>
    public double[] BatchDurations(long from)
    {
        lock (_lock)
        {
            var start = (int)Math.Clamp(from, 0, _durations.Count);
            return [.. _durations.Skip(start)];
        }
    }

    public string LastErrors()
    {
        lock (_lock)
        {
            return string.Join(Environment.NewLine, _lastErrors);
        }
    }

    /// <summary>SIGTERM (a clean shutdown), then a hard kill after 15 s; deletes the temp directory.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                using (var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false }))
                {
                    if (kill is not null)
                    {
                        await kill.WaitForExitAsync();
                    }
                }

                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                try
                {
                    await _process.WaitForExitAsync(wait.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
            }
        }
        finally
        {
            _process.Dispose();
            try
            {
                if (!KeepDirectory)
                {
                    System.IO.Directory.Delete(Directory, recursive: true);
                }
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }
}
