using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// Real-process tests of terminal behaviour: the <c>send</c> progress bar under a pseudo-terminal (<c>script</c>), Ctrl+C (SIGINT)
/// for <c>subscribe</c> and <c>monitor</c> (CLI.md §6, §7), and the usage block for no or unknown commands or options (§1).
/// </summary>
[Parallelizable(ParallelScope.Children)]
public partial class CliTerminalTests
{
    [GeneratedRegex(@"^\[\d{2}:\d{2}:\d{2}\.\d{3}\] SNAPSHOT \((\d+) rows\)")]
    private static partial Regex SnapshotHeader();

    [GeneratedRegex(@"^---$")]
    private static partial Regex MonitorStarted();

    [GeneratedRegex(@"\u001b(\[[0-9;?]*[ -/]*[@-~]|\][^\u0007\u001b]*(\u0007|\u001b\\)|[@-Z\\-_])")]
    private static partial Regex AnsiEscape();

    private static string Base(MkioTestHost host) => host.BaseUri.ToString().TrimEnd('/');

    private static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static async Task<string> OrdersCsvAsync(TempDirectory dir, int n, CancellationToken ct)
    {
        var csv = new StringBuilder("side,symbol,qty,price\n");
        for (var i = 1; i <= n; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"Buy,S{i},{i},1.5\n");
        }

        var path = dir.File("orders.csv");
        await File.WriteAllTextAsync(path, csv.ToString(), ct);
        return path;
    }

    /// <summary>Runs <paramref name="command"/> under a pseudo-terminal (<c>script</c>); returns exit code, stdout, stderr.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunUnderTerminalAsync(TempDirectory dir, string command, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("script")
        {
            WorkingDirectory = dir.Path,
            ArgumentList = { "-qec", command, "/dev/null" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        psi.Environment["TERM"] = "xterm-256color";
        psi.Environment["COLUMNS"] = "120";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(psi)!;
        var stdoutTask = process.StandardOutput.ReadToEndAsync(ct);
        var stderrTask = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        var stdout = await stdoutTask;
        var stderr = await stderrTask;
        process.StandardInput.Close();
        return (process.ExitCode, stdout, stderr);
    }

    /// <summary>Sends SIGINT (as Ctrl+C does) to <paramref name="pid"/>.</summary>
    private static async Task InterruptAsync(int pid, CancellationToken ct)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-INT", pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        await kill.WaitForExitAsync(ct);
        Assert.That(kill.ExitCode, Is.Zero, "kill -INT failed");
    }

    // ------------------------------------------------------------------ send progress

    [Test, CancelAfter(120_000)]
    public async Task Send_OnTerminalWithManyMessages_ShowsProgressThenLinesInOrderAndSummary(CancellationToken ct)
    {
        const int n = 60;
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        var csv = await OrdersCsvAsync(dir, n, ct);
        var command = string.Join(' ', new[] { MkioProcess.DotnetHost, MkioProcess.MkioDll, "send", Base(host), "orders", "--op", "place", csv }.Select(ShellQuote));

        var (exitCode, raw, stderr) = await RunUnderTerminalAsync(dir, command, ct);

        var text = AnsiEscape().Replace(raw, string.Empty).Replace("\r", string.Empty, StringComparison.Ordinal);
        Assert.That(exitCode, Is.Zero, raw + "\n" + stderr);
        Assert.That(raw.Contains("\u001b[", StringComparison.Ordinal), Is.True, "a terminal gets ANSI output");
        Assert.That(text, Does.Contain($"Sending {n} messages"), "the progress bar was shown");
        Assert.That(text, Does.Contain($"Sent {n} messages: {n} ok, 0 failed."), raw);
        var lines = text.Split('\n');
        // Cursor movements of the cleared progress display may precede the first line; match the lines wherever they start.
        var okLines = lines.Select(l => Regex.Match(l, @"\[\d+/\d+\] ok ref=\d{8} .*$")).Where(m => m.Success).Select(m => m.Value).ToList();
        Assert.That(okLines, Has.Count.EqualTo(n), text);
        for (var i = 0; i < n; i++)
        {
            Assert.That(okLines[i], Does.StartWith($"[{i + 1}/{n}] ok ref="), "input order");
        }

        var summaryAt = Array.FindLastIndex(lines, l => l.StartsWith("Sent ", StringComparison.Ordinal));
        var lastOkAt = Array.FindLastIndex(lines, l => l.Contains($"[{n}/{n}] ok ", StringComparison.Ordinal));
        Assert.That(summaryAt, Is.GreaterThan(lastOkAt), "summary after the lines");
    }

    [Test, CancelAfter(120_000)]
    public async Task Send_OnTerminalWithFailingRows_SummaryListsFailedRowsAndExits1(CancellationToken ct)
    {
        const int n = 60;
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        var csv = new StringBuilder("op,side,symbol,qty,price\n");
        for (var i = 1; i <= n; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{(i is 3 or 7 ? "nope" : string.Empty)},Buy,S{i},{i},1.5\n");
        }

        var path = dir.File("orders.csv");
        await File.WriteAllTextAsync(path, csv.ToString(), ct);
        var command = string.Join(' ', new[] { MkioProcess.DotnetHost, MkioProcess.MkioDll, "send", Base(host), "orders", "--op", "place", path }.Select(ShellQuote));
        var (exitCode, raw, _) = await RunUnderTerminalAsync(dir, command, ct);

        var text = AnsiEscape().Replace(raw, string.Empty).Replace("\r", string.Empty, StringComparison.Ordinal);
        Assert.That(exitCode, Is.EqualTo(1), raw);
        Assert.That(text, Does.Contain($"Sent {n} messages: {n - 2} ok, 2 failed. Failed rows: 3, 7"), raw);
        Assert.That(text, Does.Contain($"[3/{n}] error: Unknown op: 'nope'"), raw);
    }

    [Test, CancelAfter(120_000)]
    public async Task Send_RedirectedWithManyMessages_PlainLinesOnly(CancellationToken ct)
    {
        const int n = 60;
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        var csv = await OrdersCsvAsync(dir, n, ct);
        await using var p = MkioProcess.Start(dir.Path, "send", Base(host), "orders", "--op", "place", csv);
        var code = await p.WaitForExitAsync(ct);
        Assert.That(code, Is.Zero, p.Output);
        var lines = p.Stdout.Split('\n');
        Assert.That(lines, Has.Length.EqualTo(n), "no progress, no summary when redirected");
        for (var i = 0; i < n; i++)
        {
            Assert.That(lines[i], Does.Match($@"^\[{i + 1}/{n}\] ok ref=\d{{8}} \d{{2}}:\d{{2}}:\d{{2}}\.\d{{12}}$"));
        }

        Assert.That(p.Stdout.Contains('\u001b', StringComparison.Ordinal), Is.False, "no ANSI codes when redirected");
    }

    // ------------------------------------------------------------------ Ctrl+C

    [Test, CancelAfter(90_000)]
    public Task Subscribe_CtrlC_PrintsStoppedAndExits0(CancellationToken ct) =>
        InterruptAfterAsync(["subscribe", "audit_feed"], SnapshotHeader(), "\n\nSubscription stopped.", ct);

    [Test, CancelAfter(90_000)]
    public Task Monitor_CtrlC_PrintsStoppedAndExits0(CancellationToken ct) =>
        InterruptAfterAsync(["monitor", "orders"], MonitorStarted(), "---\n\nMonitor stopped.", ct);

    /// <summary>
    /// Runs <c>mkio &lt;command&gt; &lt;url&gt; &lt;service&gt;</c> against fixture B until stdout matches <paramref name="ready"/>,
    /// sends SIGINT, and checks the exit: code 0, stdout ending with <paramref name="ending"/>, no stack trace.
    /// </summary>
    private static async Task InterruptAfterAsync(string[] commandAndService, Regex ready, string ending, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureB, ct);
        using var dir = new TempDirectory();
        await using var p = MkioProcess.StartInterruptible(dir.Path, commandAndService[0], Base(host), commandAndService[1]);
        await p.WaitForStdoutAsync(ready, ct);
        await InterruptAsync(p.Id, ct);
        var code = await p.WaitForExitAsync(ct);
        Assert.That(code, Is.Zero, p.Output);
        Assert.That(p.Stdout, Does.EndWith(ending), p.Output);
        Assert.That(p.Output, Does.Not.Contain("   at "), "no stack trace");
    }

    // ------------------------------------------------------------------ usage

    [TestCase("")]
    [TestCase("frobnicate")]
    [TestCase("frobnicate x --y")]
    [TestCase("--bogus")]
    [TestCase("-x")]
    [TestCase("--bogus serve")]
    [TestCase("--")]
    [CancelAfter(60_000)]
    public async Task NoOrUnknownCommand_PrintsUsageBlockAndExits1(string commandLine, CancellationToken ct)
    {
        // The reference takes the first argument as the command: an unknown option in its place is an unknown command (CLI.md §1).
        var args = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, args);
        var code = await p.WaitForExitAsync(ct);
        Assert.That(code, Is.EqualTo(1), p.Output);
        Assert.That(p.Stderr, Is.Empty, "no parser error");
        Assert.That(p.Stdout, Does.Not.Contain("Unrecognized").And.Not.Contain("Required command"));
        var lines = p.Stdout.Split('\n');
        Assert.That(lines[0], Is.EqualTo("Usage:"));
        var synopses = lines.Skip(1).Where(l => l.StartsWith("  mkio ", StringComparison.Ordinal)).Select(l => l.Length > 35 && l[33..35] == "  " ? l[..35].TrimEnd() : l).ToList();
        Assert.That(synopses, Is.EqualTo(new[]
        {
            "  mkio serve [mkio.toml]",
            "  mkio dbupdate [config] [--allow-risky] [--allow-destructive] [--dry-run]",
            "  mkio services <url> [service]",
            "  mkio monitor <url> <service>",
            "  mkio send <url> <service> [--op <name>] <data>",
            "  mkio subscribe <url> <service> [--filter <expr>] [--ref <ver>]",
            "  mkio subpub <url> <service> [--subid <id>] [--fields <a,b>]",
            "  mkio stream <url> <service> [--filter <expr>] [--ref <ref>]",
            "  mkio query <url> <service> [--filter <expr>] [--snapshotOnly]",
            "  mkio reqrep <url> <service> [json | key=value ...]",
            "  mkio schema <url> <table>",
            "  mkio check <url> [version=... protocol=... mkio=...]",
            "  mkio init [dir] [--no-static]",
            "  mkio adduser <user> <role> [config]",
            "  mkio hashpass",
        }));
        foreach (var line in lines.Skip(1).Where(l => l.StartsWith("  mkio ", StringComparison.Ordinal) && l.Length <= 33 + 2))
        {
            Assert.Fail($"synopsis without description: {line}");
        }

        var send = Array.IndexOf(lines, "  mkio send <url> <service> [--op <name>] <data>");
        Assert.That(lines[send + 1], Does.Match("^ {35}[^ ]"), "long synopses have their description on a continuation line at character 36");
        var services = lines.Single(l => l.StartsWith("  mkio services ", StringComparison.Ordinal));
        Assert.That(services[..35].TrimEnd(), Is.EqualTo("  mkio services <url> [service]"));
        Assert.That(services[35], Is.Not.EqualTo(' '), "description at character 36");
    }

    [TestCase("--help")]
    [TestCase("-h")]
    [TestCase("-?")]
    [TestCase("/?")]
    [CancelAfter(60_000)]
    public async Task Help_KeepsParserHelpAndExits0(string option, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, option);
        var code = await p.WaitForExitAsync(ct);
        Assert.That(code, Is.Zero, p.Output);
        Assert.That(p.Stdout, Does.Contain("Commands:").And.Contain("dbupdate").And.Contain("subscribe"));
        Assert.That(p.Stdout, Does.Not.StartWith("Usage:\n  mkio serve"));
        Assert.That(p.Stderr, Is.Empty);
    }

    [TestCase("send", "  mkio send <url> <service> [--op <name>] <data> [--verbose]", "--op <name>")]
    [TestCase("subscribe", "  mkio subscribe <url> <service> [--filter <expr>] [--ref <ref>] [--verbose]", "--filter <expr>", "--ref <ref>")]
    [TestCase("monitor", "  mkio monitor <url> <service> [--verbose]")]
    [TestCase("services", "  mkio services <url> [service] [--verbose]")]
    [TestCase("reqrep", "  mkio reqrep <url> <service> [json | key=value ...] [--verbose]")]
    [TestCase("subpub", "  mkio subpub <url> <service> [<topic>...] [--subid <id>] [--fields <a,b>] [--verbose]", "--subid <id>", "--fields <a,b>")]
    [TestCase("stream", "  mkio stream <url> <service> [--subid <id>] [--fields <a,b>] [--filter <expr>] [--ref <ref>] [--maxcount <n>] [--before] [--verbose]", "--subid <id>", "--fields <a,b>", "--filter <expr>", "--ref <ref>", "--maxcount <n>", "--before")]
    [TestCase("query", "  mkio query <url> <service> [--subid <id>] [--fields <a,b>] [--filter <expr>] [--snapshotOnly | --updateOnly] [--verbose]", "--subid <id>", "--fields <a,b>", "--filter <expr>", "--snapshotOnly", "--updateOnly")]
    [TestCase("check", "  mkio check <url> [version=<v>] [protocol=<v>] [mkio=<v>] [--verbose]")]
    [CancelAfter(60_000)]
    public async Task CommandHelp_ShowsTheRealSynopsisArgumentsAndOptions(string command, string synopsis, params string[] options)
    {
        // These commands parse their own arguments (the reference's rules): their help names them, not a catch-all "[<args>...]".
        var ct = TestContext.CurrentContext.CancellationToken;
        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, command, "--help");
        var code = await p.WaitForExitAsync(ct);
        var lines = p.Stdout.Split('\n');
        var usage = Array.IndexOf(lines, "Usage:");
        var optionRows = lines.SkipWhile(l => l != "Options:").Skip(1).TakeWhile(l => l.Length > 0).Select(l => l.Trim()).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.Zero, p.Output);
            Assert.That(p.Stderr, Is.Empty);
            Assert.That(lines[0], Is.EqualTo("Description:"));
            Assert.That(usage, Is.GreaterThan(0));
            Assert.That(lines[usage + 1], Is.EqualTo(synopsis));
            Assert.That(p.Stdout, Does.Not.Contain("<args>"));
            Assert.That(lines, Does.Contain("  <url>      The server: a port (8080), host:port or http://host:port."));
            Assert.That(optionRows.Select(r => r.Split("  ")[0]), Is.EqualTo(options.Append("--verbose").Append("-?, -h, --help")));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Version_PrintsVersionAndExits0(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var p = MkioProcess.Start(dir.Path, "--version");
        var code = await p.WaitForExitAsync(ct);
        Assert.That(code, Is.Zero, p.Output);
        Assert.That(p.Stdout, Does.Match(@"^\d+\.\d+\.\d+\S*$"));
        Assert.That(p.Stderr, Is.Empty);
    }
}
