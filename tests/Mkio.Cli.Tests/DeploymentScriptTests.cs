using System.Diagnostics;
using System.Text;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// The two walkthrough scripts a user's steps are checked by (issue 15): <c>scripts/check-getting-started.sh</c> follows
/// docs/getting-started.md from <c>dotnet pack</c> to a new web app on the packed packages, the packed CLI, the .NET client,
/// OpenTelemetry (console traces, Prometheus <c>/metrics</c>) and a published app; <c>scripts/check-publish.sh</c> checks
/// docs/deployment.md (both publish variants, health check, online backup, systemd unit). Real processes, real NuGet
/// restores from the machine's default source, loopback ports only. The two tests run one after the other (both build
/// src/ in Release), beside the other fixtures.
/// </summary>
[Parallelizable(ParallelScope.Self)]
public sealed class DeploymentScriptTests
{
    [Test, CancelAfter(1_500_000)]
    public async Task GettingStartedWalkthrough_RunsToTheEnd(CancellationToken ct)
    {
        var (code, output) = await RunScriptAsync("check-getting-started.sh", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.Zero, output);
            Assert.That(output, Does.Contain("/metrics and the console exporter show mkio's metrics and spans"), output);
            Assert.That(output, Does.Contain("getting-started check: OK"), output);
        }
    }

    [Test, CancelAfter(1_500_000)]
    public async Task PublishRecipes_RunToTheEnd(CancellationToken ct)
    {
        var (code, output) = await RunScriptAsync("check-publish.sh", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.Zero, output);
            Assert.That(output, Does.Contain("publish check: OK"), output);
        }
    }

    private static async Task<(int Code, string Output)> RunScriptAsync(string script, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("bash")
        {
            WorkingDirectory = Fixtures.RepoRoot,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add(Path.Combine("scripts", script));
        // The test host's MSBuild/VSTest variables would steer the scripts' own dotnet commands.
        foreach (var name in psi.Environment.Keys.Where(k =>
                     k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) ||
                     k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(name);
        }

        psi.Environment.Remove("ASPNETCORE_URLS");
        psi.Environment.Remove("DOTNET_URLS");
        var output = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        process.WaitForExit(); // drains the redirected streams
        lock (output)
        {
            return (process.ExitCode, output.ToString());
        }
    }
}
