using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Mkio.TestUtilities;

namespace Mkio.Browser.Tests.Support;

/// <summary>
/// A <c>node</c> process started in the repository root with its stdout/stderr captured: wait for a
/// stdout line or for the exit, always within a bound; disposing kills the whole process tree.
/// </summary>
internal sealed partial class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private static readonly Lazy<int> MajorVersion = new(ReadMajorVersion);

    private NodeProcess(Process process)
    {
        _process = process;
    }

    /// <summary>Everything the process wrote to stdout so far.</summary>
    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Everything the process wrote to stderr so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Stdout and stderr, for failure messages.</summary>
    public string Output => $"--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";

    /// <summary>
    /// Starts <c>node <paramref name="args"/></c> in the repository root. <c>NODE_OPTIONS</c> gets
    /// <c>--experimental-websocket</c> on Node 20/21 (where the global WebSocket is behind that flag;
    /// Node 22+ has it by default), so that the tests and their <c>node --test</c> subprocesses use
    /// the platform WebSocket as a browser would.
    /// </summary>
    public static NodeProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = Fixtures.RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("NODE_TEST_CONTEXT"); // not a child of another node --test run
        if (MajorVersion.Value is 20 or 21)
        {
            var existing = psi.Environment.TryGetValue("NODE_OPTIONS", out var v) ? v : null;
            psi.Environment["NODE_OPTIONS"] = string.IsNullOrWhiteSpace(existing) ? "--experimental-websocket" : existing + " --experimental-websocket";
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var node = new NodeProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                node._lines.Writer.TryComplete();
                return;
            }

            lock (node._stdout)
            {
                node._stdout.AppendLine(e.Data);
            }

            node._lines.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (node._stderr)
                {
                    node._stderr.AppendLine(e.Data);
                }
            }
        };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            Assert.Fail($"Cannot start 'node' ({ex.Message}). The JS client tests need Node.js 20+ on PATH: apt-get install nodejs (scripts/test.sh installs it).");
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>Waits until stdout has a line equal to <paramref name="line"/>; fails with the output on timeout or exit.</summary>
    public async Task WaitForLineAsync(string line, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await foreach (var l in _lines.Reader.ReadAllAsync(cts.Token))
            {
                if (l.Trim() == line)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"node printed no '{line}' line within {timeout.TotalSeconds} s.\n{Output}");
        }

        await WaitForExitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        Assert.Fail($"node exited with code {_process.ExitCode} before printing '{line}'.\n{Output}");
    }

    /// <summary>Waits for the exit (and the end of its output); kills the process and fails on timeout.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill();
            Assert.Fail($"node did not exit within {timeout.TotalSeconds} s (killed).\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>The <c># pass N</c> / <c># fail N</c> / … counters of a TAP report (or <c>ℹ pass N</c> of the spec reporter).</summary>
    public static IReadOnlyDictionary<string, int> TestCounts(string output)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in CounterLine().Matches(output))
        {
            counts[m.Groups[1].Value] = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }

        return counts;
    }

    [GeneratedRegex(@"^(?:#|ℹ)\s*(tests|suites|pass|fail|cancelled|skipped|todo)\s+(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex CounterLine();

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (Win32Exception)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private static int ReadMajorVersion()
    {
        var psi = new ProcessStartInfo("node", "--version")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        try
        {
            using var p = Process.Start(psi)!;
            var text = p.StandardOutput.ReadToEnd().Trim();
            if (!p.WaitForExit(30_000))
            {
                p.Kill(entireProcessTree: true);
                return 0;
            }

            var m = Regex.Match(text, @"^v(\d+)\.");
            return m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        }
        catch (Win32Exception)
        {
            return 0; // Start() reports the missing node with guidance
        }
    }
}
