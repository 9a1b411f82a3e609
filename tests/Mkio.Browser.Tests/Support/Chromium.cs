using Microsoft.Playwright;

namespace Mkio.Browser.Tests.Support;

/// <summary>
/// Playwright driving the system's Chromium by executable path (Debian's <c>chromium</c> package):
/// Playwright's own browser download is not used, only its driver, which ships in the NuGet package.
/// </summary>
internal static class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private static readonly string[] Args =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    /// <summary>Starts the Playwright driver and a headless Chromium; fails with install guidance when Chromium is missing.</summary>
    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            var ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
            Assert.Fail(
                $"Chromium is not installed: {ExecutablePath} does not exist. The browser tests drive Debian's Chromium; " +
                "install it with `apt-get install chromium` (as root; scripts/test.sh installs it when missing)." +
                (ci ? " CI=true: the CI image must provide it." : string.Empty));
        }

        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                Args = Args,
                Timeout = 60_000,
            });
            return (playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }
}
