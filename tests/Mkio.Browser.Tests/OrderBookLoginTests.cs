using Microsoft.Playwright;
using Mkio.Browser.Tests.Support;
using Mkio.TestUtilities;
using static Microsoft.Playwright.Assertions;

namespace Mkio.Browser.Tests;

/// <summary>
/// The order-book sample's opt-in login (<c>OrderBook:Auth=true</c>: OrderBookAuth.cs, static/login.js) in
/// headless Chromium against the real sample process: the page stays empty behind a login form, the server
/// refuses anonymous subscriptions, a wrong password shows the refusal, the demo user sees and places orders.
/// Without the switch the page connects at once with no form.
/// </summary>
public sealed class OrderBookLoginTests : ChromiumTests
{
    private readonly List<string> _errors = [];

    private async Task<IPage> OpenAsync(string baseUrl)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        page.PageError += (_, message) => _errors.Add(message);
        page.Response += (_, r) =>
        {
            if (r.Status >= 400 && !r.Url.EndsWith("/favicon.ico", StringComparison.Ordinal)) // the sample has no icon
            {
                _errors.Add($"{r.Status} {r.Url}");
            }
        };
        await page.GotoAsync(baseUrl);
        return page;
    }

    [Test, CancelAfter(180_000)]
    public async Task LoginOn_FormFirst_WrongPasswordRefused_DemoUserSeesAndPlacesOrders(CancellationToken ct)
    {
        using var app = Fixtures.CopyOfOrderBookSample();
        var (sample, baseUrl) = await OrderBookSample.StartAsync(app, ct, "--OrderBook:Auth=true");
        await using var _ = sample;
        Assert.That(sample.Stdout, Does.Contain("demo user trader / trader"), "the sample prints the demo credentials");

        var page = await OpenAsync(baseUrl);
        await using var __ = page.Context;
        var p = new OrderBookPage(page, "page");

        // Before the login: the form, no page, no connection, no orders.
        await Expect(page.GetByTestId("login-form")).ToBeVisibleAsync();
        await Expect(p.State).ToHaveTextAsync("logged out");
        await Expect(page.GetByTestId("order-form")).ToBeHiddenAsync();
        await Expect(p.Orders).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("login-error")).ToBeHiddenAsync();

        // The server, not just the page, refuses an anonymous subscription.
        var nack = await page.EvaluateAsync<string>("""
            async () => {
              const c = new MkioClient("ws://" + location.host + "/ws");
              await c.connect();
              const m = await new Promise((resolve) => c.subscribe("all_orders", { onNack: (x) => resolve(x.message), onSnapshot: () => resolve("served") }));
              c.close();
              return m;
            }
            """);
        Assert.That(nack, Is.EqualTo("authentication required"));

        // A wrong password: the refusal, still no page.
        await page.GetByTestId("login-user").FillAsync("trader");
        await page.GetByTestId("login-password").FillAsync("wrong");
        await page.GetByTestId("login-submit").ClickAsync();
        await Expect(page.GetByTestId("login-error")).ToHaveTextAsync("login refused: invalid credentials");
        await Expect(page.GetByTestId("login-form")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("order-form")).ToBeHiddenAsync();
        await Expect(page.GetByTestId("login-password")).ToHaveValueAsync(string.Empty);

        // The demo user: the page, the orders, and placing one works.
        await page.GetByTestId("login-password").FillAsync("trader");
        await page.GetByTestId("login-submit").ClickAsync();
        await Expect(p.State).ToHaveTextAsync("connected");
        await Expect(page.GetByTestId("login-panel")).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("user")).ToHaveTextAsync("trader");
        await Expect(page.GetByTestId("order-form")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("orders-empty")).ToBeVisibleAsync();

        await p.PlaceAsync("Buy", "aapl", 100, "150.25");
        await p.ExpectOrderAsync(1, "Buy", "AAPL", "100", "150.25", "pending");
        await Expect(p.AuditEvents).ToHaveTextAsync(["new"]);
        await p.ActAsync(1, "accept");
        await p.ExpectStatusAsync(1, "accepted");
        await Expect(p.Error).ToBeHiddenAsync();
        Assert.That(_errors, Is.Empty, "the page reported errors");
    }

    [Test, CancelAfter(180_000)]
    public async Task LoginOff_ByDefault_PageConnectsWithoutForm(CancellationToken ct)
    {
        using var app = Fixtures.CopyOfOrderBookSample();
        var (sample, baseUrl) = await OrderBookSample.StartAsync(app, ct);
        await using var _ = sample;

        var page = await OpenAsync(baseUrl);
        await using var __ = page.Context;
        var p = new OrderBookPage(page, "page");
        await Expect(p.State).ToHaveTextAsync("connected");
        await Expect(page.GetByTestId("login-panel")).ToHaveCountAsync(0);
        await p.PlaceAsync("Sell", "MSFT", 5, "20");
        await p.ExpectOrderAsync(1, "Sell", "MSFT", "5", "20.00", "pending");
        Assert.That(await page.EvaluateAsync<bool>("() => typeof window.orderBookLogin === 'undefined'"), Is.True);
        Assert.That(_errors, Is.Empty, "the page reported errors");
    }
}
