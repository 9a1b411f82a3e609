using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Mkio.Browser.Tests.Support;
using Mkio.TestUtilities;
using NUnit.Framework.Interfaces;
using static Microsoft.Playwright.Assertions;

namespace Mkio.Browser.Tests;

/// <summary>
/// The order-book page (samples/OrderBook/static) in headless Chromium against the sample's config
/// (samples/OrderBook/mkio.toml, CONFIG.md §8) on a real server with a SQLite file: live updates
/// across two pages, the accept → fill and cancel / reject flows, last trades, the audit feed,
/// error display, and recovery after a server restart.
/// </summary>
public class OrderBookPageTests : ChromiumTests
{
    private static readonly Regex TimeOfDay = new(@"^\d{2}:\d{2}:\d{2}\.\d{3}$");

    private readonly List<IBrowserContext> _contexts = [];
    private readonly List<OrderBookPage> _pages = [];
    private readonly List<string> _pageErrors = [];
    private readonly List<string> _subscribeReplies = [];

    [TearDown]
    public async Task ClosePages()
    {
        var failed = TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed;
        foreach (var p in _pages)
        {
            if (failed)
            {
                try
                {
                    var file = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"{TestContext.CurrentContext.Test.Name}-{p.Name}.png");
                    await p.Page.ScreenshotAsync(new PageScreenshotOptions { Path = file, FullPage = true, Timeout = 10_000 });
                    TestContext.AddTestAttachment(file, p.Name);
                }
                catch (PlaywrightException)
                {
                }
            }
        }

        foreach (var c in _contexts)
        {
            await c.CloseAsync();
        }

        _contexts.Clear();
        _pages.Clear();
        // Which recovery path each (re)subscribe took: snapshot or delta, per page and service.
        lock (_subscribeReplies)
        {
            TestContext.Out.WriteLine(string.Join('\n', _subscribeReplies));
            _subscribeReplies.Clear();
        }
        var errors = _pageErrors.ToArray();
        _pageErrors.Clear();
        if (!failed && errors.Length > 0)
        {
            Assert.Fail("The page reported errors:\n" + string.Join('\n', errors));
        }
    }

    /// <summary>A temp folder holding a copy of samples/OrderBook/static, where the config's <c>[static] "/" = "./static"</c> resolves.</summary>
    private static TempDirectory NewSite()
    {
        var dir = new TempDirectory();
        var source = Path.Combine(Fixtures.RepoRoot, "samples", "OrderBook", "static");
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(dir.File("static"), Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        return dir;
    }

    /// <summary>The sample as its Program.cs configures it: mkio.toml plus the code-first versioning of OrderHistory.cs.</summary>
    private static Task<MkioTestHost> StartSampleAsync(TempDirectory site, CancellationToken ct) =>
        MkioTestHost.StartAsync(OrderBook.OrderHistory.Configure, ct, directory: site, tomlPath: Fixtures.OrderBookToml);

    /// <summary>Opens the page in a fresh browser context (its own WebSocket) and waits until it is connected.</summary>
    private async Task<OrderBookPage> OpenAsync(Uri baseUri, string name, int height = 800)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = height } });
        _contexts.Add(context);
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        page.PageError += (_, message) => _pageErrors.Add($"{name}: {message}");
        page.Console += (_, m) =>
        {
            if (m.Type == "error" && m.Text.StartsWith("mkio:", StringComparison.Ordinal))
            {
                _pageErrors.Add($"{name}: {m.Text}");
            }
        };
        page.WebSocket += (_, ws) => ws.FrameReceived += (_, frame) =>
        {
            var text = frame.Text ?? System.Text.Encoding.UTF8.GetString(frame.Binary ?? []);
            if (text.StartsWith("{\"type\":\"snapshot\"", StringComparison.Ordinal) || text.StartsWith("{\"type\":\"delta\"", StringComparison.Ordinal))
            {
                lock (_subscribeReplies)
                {
                    _subscribeReplies.Add($"{name}: {text[..Math.Min(text.Length, 160)]}");
                }
            }
        };
        var p = new OrderBookPage(page, name);
        _pages.Add(p);
        await page.GotoAsync(baseUri.ToString());
        await Expect(p.State).ToHaveTextAsync("connected");
        return p;
    }

    private async Task<OrderBookPage[]> OpenTwoAsync(Uri baseUri) =>
        [await OpenAsync(baseUri, "page1"), await OpenAsync(baseUri, "page2")];

    [Test, CancelAfter(120_000)]
    public async Task PlaceOrder_InOnePage_AppearsLiveInBoth(CancellationToken ct)
    {
        using var site = NewSite();
        await using var host = await StartSampleAsync(site, ct);
        var pages = await OpenTwoAsync(host.BaseUri);
        var (p1, p2) = (pages[0], pages[1]);
        foreach (var p in pages)
        {
            await Expect(p.Orders).ToHaveCountAsync(0);
            await Expect(p.Page.GetByTestId("orders-empty")).ToBeVisibleAsync();
            await Expect(p.Page.GetByTestId("trades-empty")).ToBeVisibleAsync();
        }

        await p1.PlaceAsync("Buy", "aapl", 100, "150.25");
        foreach (var p in pages)
        {
            await p.ExpectOrderAsync(1, "Buy", "AAPL", "100", "150.25", "pending");
            await p.ExpectButtonsAsync(1, "accept", "reject", "cancel");
            await Expect(p.Orders).ToHaveCountAsync(1);
            await Expect(p.OrderCount).ToHaveTextAsync("1");
            await Expect(p.Page.GetByTestId("orders-empty")).ToBeHiddenAsync();
            await Expect(p.AuditEvents).ToHaveTextAsync(["new"]);
            await Expect(p.AuditItems.GetByTestId("audit-order")).ToHaveTextAsync(["order #1"]);
            await Expect(p.AuditItems.GetByTestId("audit-status")).ToHaveTextAsync(["→ pending"]);
        }

        await p2.PlaceAsync("Sell", "MSFT", 5, "20");
        foreach (var p in pages)
        {
            await p.ExpectOrderAsync(2, "Sell", "MSFT", "5", "20.00", "pending");
            await Expect(p.OrderIds).ToHaveTextAsync(["2", "1"]); // newest first
            await Expect(p.AuditEvents).ToHaveTextAsync(["new", "new"]);
            await Expect(p.Error).ToBeHiddenAsync();
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task AcceptThenFill_UpdatesBothPages_LastTradeAndAuditFeed(CancellationToken ct)
    {
        using var site = NewSite();
        await using var host = await StartSampleAsync(site, ct);
        var pages = await OpenTwoAsync(host.BaseUri);
        var (p1, p2) = (pages[0], pages[1]);

        await p1.PlaceAsync("Sell", "MSFT", 40, "415.2");
        foreach (var p in pages)
        {
            await p.ExpectOrderAsync(1, "Sell", "MSFT", "40", "415.20", "pending");
        }

        await p2.ActAsync(1, "accept");
        foreach (var p in pages)
        {
            await p.ExpectStatusAsync(1, "accepted");
            await p.ExpectButtonsAsync(1, "fill", "cancel");
        }

        await p1.ActAsync(1, "fill");
        foreach (var p in pages)
        {
            await p.ExpectStatusAsync(1, "filled");
            await p.ExpectButtonsAsync(1);
            await Expect(p.Trades).ToHaveCountAsync(1);
            await Expect(p.Trade("MSFT").GetByTestId("trade-price")).ToHaveTextAsync("-415.20"); // negative for sells
            await Expect(p.Trade("MSFT").GetByTestId("trade-time")).ToHaveTextAsync(TimeOfDay);
            await Expect(p.AuditEvents).ToHaveTextAsync(["filled", "accepted", "new"]);
            await Expect(p.AuditItems.GetByTestId("audit-order")).ToHaveTextAsync(["order #1", "order #1", "order #1"]);
        }

        // A buy fill shows a positive price; a later fill of the same symbol replaces its last trade.
        await p2.PlaceAsync("Buy", "MSFT", 10, "410.5");
        foreach (var p in pages)
        {
            await p.ExpectOrderAsync(2, "Buy", "MSFT", "10", "410.50", "pending");
        }

        await p1.ActAsync(2, "accept");
        await p2.ExpectStatusAsync(2, "accepted");
        await p2.ActAsync(2, "fill");
        foreach (var p in pages)
        {
            await p.ExpectStatusAsync(2, "filled");
            await Expect(p.Trades).ToHaveCountAsync(1);
            await Expect(p.Trade("MSFT").GetByTestId("trade-price")).ToHaveTextAsync("410.50");
            await Expect(p.AuditEvents).ToHaveTextAsync(["filled", "accepted", "new", "filled", "accepted", "new"]);
            await Expect(p.Error).ToBeHiddenAsync();
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task CancelAndReject_PendingAndAcceptedOrders_BothPagesShowFinalStatus(CancellationToken ct)
    {
        using var site = NewSite();
        await using var host = await StartSampleAsync(site, ct);
        var pages = await OpenTwoAsync(host.BaseUri);
        var (p1, p2) = (pages[0], pages[1]);

        await p1.PlaceAsync("Buy", "NVDA", 25, "121.75");
        await p2.ExpectOrderAsync(1, "Buy", "NVDA", "25", "121.75", "pending");
        await p2.PlaceAsync("Sell", "TSLA", 10, "248");
        await p1.ExpectOrderAsync(2, "Sell", "TSLA", "10", "248.00", "pending");
        await p1.PlaceAsync("Buy", "AMZN", 60, "186.3");
        await p2.ExpectOrderAsync(3, "Buy", "AMZN", "60", "186.30", "pending");

        await p2.ActAsync(1, "cancel"); // pending -> cancelled
        foreach (var p in pages)
        {
            await p.ExpectStatusAsync(1, "cancelled");
            await p.ExpectButtonsAsync(1);
        }

        await p1.ActAsync(2, "accept");
        await p2.ExpectStatusAsync(2, "accepted");
        await p2.ActAsync(2, "cancel"); // accepted -> cancelled
        foreach (var p in pages)
        {
            await p.ExpectStatusAsync(2, "cancelled");
            await p.ExpectButtonsAsync(2);
        }

        await p1.ActAsync(3, "reject"); // pending -> rejected
        foreach (var p in pages)
        {
            await p.ExpectStatusAsync(3, "rejected");
            await p.ExpectButtonsAsync(3);
            await Expect(p.Orders).ToHaveCountAsync(3);
            await Expect(p.Trades).ToHaveCountAsync(0);
            await Expect(p.Page.GetByTestId("trades-empty")).ToBeVisibleAsync();
            await Expect(p.AuditEvents).ToHaveTextAsync(["rejected", "cancelled", "accepted", "cancelled", "new", "new", "new"]);
            await Expect(p.AuditItems.GetByTestId("audit-order")).ToHaveTextAsync(["order #3", "order #2", "order #2", "order #1", "order #3", "order #2", "order #1"]);
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task ErrorReply_IsShownAndDismissable(CancellationToken ct)
    {
        using var site = NewSite();
        await using var host = await StartSampleAsync(site, ct);
        var p = await OpenAsync(host.BaseUri, "page1");
        await Expect(p.Error).ToBeHiddenAsync();

        // The page's send helper is what the buttons and the form use: an `error` reply is displayed.
        var reply = await p.Page.EvaluateAsync<JsonElement>("() => window.orderBook.send('explode', {id: 1})");
        Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("error"));
        await Expect(p.Error).ToBeVisibleAsync();
        await Expect(p.ErrorMessage).ToHaveTextAsync("Unknown op: 'explode'. Available ops: new, accept, reject, fill, cancel");

        await p.Page.GetByTestId("error-dismiss").ClickAsync();
        await Expect(p.Error).ToBeHiddenAsync();

        // A successful order clears an earlier error.
        await p.Page.EvaluateAsync("() => window.orderBook.send('explode', {})");
        await Expect(p.Error).ToBeVisibleAsync();
        await p.PlaceAsync("Buy", "IBM", 1, "1");
        await p.ExpectOrderAsync(1, "Buy", "IBM", "1", "1.00", "pending");
        await Expect(p.Error).ToBeHiddenAsync();
    }

    [Test, CancelAfter(180_000)]
    public async Task ServerRestart_SamePortAndFile_PagesReconnectAndMissNoUpdate(CancellationToken ct)
    {
        using var site = NewSite();
        var port = FixedPortHost.FreePort();
        var host = await FixedPortHost.StartAsync(port, site, OrderBook.OrderHistory.Configure, Fixtures.OrderBookToml, ct);
        try
        {
            var pages = await OpenTwoAsync(host.BaseUri);
            var (p1, p2) = (pages[0], pages[1]);

            // Before the restart every subscription gets a cursor: a filled order (a last trade), an accepted one.
            await p1.PlaceAsync("Buy", "AAPL", 100, "150.25");
            await p2.ExpectOrderAsync(1, "Buy", "AAPL", "100", "150.25", "pending");
            await p2.ActAsync(1, "accept");
            await p1.ExpectStatusAsync(1, "accepted");
            await p1.ActAsync(1, "fill");
            await p2.ExpectStatusAsync(1, "filled");
            await p2.PlaceAsync("Sell", "MSFT", 5, "20");
            await p1.ExpectOrderAsync(2, "Sell", "MSFT", "5", "20.00", "pending");
            await p1.ActAsync(2, "accept");
            foreach (var p in pages)
            {
                await p.ExpectStatusAsync(2, "accepted");
                await Expect(p.Trade("AAPL").GetByTestId("trade-price")).ToHaveTextAsync("150.25");
                await Expect(p.AuditEvents).ToHaveTextAsync(["accepted", "new", "filled", "accepted", "new"]);
            }

            await host.DisposeAsync();
            foreach (var p in pages)
            {
                await Expect(p.State).ToHaveTextAsync("reconnecting");
            }

            // While the server is down a send is refused at once, and the page says so.
            await p1.PlaceAsync("Buy", "DOWN", 1, "1");
            await Expect(p1.ErrorMessage).ToHaveTextAsync("not connected");

            host = await FixedPortHost.StartAsync(port, site, OrderBook.OrderHistory.Configure, Fixtures.OrderBookToml, ct);

            // Right after the restart, before or while the pages resubscribe with their last refs:
            // an update of a row they have (which also makes a new last trade) and a new order.
            await using (var ws = await host.ConnectAsync(ct))
            {
                var fill = await ws.RequestAsync("""{"service":"orders","op":"fill","data":{"id":2}}""", ct);
                Assert.That(fill.GetProperty("type").GetString(), Is.EqualTo("result"), fill.ToString());
                var order = await ws.RequestAsync("""{"service":"orders","op":"new","data":{"side":"Sell","symbol":"TSLA","qty":3,"price":9.5}}""", ct);
                Assert.That(order.GetProperty("type").GetString(), Is.EqualTo("result"), order.ToString());
            }

            foreach (var p in pages)
            {
                await Expect(p.State).ToHaveTextAsync("connected");
                await p.ExpectOrderAsync(1, "Buy", "AAPL", "100", "150.25", "filled");
                await p.ExpectOrderAsync(2, "Sell", "MSFT", "5", "20.00", "filled");
                await p.ExpectOrderAsync(3, "Sell", "TSLA", "3", "9.50", "pending");
                await Expect(p.Orders).ToHaveCountAsync(3);
                await Expect(p.Trade("AAPL").GetByTestId("trade-price")).ToHaveTextAsync("150.25");
                await Expect(p.Trade("MSFT").GetByTestId("trade-price")).ToHaveTextAsync("-20.00");
                await Expect(p.Trades).ToHaveCountAsync(2);
                await Expect(p.AuditEvents).ToHaveTextAsync(["new", "filled", "accepted", "new", "filled", "accepted", "new"]);
            }

            // Live updates keep flowing on the new connections, in both directions.
            await p2.PlaceAsync("Buy", "NVDA", 7, "1.5");
            foreach (var p in pages)
            {
                await p.ExpectOrderAsync(4, "Buy", "NVDA", "7", "1.50", "pending");
            }

            await p1.ActAsync(4, "accept");
            foreach (var p in pages)
            {
                await p.ExpectStatusAsync(4, "accepted");
                await Expect(p.Orders).ToHaveCountAsync(4);
                await Expect(p.OrderIds).ToHaveTextAsync(["4", "3", "2", "1"]);
                await Expect(p.AuditEvents).ToHaveTextAsync(["accepted", "new", "new", "filled", "accepted", "new", "filled", "accepted", "new"]);
                await Expect(p.Error).ToBeHiddenAsync();
            }
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task UndoLastChange_ShowsTheOldValueInBothPages_AndTheHistoryPanelListsVersions(CancellationToken ct)
    {
        using var site = NewSite();
        await using var host = await StartSampleAsync(site, ct);
        var pages = await OpenTwoAsync(host.BaseUri);
        var (p1, p2) = (pages[0], pages[1]);

        await p1.PlaceAsync("Buy", "AAPL", 100, "150.25");
        await p2.ExpectOrderAsync(1, "Buy", "AAPL", "100", "150.25", "pending");
        await Expect(p1.Order(1).GetByTestId("undo")).ToBeDisabledAsync(); // version 1: nothing to undo from the page
        await p2.ActAsync(1, "accept");
        await p1.ExpectStatusAsync(1, "accepted");
        await p1.ActAsync(1, "fill");
        foreach (var p in pages)
        {
            await p.ExpectStatusAsync(1, "filled");
            await Expect(p.Trades).ToHaveCountAsync(1);
            await Expect(p.Order(1).GetByTestId("undo")).ToBeEnabledAsync();
        }

        // The history panel of page 2 lists the three versions, newest first, the current one marked.
        var history = p2.Page.GetByTestId("history-item");
        await Expect(history).ToHaveCountAsync(0);
        await p2.Order(1).GetByTestId("show-history").ClickAsync();
        await Expect(p2.Page.GetByTestId("history-title")).ToHaveTextAsync("order #1");
        await Expect(history.GetByTestId("history-version")).ToHaveTextAsync(["v3", "v2", "v1"]);
        await Expect(history.GetByTestId("history-op")).ToHaveTextAsync(["update", "update", "insert"]);
        await Expect(history.GetByTestId("history-status")).ToHaveTextAsync(["filled", "accepted", "pending"]);
        await Expect(history.GetByTestId("history-service")).ToHaveTextAsync(["orders", "orders", "orders"]);
        await Expect(history.GetByTestId("history-time").First).ToHaveTextAsync(TimeOfDay);
        await Expect(p2.Page.Locator("[data-testid='history-item'][data-current='true']")).ToHaveAttributeAsync("data-version", "3");

        // Undo the fill in page 1: both pages show the old status, the last trade goes, the panel moves its mark.
        await p1.Order(1).GetByTestId("undo").ClickAsync();
        foreach (var p in pages)
        {
            await p.ExpectOrderAsync(1, "Buy", "AAPL", "100", "150.25", "accepted");
            await p.ExpectButtonsAsync(1, "fill", "cancel");
            await Expect(p.Trades).ToHaveCountAsync(0);
        }

        await Expect(history).ToHaveCountAsync(3); // undone versions stay (redo-able)
        await Expect(p2.Page.Locator("[data-testid='history-item'][data-current='true']")).ToHaveAttributeAsync("data-version", "2");

        // Undo again back to version 1, then a new change cuts the undone versions from the history.
        await p2.Order(1).GetByTestId("undo").ClickAsync();
        foreach (var p in pages)
        {
            await p.ExpectStatusAsync(1, "pending");
            await Expect(p.Order(1).GetByTestId("undo")).ToBeDisabledAsync();
        }

        await p1.ActAsync(1, "reject");
        await p2.ExpectStatusAsync(1, "rejected");
        await Expect(history.GetByTestId("history-status")).ToHaveTextAsync(["rejected", "pending"]);
        await Expect(history.GetByTestId("history-version")).ToHaveTextAsync(["v2", "v1"]);
        await Expect(p2.Page.Locator("[data-testid='history-item'][data-current='true']")).ToHaveAttributeAsync("data-version", "2");
        foreach (var p in pages)
        {
            await Expect(p.Error).ToBeHiddenAsync();
        }
    }

    /// <summary>
    /// Builds a small book and saves a screenshot for the README. docs/order-book.png is written when
    /// it is missing or when <c>MKIO_UPDATE_SCREENSHOT=1</c> (so test runs do not rewrite a committed
    /// file); the screenshot is always attached to the test result.
    /// </summary>
    [Test, CancelAfter(120_000)]
    public async Task Screenshot_BookWithSeveralOrders_SavedForReadme(CancellationToken ct)
    {
        using var site = NewSite();
        await using var host = await StartSampleAsync(site, ct);
        var p = await OpenAsync(host.BaseUri, "page1", height: 400); // the full-page screenshot then fits the content
        (string Side, string Symbol, int Qty, string Price, string Shown, string[] Ops)[] book =
        [
            ("Buy", "AAPL", 100, "189.5", "189.50", ["accept", "fill"]),
            ("Sell", "MSFT", 40, "415.2", "415.20", ["accept", "fill"]),
            ("Buy", "NVDA", 25, "121.75", "121.75", ["accept"]),
            ("Sell", "TSLA", 10, "248", "248.00", ["reject"]),
            ("Buy", "AMZN", 60, "186.3", "186.30", []),
        ];
        var id = 0;
        foreach (var (side, symbol, qty, price, shown, ops) in book)
        {
            id++;
            await p.PlaceAsync(side, symbol, qty, price);
            await p.ExpectOrderAsync(id, side, symbol, qty.ToString(System.Globalization.CultureInfo.InvariantCulture), shown, "pending");
            foreach (var op in ops)
            {
                await p.ActAsync(id, op);
                await p.ExpectStatusAsync(id, op switch { "accept" => "accepted", "fill" => "filled", _ => "rejected" });
            }
        }

        await Expect(p.Trades).ToHaveCountAsync(2);
        await Expect(p.AuditItems).ToHaveCountAsync(11);
        await p.Order(2).GetByTestId("show-history").ClickAsync();
        await Expect(p.Page.GetByTestId("history-item")).ToHaveCountAsync(3);
        await p.Page.GetByTestId("symbol").FillAsync("IBM");
        await p.Page.GetByTestId("qty").FillAsync("50");
        await p.Page.GetByTestId("price").FillAsync("212.40");
        await p.Page.EvaluateAsync("() => document.activeElement && document.activeElement.blur()");
        await p.Page.Mouse.MoveAsync(0, 0);

        var file = Path.Combine(TestContext.CurrentContext.WorkDirectory, "order-book.png");
        await p.Page.ScreenshotAsync(new PageScreenshotOptions { Path = file, Type = ScreenshotType.Png, FullPage = true });
        TestContext.AddTestAttachment(file, "the order-book page");
        var docs = Path.Combine(Fixtures.RepoRoot, "docs", "order-book.png");
        if (!File.Exists(docs) || Environment.GetEnvironmentVariable("MKIO_UPDATE_SCREENSHOT") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(docs)!);
            File.Copy(file, docs, overwrite: true);
        }

        Assert.That(new FileInfo(docs).Length, Is.InRange(1_000, 400_000), "docs/order-book.png should be a small PNG");
    }
}
