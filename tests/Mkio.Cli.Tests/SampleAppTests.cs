using System.Text.RegularExpressions;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// The order-book sample (samples/OrderBook) as a user runs its build output (issue 9, items 10 and
/// 11): <c>dotnet OrderBook.dll --urls …</c> from another working directory finds its mkio.toml and
/// static folder, logs a clickable URL; without its config it exits 1 with one stderr line.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed partial class SampleAppTests
{
    [GeneratedRegex(@"mkio is listening on (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex ListeningLine();

    [Test, CancelAfter(120_000)]
    public async Task Sample_FromAnotherDirectory_FindsConfigAndStatic_LogsClickableUrl(CancellationToken ct)
    {
        using var app = Fixtures.CopyOfOrderBookSample();
        using var elsewhere = new TempDirectory();
        await using var p = MkioProcess.StartApp(elsewhere.Path, Path.Combine(app.Path, "OrderBook.dll"), "--urls", "http://127.0.0.1:0");
        var url = (await p.WaitForStdoutAsync(ListeningLine(), ct)).Groups[1].Value;
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
        var page = await http.GetStringAsync(new Uri("/", UriKind.Relative), ct);
        var services = await http.GetStringAsync(new Uri("api/services", UriKind.Relative), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(page, Does.Contain("<html").IgnoreCase, "static/index.html found next to the app");
            Assert.That(services, Does.Contain("\"orders\""));
            Assert.That(p.Stdout, Does.Contain($"mkio started: database {app.File("orders.db")} (created, journal position 0)"));
            Assert.That(File.Exists(app.File("orders.db")), Is.True, "db_path resolves against the content root (the app's folder)");
            Assert.That(Directory.GetFiles(elsewhere.Path), Is.Empty, "nothing is written to the working directory");
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task Sample_WithoutItsConfig_Exits1WithOneStderrLineNamingIt(CancellationToken ct)
    {
        using var app = Fixtures.CopyOfOrderBookSample();
        File.Delete(app.File("mkio.toml"));
        using var elsewhere = new TempDirectory();
        await using var p = MkioProcess.StartApp(elsewhere.Path, Path.Combine(app.Path, "OrderBook.dll"), "--urls", "http://127.0.0.1:0");
        var code = await p.WaitForExitAsync(ct);
        var lines = p.StderrLines.Where(l => l.Length > 0).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(lines, Has.Count.EqualTo(1), p.Stderr);
            Assert.That(lines.FirstOrDefault(), Does.Contain($"Config file not found: {app.File("mkio.toml")}"));
            Assert.That(p.Output, Does.Not.Contain("   at "), "no stack trace");
            Assert.That(p.Output, Does.Not.Contain("Unhandled exception"));
        }
    }
}
