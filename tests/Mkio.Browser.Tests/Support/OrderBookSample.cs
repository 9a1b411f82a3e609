using System.Diagnostics;
using System.Text.RegularExpressions;
using Mkio.TestUtilities;

namespace Mkio.Browser.Tests.Support;

/// <summary>The real order-book sample as a process: <c>dotnet OrderBook.dll</c> from a copy of its build output, on a free loopback port.</summary>
internal static partial class OrderBookSample
{
    [GeneratedRegex(@"mkio is listening on (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex ListeningLine();

    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";

    /// <summary>
    /// Starts the sample in <paramref name="app"/> (<see cref="Fixtures.CopyOfOrderBookSample"/>) with
    /// <paramref name="args"/> after <c>--urls</c>, and waits for its listening line: the process and its base URL.
    /// </summary>
    public static async Task<(CapturedProcess Process, string BaseUrl)> StartAsync(TempDirectory app, CancellationToken ct, params string[] args)
    {
        var psi = new ProcessStartInfo(DotnetHost);
        foreach (var a in new[] { Path.Combine(app.Path, "OrderBook.dll"), "--urls", "http://127.0.0.1:0" }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        var sample = CapturedProcess.Start(psi, "the order-book sample", ex => $"dotnet could not be started: {ex.Message}");
        try
        {
            var line = await sample.WaitForLineAsync(l => ListeningLine().IsMatch(l), "listening line", TimeSpan.FromSeconds(60), ct);
            return (sample, ListeningLine().Match(line).Groups[1].Value);
        }
        catch
        {
            await sample.DisposeAsync();
            throw;
        }
    }
}
