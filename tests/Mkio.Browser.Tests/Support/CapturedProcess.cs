using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Mkio.TestUtilities;

namespace Mkio.Browser.Tests.Support;

/// <summary>
/// A child process (node, python) started in the repository root with stdin closed and stdout/stderr
/// captured line by line: wait for a stdout line or for the exit, always within a bound; disposing kills
/// the whole process tree. <see cref="NodeProcess"/> and <see cref="PythonProcess"/> build on it.
/// </summary>
internal sealed class CapturedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _name;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();

    private CapturedProcess(Process process, string name)
    {
        _process = process;
        _name = name;
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
    /// Starts <paramref name="psi"/> (its file name and arguments; this sets the working directory, the
    /// redirections and UTF-8). <paramref name="name"/> names the process in failure messages;
    /// <paramref name="cannotStart"/> is the guidance when it cannot be started at all.
    /// </summary>
    public static CapturedProcess Start(ProcessStartInfo psi, string name, Func<Win32Exception, string> cannotStart)
    {
        psi.WorkingDirectory = Fixtures.RepoRoot;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        psi.UseShellExecute = false;
        psi.StandardOutputEncoding = Encoding.UTF8;
        psi.StandardErrorEncoding = Encoding.UTF8;

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var captured = new CapturedProcess(process, name);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                captured._lines.Writer.TryComplete();
                return;
            }

            lock (captured._stdout)
            {
                captured._stdout.AppendLine(e.Data);
            }

            captured._lines.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (captured._stderr)
                {
                    captured._stderr.AppendLine(e.Data);
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
            Assert.Fail(cannotStart(ex));
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return captured;
    }

    /// <summary>
    /// Waits for the next stdout line (not seen by an earlier wait) matching <paramref name="match"/> and returns it;
    /// fails with the output on timeout or when the process exits first. <paramref name="what"/> describes the line.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await foreach (var line in _lines.Reader.ReadAllAsync(cts.Token))
            {
                if (match(line))
                {
                    return line;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"{_name} printed no {what} within {timeout.TotalSeconds} s.\n{Output}");
        }

        await WaitForExitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        Assert.Fail($"{_name} exited with code {_process.ExitCode} before printing {what}.\n{Output}");
        return string.Empty;
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
            Assert.Fail($"{_name} did not exit within {timeout.TotalSeconds} s (killed).\n{Output}");
        }

        return _process.ExitCode;
    }

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
}
