using Mkio;

namespace OrderBook;

/// <summary>
/// The sample's versioning, added in code on top of mkio.toml (so the TOML stays the plain order book):
/// <c>orders</c> becomes a versioned table, the <c>order_versions</c> transaction service steps an order
/// back (<c>undo</c>) or forward again (<c>redo</c>), and the <c>order_history</c> query service serves
/// every recorded version from <c>orders__history</c> with live updates (static/history.js shows them).
/// </summary>
internal static class OrderHistory
{
    /// <summary>Adds the versioning to options already read from mkio.toml.</summary>
    /// <param name="options">The sample's options.</param>
    public static void Configure(MkioOptions options)
    {
        var orders = options.Tables.FirstOrDefault(t => t.Name == "orders")
            ?? throw new InvalidOperationException("mkio.toml declares no 'orders' table");
        orders.Versioned = true;
        options
            .Transaction("order_versions", tx => tx
                .Op("undo", ops => ops.Undo("orders", ["id"]))
                .Op("redo", ops => ops.Redo("orders", ["id"])))
            .Query("order_history", q => q.From("orders__history"));
    }
}
