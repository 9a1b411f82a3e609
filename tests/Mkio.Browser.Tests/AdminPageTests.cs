using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Mkio.Browser.Tests.Support;
using Mkio.TestUtilities;
using static Microsoft.Playwright.Assertions;

namespace Mkio.Browser.Tests;

/// <summary>
/// The live admin page (<c>app.MapMkioAdmin("/mkio/admin")</c>) in headless Chromium against the real
/// order-book sample: its build output copied to a temp folder and run as <c>dotnet OrderBook.dll</c>.
/// The page answers without a login, lists the services, taps a monitor, sends a transaction through
/// its form and shows the counts and charts change.
/// </summary>
public sealed class AdminPageTests : ChromiumTests
{
    /// <summary>
    /// Sends orders through the form, sees the services table, totals, monitor tap and charts change,
    /// and saves a screenshot: docs/admin-page.png is written when missing or when
    /// <c>MKIO_UPDATE_SCREENSHOT=1</c>; it is always attached to the test result.
    /// </summary>
    [Test, CancelAfter(180_000)]
    public async Task AdminPage_OfTheRealSample_ListsServices_SendsThroughTheForm_CountsChange(CancellationToken ct)
    {
        using var app = Fixtures.CopyOfOrderBookSample();
        var (sample, baseUrl) = await OrderBookSample.StartAsync(app, ct);
        await using var _ = sample;

        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await using var __ = context;
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, message) => errors.Add(message);
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                errors.Add(m.Text);
            }
        };

        var response = await page.GotoAsync(baseUrl + "mkio/admin");
        Assert.That(response?.Status, Is.EqualTo(200), "the sample's admin page answers without a login");
        Assert.That(page.Url, Is.EqualTo(baseUrl + "mkio/admin/"));

        var rows = page.GetByTestId("service-row");
        ILocator Row(string service) => page.Locator($"[data-testid='service-row'][data-service='{service}']");
        await Expect(rows).ToHaveCountAsync(6); // mkio.toml's four and OrderHistory.cs's two
        await Expect(page.GetByTestId("services-body").GetByTestId("svc-name")).ToHaveTextAsync(["orders", "last_trade", "audit_feed", "all_orders", "order_versions", "order_history"]);
        await Expect(Row("orders").GetByTestId("svc-type")).ToHaveTextAsync("transaction");
        await Expect(Row("audit_feed").GetByTestId("svc-rows")).ToHaveTextAsync("0");
        await Expect(Row("all_orders").GetByTestId("svc-changelog")).ToHaveTextAsync("0 / 10,000");
        await Expect(page.GetByTestId("total-committed")).ToHaveTextAsync("0");
        await Expect(page.GetByTestId("status")).ToContainTextAsync("running");

        // Tap the transaction service's monitor.
        await page.GetByTestId("monitor-service").SelectOptionAsync("orders");
        await page.GetByTestId("monitor-toggle").ClickAsync();
        await Expect(page.GetByTestId("monitor-state")).ToHaveTextAsync("tapping orders");
        await Expect(Row("orders").GetByTestId("svc-monitors")).ToHaveTextAsync("1");

        // The form is built from the discovery document: service, op and the op's fields.
        await Expect(page.GetByTestId("send-service")).ToHaveValueAsync("orders");
        await page.GetByTestId("send-op").SelectOptionAsync("new");
        (string Side, string Symbol, string Qty, string Price)[] orders =
        [
            ("Buy", "AAPL", "100", "189.5"),
            ("Sell", "MSFT", "40", "415.2"),
            ("Buy", "NVDA", "25", "121.75"),
        ];
        var sent = 0;
        foreach (var (side, symbol, qty, price) in orders)
        {
            await page.GetByTestId("field-side").FillAsync(side);
            await page.GetByTestId("field-symbol").FillAsync(symbol);
            await page.GetByTestId("field-qty").FillAsync(qty);
            await page.GetByTestId("field-price").FillAsync(price);
            await Expect(page.GetByTestId("send-message")).ToHaveValueAsync(new Regex($"\"symbol\": \"{symbol}\""));
            await page.GetByTestId("send-button").ClickAsync();
            sent++;
            await Expect(page.GetByTestId("send-result")).ToContainTextAsync("\"ok\":true");
            await Expect(page.GetByTestId("total-committed")).ToHaveTextAsync(sent.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        await Expect(Row("audit_feed").GetByTestId("svc-rows")).ToHaveTextAsync("3");
        await Expect(Row("all_orders").GetByTestId("svc-changelog")).ToHaveTextAsync("3 / 10,000");
        await Expect(page.GetByTestId("monitor-item")).ToHaveCountAsync(6); // in + out per order
        await Expect(page.GetByTestId("monitor-item").First).ToContainTextAsync("\"ok\":true");
        await Expect(page.GetByTestId("chart-tx")).ToHaveAttributeAsync("data-total", "3");

        // An invalid message is answered with the protocol's error, shown as such.
        await page.GetByTestId("field-side").FillAsync(string.Empty);
        await page.GetByTestId("send-button").ClickAsync();
        await Expect(page.GetByTestId("send-result")).ToHaveClassAsync(new Regex(@"\bbad\b"));
        await Expect(page.GetByTestId("send-result")).ToContainTextAsync("Missing field: 'side'");
        await Expect(page.GetByTestId("total-failed")).ToHaveTextAsync("0"); // refused before the writer: not a failed transaction
        await page.GetByTestId("field-side").FillAsync("Buy");
        await page.GetByTestId("send-button").ClickAsync();
        await Expect(page.GetByTestId("send-result")).ToContainTextAsync("\"ok\":true");
        await Expect(page.GetByTestId("total-committed")).ToHaveTextAsync("4");
        await Expect(page.GetByTestId("chart-tx")).ToHaveAttributeAsync("data-total", "4");

        await page.EvaluateAsync("() => document.activeElement && document.activeElement.blur()");
        var file = Path.Combine(TestContext.CurrentContext.WorkDirectory, "admin-page.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = file, Type = ScreenshotType.Png, FullPage = true });
        TestContext.AddTestAttachment(file, "the admin page");
        var docs = Path.Combine(Fixtures.RepoRoot, "docs", "admin-page.png");
        if (!File.Exists(docs) || Environment.GetEnvironmentVariable("MKIO_UPDATE_SCREENSHOT") == "1")
        {
            File.Copy(file, docs, overwrite: true);
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(new FileInfo(docs).Length, Is.InRange(1_000, 600_000), "docs/admin-page.png should be a small PNG");
            Assert.That(errors, Is.Empty, "the page reported errors");
        }
    }
}
