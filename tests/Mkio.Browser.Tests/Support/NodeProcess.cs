using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Mkio.Browser.Tests.Support;

/// <summary>
/// A <c>node</c> process started in the repository root with its stdout/stderr captured: wait for a
/// stdout line or for the exit, always within a bound; disposing kills the whole process tree.
/// </summary>
internal sealed partial class NodeProcess : IAsyncDisposable
{
    private static readonly Lazy<int> MajorVersion = new(ReadMajorVersion);
    private readonly CapturedProcess _process;

    private NodeProcess(CapturedProcess process)
    {
        _process = process;
    }

    /// <summary>Everything the process wrote to stdout so far.</summary>
    public string Stdout => _process.Stdout;

    /// <summary>Stdout and stderr, for failure messages.</summary>
    public string Output => _process.Output;

    /// <summary>
    /// Starts <c>node <paramref name="args"/></c> in the repository root. <c>NODE_OPTIONS</c> gets
    /// <c>--experimental-websocket</c> on Node 20/21 (where the global WebSocket is behind that flag;
    /// Node 22+ has it by default), so that the tests and their <c>node --test</c> subprocesses use
    /// the platform WebSocket as a browser would.
    /// </summary>
    public static NodeProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("node");
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

        return new NodeProcess(CapturedProcess.Start(
            psi,
            "node",
            ex => $"Cannot start 'node' ({ex.Message}). The JS client tests need Node.js 20+ on PATH: apt-get install nodejs (scripts/test.sh installs it)."));
    }

    /// <summary>Waits until stdout has a line equal to <paramref name="line"/>; fails with the output on timeout or exit.</summary>
    public Task WaitForLineAsync(string line, TimeSpan timeout, CancellationToken cancellationToken) =>
        _process.WaitForLineAsync(l => l.Trim() == line, $"a '{line}' line", timeout, cancellationToken);

    /// <summary>Waits for the exit (and the end of its output); kills the process and fails on timeout.</summary>
    public Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _process.WaitForExitAsync(timeout, cancellationToken);

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

    public ValueTask DisposeAsync() => _process.DisposeAsync();

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
