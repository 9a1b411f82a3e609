namespace Mkio.Testing;

/// <summary>
/// The order-book sample (samples/OrderBook/mkio.toml, CONFIG.md §8) written code-first. This file is
/// linked into the test projects that need it (Mkio.Core.Tests cannot reference Mkio.TestUtilities).
/// </summary>
public static class OrderBookModel
{
    /// <summary>The <c>$0.id</c>/<c>$0.status</c> binds of the audit inserts.</summary>
    public static Dictionary<string, string> AuditBind => new() { ["order_id"] = "$0.id", ["status"] = "$0.status" };

    /// <summary>The <c>orders</c> and <c>audit_log</c> tables (audit_log append-only as in the sample, unless told otherwise).</summary>
    public static MkioOptions Tables(MkioOptions o, bool appendOnlyAudit = true) =>
        o.Table("orders", t => t
                .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                .Column("side", "TEXT NOT NULL")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER")
                .Column("price", "REAL DEFAULT 0")
                .Column("status", "TEXT DEFAULT 'pending'"))
            .Table("audit_log", t =>
            {
                t.Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                    .Column("event", "TEXT")
                    .Column("order_id", "INTEGER")
                    .Column("status", "TEXT");
                if (appendOnlyAudit)
                {
                    t.AppendOnly();
                }
            });

    /// <summary>The whole sample: settings, tables, the <c>orders</c> op sets, the three listeners and the static route.</summary>
    public static void Sample(MkioOptions o)
    {
        o.Port = 8080;
        o.Host = "0.0.0.0";
        o.DbPath = "orders.db";
        o.BatchMaxSize = 500;
        o.BatchMaxWaitMs = 2.0;
        Tables(o);
        o.Transaction("orders", tx =>
        {
            tx.Op("new", ops => ops
                .Insert("orders", ["side", "symbol", "qty", "price"])
                .Insert("audit_log", defaults: new Dictionary<string, object?> { ["event"] = "new" }, bind: AuditBind));
            foreach (var (op, status) in new[] { ("accept", "accepted"), ("reject", "rejected"), ("fill", "filled"), ("cancel", "cancelled") })
            {
                tx.Op(op, ops => ops
                    .Update("orders", ["id"], ["status"], defaults: new Dictionary<string, object?> { ["status"] = status })
                    .Insert("audit_log", defaults: new Dictionary<string, object?> { ["event"] = status }, bind: AuditBind));
            }
        });
        o.SubPub("last_trade", s => s
                .From("orders")
                .Key("symbol")
                .Where("status == 'filled'")
                .ChangeLogSize(10000)
                .Publish("symbol", "symbol")
                .Publish("price", "IF(side == 'Buy', price, -price)")
                .Publish("time", "_mkio_ref"))
            .Stream("audit_feed", s => s.From("audit_log").BufferSize(10000))
            .Query("all_orders", s => s.From("orders").Filterable("status", "symbol").ChangeLogSize(10000))
            .StaticFiles("/", "./static");
    }
}
