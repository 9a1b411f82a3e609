using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Mkio.Browser.Tests.Support;

/// <summary>Base of the browser test classes: one headless Chromium per class (see <see cref="Chromium"/>), 20 s expectations.</summary>
public abstract class ChromiumTests
{
    private IPlaywright? _playwright;

    /// <summary>The class's browser.</summary>
    protected IBrowser Browser { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task LaunchChromium()
    {
        (_playwright, Browser) = await Chromium.LaunchAsync();
        SetDefaultExpectTimeout(20_000);
    }

    [OneTimeTearDown]
    public async Task CloseChromium()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}
