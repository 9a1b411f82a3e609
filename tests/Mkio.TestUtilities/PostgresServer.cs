using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Mkio.TestUtilities;

/// <summary>
/// A real PostgreSQL server for tests: <c>initdb</c> into a temp folder, <c>pg_ctl</c> on a free
/// 127.0.0.1 port. PostgreSQL refuses to run as root, so under root every server command runs as
/// the unprivileged <c>postgres</c> user that Debian's package creates. Missing binaries are a
/// failure, never a skip (<c>scripts/test.sh</c> installs the package).
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly SemaphoreSlim SharedGate = new(1, 1);
    private static PostgresServer? _shared;
    private static int _databases;
    private readonly string _binDir;
    private readonly string? _runAs;
    private readonly string _logFile;

    private PostgresServer(string binDir, string? runAs, string root, int port)
    {
        _binDir = binDir;
        _runAs = runAs;
        Root = root;
        Port = port;
        _logFile = Path.Combine(root, "server.log");
    }

    /// <summary>The temp folder holding the data directory, the socket and the server log.</summary>
    public string Root { get; }

    /// <summary>The data directory.</summary>
    public string DataDirectory => Path.Combine(Root, "data");

    /// <summary>The loopback port the server listens on (kept across <see cref="RestartAsync"/>).</summary>
    public int Port { get; }

    /// <summary>Whether the server is running (as far as this object started or stopped it).</summary>
    public bool IsRunning { get; private set; }

    /// <summary>A connection string for the <c>postgres</c> maintenance database.</summary>
    public string AdminConnectionString => ConnectionString("postgres");

    /// <summary>
    /// The server shared by every test in this process (started once; stopped when the process
    /// exits). Tests that stop or restart a server must use <see cref="StartNewAsync"/> instead.
    /// </summary>
    public static async Task<PostgresServer> SharedAsync()
    {
        await SharedGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_shared is null)
            {
                var server = await StartNewAsync().ConfigureAwait(false);
                AppDomain.CurrentDomain.ProcessExit += (_, _) => server.StopAndDeleteAsync().GetAwaiter().GetResult();
                _shared = server;
            }

            return _shared;
        }
        finally
        {
            SharedGate.Release();
        }
    }

    /// <summary>Creates a fresh data directory and starts a private server on a free port.</summary>
    public static async Task<PostgresServer> StartNewAsync(CancellationToken cancellationToken = default)
    {
        var binDir = FindBinDirectory();
        SweepStaleFolders();
        var runAs = IsRoot() ? "postgres" : null;
        var root = Path.Combine(Path.GetTempPath(), "mkio-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        if (runAs is not null)
        {
            await RunAsync("chown", [runAs, root], null, cancellationToken).ConfigureAwait(false);
        }

        var server = new PostgresServer(binDir, runAs, root, FreePort());
        await server.RunServerToolAsync("initdb", ["-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], cancellationToken).ConfigureAwait(false);
        await server.StartAsync(cancellationToken).ConfigureAwait(false);
        return server;
    }

    /// <summary>Creates a new, empty database and returns its Npgsql connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string? name = null, CancellationToken cancellationToken = default)
    {
        name ??= "mkio_test_" + Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture) + "_" + Guid.NewGuid().ToString("N")[..8];
        if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"Database name '{name}' must be letters, digits and underscores.", nameof(name));
        }

        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return ConnectionString(name);
    }

    /// <summary>A connection string for <paramref name="database"/> on this server (no pooling, so a restart leaves no dead connections behind).</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = database,
        Pooling = false,
        Timeout = 15,
    }.ConnectionString;

    /// <summary>Starts the server on <see cref="Port"/> (the data directory must exist).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var options = string.Create(CultureInfo.InvariantCulture, $"-p {Port} -c listen_addresses=127.0.0.1 -k {Root}");
        await RunServerToolAsync("pg_ctl", ["start", "-w", "-t", "60", "-D", DataDirectory, "-l", _logFile, "-o", options], cancellationToken).ConfigureAwait(false);
        IsRunning = true;
    }

    /// <summary>Stops the server: a fast shutdown, or with <paramref name="immediate"/> an abort that skips the shutdown checkpoint (a crash, as far as PostgreSQL can tell).</summary>
    public async Task StopAsync(bool immediate = false, CancellationToken cancellationToken = default)
    {
        if (!IsRunning)
        {
            return;
        }

        IsRunning = false;
        await RunServerToolAsync("pg_ctl", ["stop", "-w", "-t", "60", "-D", DataDirectory, "-m", immediate ? "immediate" : "fast"], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops and starts the server again on the same port and data directory.</summary>
    public async Task RestartAsync(bool immediate = false, CancellationToken cancellationToken = default)
    {
        await StopAsync(immediate, cancellationToken).ConfigureAwait(false);
        await StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The server's log so far (for failure messages).</summary>
    public string Log() => File.Exists(_logFile) ? File.ReadAllText(_logFile) : "";

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!ReferenceEquals(this, _shared))
        {
            await StopAndDeleteAsync().ConfigureAwait(false);
        }
    }

    private async Task StopAndDeleteAsync()
    {
        await StopAsync(immediate: true).ConfigureAwait(false);
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }

    /// <summary>Removes servers' folders left by test processes that were killed before they cleaned up (no running server, older than ten minutes).</summary>
    private static void SweepStaleFolders()
    {
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), "mkio-pg-*"))
        {
            try
            {
                if (!File.Exists(Path.Combine(dir, "data", "postmaster.pid")) && Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow.AddMinutes(-10))
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
            catch (IOException)
            {
                // Another process may be using or removing it.
            }
            catch (UnauthorizedAccessException)
            {
                // Same.
            }
        }
    }

    private static bool IsRoot()
    {
        try
        {
            return File.ReadAllLines("/proc/self/status").Any(l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1) == "0");
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string FindBinDirectory()
    {
        const string debian = "/usr/lib/postgresql";
        if (Directory.Exists(debian))
        {
            var newest = Directory.GetDirectories(debian)
                .Where(d => File.Exists(Path.Combine(d, "bin", "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0)
                .FirstOrDefault();
            if (newest is not null)
            {
                return Path.Combine(newest, "bin");
            }
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException(
            "PostgreSQL server programs (initdb, pg_ctl) were not found under /usr/lib/postgresql/<version>/bin or on PATH. "
            + "Install Debian's 'postgresql' package (scripts/test.sh does this on a fresh machine).");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Task RunServerToolAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var path = Path.Combine(_binDir, tool);
        return _runAs is null
            ? RunAsync(path, arguments, this, cancellationToken)
            : RunAsync("runuser", ["-u", _runAs, "--", path, .. arguments], this, cancellationToken);
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, PostgresServer? server, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{Path.GetFileName(file)} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await stdout.ConfigureAwait(false)}\n{await stderr.ConfigureAwait(false)}\n{server?.Log()}");
        }
    }
}
