using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Mkio.Cli.Tests;

/// <summary>
/// A real <c>mkio</c> process (<c>dotnet mkio.dll …</c>, the Mkio.Cli build copied next to the test
/// assembly) with stdin closed and stdout/stderr captured line by line. Disposing kills it if it is
/// still running.
/// </summary>
internal sealed class MkioProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly SemaphoreSlim _lineArrived = new(0);

    private MkioProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The Mkio.Cli entry assembly next to the tests (the project reference copies it).</summary>
    public static string MkioDll
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "mkio.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("mkio.dll is not next to the test assembly; is Mkio.Cli referenced?", path);
        }
    }

    /// <summary>The <c>dotnet</c> host running these tests (so the child uses the same runtime).</summary>
    public static string DotnetHost
    {
        get
        {
            if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
            {
                return host;
            }

            var self = Environment.ProcessPath;
            return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        }
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Stdout => string.Join('\n', _stdout);

    public string Stderr => string.Join('\n', _stderr);

    /// <summary>stdout and stderr, for messages that may go to either.</summary>
    public string Output => Stdout + "\n" + Stderr;

    public IReadOnlyList<string> StderrLines => [.. _stderr];

    public static MkioProcess Start(string workingDirectory, params string[] args) => Start(workingDirectory, defaultSigint: false, args);

    /// <summary>Like <see cref="Start(string, string[])"/> with extra environment variables (a null value removes one).</summary>
    public static MkioProcess StartWithEnvironment(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        Start(workingDirectory, defaultSigint: false, args, environment: environment);

    /// <summary>Runs another .NET app (<c>dotnet <paramref name="dll"/> …</c>) the same way, e.g. the order-book sample.</summary>
    public static MkioProcess StartApp(string workingDirectory, string dll, params string[] args) => Start(workingDirectory, defaultSigint: false, args, dll);

    /// <summary>
    /// Like <see cref="Start(string, string[])"/>, with SIGINT's default disposition restored for the child
    /// (<c>env --default-signal=INT</c>, which then execs it: the same pid). A test run started from a
    /// non-interactive shell's background job inherits SIGINT ignored, and .NET (rightly) leaves an
    /// inherited ignored SIGINT alone — so a Ctrl+C test must not depend on how the runner was started.
    /// </summary>
    public static MkioProcess StartInterruptible(string workingDirectory, params string[] args) => Start(workingDirectory, defaultSigint: true, args);

    private static MkioProcess Start(string workingDirectory, bool defaultSigint, string[] args, string? dll = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var psi = new ProcessStartInfo(defaultSigint ? "env" : DotnetHost)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (defaultSigint)
        {
            psi.ArgumentList.Add("--default-signal=INT");
            psi.ArgumentList.Add(DotnetHost);
        }

        psi.ArgumentList.Add(dll ?? MkioDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("ASPNETCORE_URLS");
        psi.Environment.Remove("DOTNET_URLS");
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment.Remove("MKIO_PASSWORD");
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            psi.Environment[name] = value;
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var p = new MkioProcess(process);
        process.OutputDataReceived += (_, e) => p.Add(p._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => p.Add(p._stderr, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return p;
    }

    private void Add(ConcurrentQueue<string> queue, string? line)
    {
        if (line is null)
        {
            return;
        }

        queue.Enqueue(line);
        _lineArrived.Release();
    }

    /// <summary>Waits for a stdout line matching <paramref name="pattern"/> (fails if the process exits first).</summary>
    public async Task<Match> WaitForStdoutAsync(Regex pattern, CancellationToken ct)
    {
        while (true)
        {
            foreach (var line in _stdout)
            {
                var m = pattern.Match(line);
                if (m.Success)
                {
                    return m;
                }
            }

            if (_process.HasExited)
            {
                // Let the last output events arrive, then look once more.
                await _process.WaitForExitAsync(ct);
                foreach (var line in _stdout)
                {
                    var m = pattern.Match(line);
                    if (m.Success)
                    {
                        return m;
                    }
                }

                throw new InvalidOperationException($"mkio exited ({_process.ExitCode}) before printing /{pattern}/.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var exited = _process.WaitForExitAsync(cts.Token);
            await Task.WhenAny(_lineArrived.WaitAsync(cts.Token), exited);
            await cts.CancelAsync();
            if (ct.IsCancellationRequested)
            {
                // Without this the loop would spin: both waits complete at once as cancelled.
                throw new OperationCanceledException($"mkio did not print /{pattern}/ in time.\nstdout:\n{Stdout}\nstderr:\n{Stderr}", ct);
            }
        }
    }

    /// <summary>Waits for the exit (bounded by <paramref name="ct"/>) and returns the exit code, with all output read.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken ct)
    {
        await _process.WaitForExitAsync(ct);
        return _process.ExitCode;
    }

    /// <summary>Kills the process at once (SIGKILL, as <c>kill -9</c>) and waits for it to end.</summary>
    public async Task KillAsync(CancellationToken ct)
    {
        _process.Kill();
        await _process.WaitForExitAsync(ct);
    }

    /// <summary>Sends SIGTERM, as a process supervisor does.</summary>
    public async Task TerminateAsync(CancellationToken ct)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        await kill.WaitForExitAsync(ct);
        Assert.That(kill.ExitCode, Is.Zero, "kill -TERM failed");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(cts.Token);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
        }
        finally
        {
            _process.Dispose();
            _lineArrived.Dispose();
        }
    }
}
