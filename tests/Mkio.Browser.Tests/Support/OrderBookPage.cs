using System.Globalization;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Mkio.Browser.Tests.Support;

/// <summary>The sample's order-book page (samples/OrderBook/static) in one browser tab, addressed by its data-testid attributes.</summary>
internal sealed class OrderBookPage
{
    private static readonly string[] Actions = ["accept", "reject", "fill", "cancel"];

    public OrderBookPage(IPage page, string name)
    {
        Page = page;
        Name = name;
    }

    public IPage Page { get; }

    /// <summary>A name for failure messages and screenshots.</summary>
    public string Name { get; }

    public ILocator State => Page.GetByTestId("conn-state");

    public ILocator Error => Page.GetByTestId("error");

    public ILocator ErrorMessage => Page.GetByTestId("error-message");

    public ILocator Orders => Page.GetByTestId("order-row");

    public ILocator OrderIds => Page.GetByTestId("orders-body").GetByTestId("order-id");

    public ILocator OrderCount => Page.GetByTestId("order-count");

    public ILocator Trades => Page.GetByTestId("trade-row");

    public ILocator AuditItems => Page.GetByTestId("audit-item");

    /// <summary>The event names of the audit feed, newest first.</summary>
    public ILocator AuditEvents => Page.GetByTestId("audit-feed").GetByTestId("audit-event");

    public ILocator Order(int id) => Page.Locator($"[data-testid='order-row'][data-id='{id.ToString(CultureInfo.InvariantCulture)}']");

    public ILocator Trade(string symbol) => Page.Locator($"[data-testid='trade-row'][data-symbol='{symbol}']");

    public override string ToString() => Name;

    /// <summary>Fills the form and presses Buy or Sell.</summary>
    public async Task PlaceAsync(string side, string symbol, int qty, string price)
    {
        await Page.GetByTestId("symbol").FillAsync(symbol);
        await Page.GetByTestId("qty").FillAsync(qty.ToString(CultureInfo.InvariantCulture));
        await Page.GetByTestId("price").FillAsync(price);
        await Page.GetByTestId(side == "Sell" ? "sell" : "buy").ClickAsync();
    }

    /// <summary>Clicks an order's Accept / Reject / Fill / Cancel button.</summary>
    public Task ActAsync(int id, string op) => Order(id).GetByTestId(op).ClickAsync();

    /// <summary>Waits until order <paramref name="id"/> is shown exactly once with these cells.</summary>
    public async Task ExpectOrderAsync(int id, string side, string symbol, string qty, string price, string status)
    {
        var row = Order(id);
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row.GetByTestId("order-status")).ToHaveTextAsync(status);
        await Expect(row.GetByTestId("order-side")).ToHaveTextAsync(side);
        await Expect(row.GetByTestId("order-symbol")).ToHaveTextAsync(symbol);
        await Expect(row.GetByTestId("order-qty")).ToHaveTextAsync(qty);
        await Expect(row.GetByTestId("order-price")).ToHaveTextAsync(price);
    }

    /// <summary>Waits until order <paramref name="id"/> has <paramref name="status"/>.</summary>
    public Task ExpectStatusAsync(int id, string status) =>
        Expect(Order(id).GetByTestId("order-status")).ToHaveTextAsync(status);

    /// <summary>Exactly the buttons in <paramref name="enabled"/> are enabled on order <paramref name="id"/>.</summary>
    public async Task ExpectButtonsAsync(int id, params string[] enabled)
    {
        foreach (var op in Actions)
        {
            var button = Order(id).GetByTestId(op);
            if (enabled.Contains(op))
            {
                await Expect(button).ToBeEnabledAsync();
            }
            else
            {
                await Expect(button).ToBeDisabledAsync();
            }
        }
    }
}
