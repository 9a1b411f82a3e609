using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;

namespace Mkio.Browser.Tests.Support;

/// <summary>
/// A <c>/usr/bin/python3 tests/python/scenarios.py</c> process (Debian's Python with Debian's
/// <c>python3-aiohttp</c>) started in the repository root with stdout/stderr captured. Scenarios print
/// one JSON object per line with a <c>step</c> key; wait for a step or for the exit, always within a
/// bound; disposing kills the whole process tree.
/// </summary>
internal sealed class PythonProcess : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/python3";

    private static readonly Lazy<string?> Missing = new(FindMissingPackage);

    private readonly CapturedProcess _process;

    private PythonProcess(CapturedProcess process)
    {
        _process = process;
    }

    /// <summary>Everything the process wrote to stdout so far.</summary>
    public string Stdout => _process.Stdout;

    /// <summary>Stdout and stderr, for failure messages.</summary>
    public string Output => _process.Output;

    /// <summary>
    /// Starts <c>/usr/bin/python3 tests/python/scenarios.py <paramref name="wsUrl"/> <paramref name="scenario"/></c>;
    /// fails with install guidance when Python or aiohttp is missing.
    /// </summary>
    public static PythonProcess StartScenario(Uri wsUrl, string scenario) => StartScript("scenarios.py", wsUrl.ToString(), scenario);

    /// <summary>
    /// Starts <c>/usr/bin/python3 tests/python/<paramref name="script"/> <paramref name="args"/></c> (a script printing
    /// JSON step lines); fails with install guidance when Python or aiohttp is missing.
    /// </summary>
    public static PythonProcess StartScript(string script, params string[] args)
    {
        RequireAiohttp();
        var psi = new ProcessStartInfo(ExecutablePath);
        psi.ArgumentList.Add(Path.Combine("tests", "python", script));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1"; // no __pycache__ in the source tree
        psi.Environment["PYTHONUNBUFFERED"] = "1";
        psi.Environment["PYTHONIOENCODING"] = "utf-8";
        return new PythonProcess(CapturedProcess.Start(psi, script, ex => $"Cannot start {ExecutablePath} ({ex.Message}).{InstallHint("python3-aiohttp")}"));
    }

    /// <summary>
    /// Waits for the stdout line whose JSON object has <c>"step": <paramref name="step"/></c> and returns
    /// that object; fails with the output on timeout or exit.
    /// </summary>
    public async Task<JsonElement> WaitForStepAsync(string step, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var line = await _process.WaitForLineAsync(l => TryParseStep(l, out var name, out _) && name == step, $"the '{step}' step", timeout, cancellationToken);
        return TryParseStep(line, out _, out var json) ? json : default;
    }

    /// <summary>Waits for the exit (and the end of its output); kills the process and fails on timeout.</summary>
    public Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _process.WaitForExitAsync(timeout, cancellationToken);

    /// <summary>
    /// Runs the scenario to its end: exit code 0 and a final <c>done</c> step, or fails with the output.
    /// Returns the observations by step name (each step is printed once).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, JsonElement>> WaitForObservationsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var exit = await WaitForExitAsync(timeout, cancellationToken);
        Assert.That(exit, Is.Zero, "scenarios.py exit code\n" + Output);
        var steps = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var line in Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Assert.That(TryParseStep(line, out var name, out var json), Is.True, $"not a JSON step line: {line}\n{Output}");
            Assert.That(steps.TryAdd(name, json), Is.True, $"step '{name}' printed twice\n{Output}");
        }

        Assert.That(steps.Keys.LastOrDefault(), Is.EqualTo("done"), "the last step\n" + Output);
        return steps;
    }

    private static bool TryParseStep(string line, out string name, out JsonElement json)
    {
        name = string.Empty;
        json = default;
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object ||
                !doc.RootElement.TryGetProperty("step", out var step) || step.ValueKind != JsonValueKind.String)
            {
                return false;
            }

            name = step.GetString()!;
            json = doc.RootElement.Clone();
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Fails the test, naming the Debian package to install, when Python 3 or aiohttp is missing.</summary>
    private static void RequireAiohttp()
    {
        if (Missing.Value is { } reason)
        {
            Assert.Fail(reason);
        }
    }

    private static string InstallHint(string package)
    {
        var ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        return $" The Python client tests run Debian's Python with Debian's aiohttp; install them with `apt-get install {package}` " +
               "(as root; scripts/test.sh installs it when missing)." + (ci ? " CI=true: the CI image must provide it." : string.Empty);
    }

    private static string? FindMissingPackage()
    {
        if (!File.Exists(ExecutablePath))
        {
            return $"Python 3 is not installed: {ExecutablePath} does not exist.{InstallHint("python3-aiohttp")}";
        }

        var psi = new ProcessStartInfo(ExecutablePath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("import aiohttp");
        try
        {
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(30_000))
            {
                p.Kill(entireProcessTree: true);
                return $"`{ExecutablePath} -c 'import aiohttp'` did not finish within 30 s.";
            }

            return p.ExitCode == 0
                ? null
                : $"The Python package aiohttp is missing: `{ExecutablePath} -c 'import aiohttp'` failed ({LastLine(stderr.Result)}).{InstallHint("python3-aiohttp")}";
        }
        catch (Win32Exception ex)
        {
            return $"Cannot start {ExecutablePath} ({ex.Message}).{InstallHint("python3-aiohttp")}";
        }
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? string.Empty;

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
