namespace Mkio.TestUtilities;

/// <summary>The conformance fixtures (CONFORMANCE.md) as code-first configs.</summary>
public static class Fixtures
{
    /// <summary>
    /// The TOML of a later-subscription test server after its <c>items</c> table (id, name, qty): an <c>events</c> table, the
    /// <c>put</c> (upsert items) and <c>log</c> (insert events) transactions, and the listeners <c>items</c> (query, filterable
    /// qty/name), <c>cache</c> (subpub, topic id) and <c>feed</c> (stream of events).
    /// </summary>
    public const string LaterListenersToml = """
        [tables.events]
        columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", text = "TEXT" }

        [services.put]
        protocol = "transaction"
        table = "items"
        op_type = "upsert"
        fields = ["id", "name", "qty"]
        key = ["id"]

        [services.log]
        protocol = "transaction"
        table = "events"
        op_type = "insert"
        fields = ["text"]

        [services.items]
        protocol = "query"
        primary_table = "items"
        filterable = ["qty", "name"]

        [services.cache]
        protocol = "subpub"
        primary_table = "items"
        topic = "id"

        [services.feed]
        protocol = "stream"
        primary_table = "events"
        """;

    /// <summary>Fixture A: orders(id TEXT PK) + audit_log, add/update/delete services and the three listeners.</summary>
    public static void FixtureA(MkioOptions o)
    {
        o.DbPath = ":memory:";
        o.BatchMaxWaitMs = 1.0;
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER")
                .Column("price", "REAL DEFAULT 0")
                .Column("status", "TEXT DEFAULT 'pending'"))
            .Table("audit_log", t => t
                .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                .Column("event", "TEXT")
                .Column("order_id", "TEXT"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "symbol", "qty"]))
            .Transaction("update_order", tx => tx.Update("orders", ["id"], ["qty"]))
            .Transaction("delete_order", tx => tx.Delete("orders", ["id"]))
            .SubPub("last_trade", s => s.From("orders").Key("id").Filterable("status", "symbol").ChangeLogSize(100))
            .Stream("audit_feed", s => s.From("audit_log").BufferSize(100))
            .Query("all_orders", s => s.From("orders").Filterable("status").ChangeLogSize(100));
    }

    /// <summary>Fixture B: the order-book schema with named op sets place / update_status.</summary>
    public static void FixtureB(MkioOptions o)
    {
        o.DbPath = ":memory:";
        o.BatchMaxWaitMs = 1.0;
        Mkio.Testing.OrderBookModel.Tables(o, appendOnlyAudit: false)
            .Transaction("orders", tx => tx
                .Op("place", ops => ops
                    .Insert("orders", ["side", "symbol", "qty", "price"])
                    .Insert("audit_log", ["event"], bind: new Dictionary<string, string> { ["order_id"] = "$0.id", ["status"] = "$0.status" }))
                .Op("update_status", ops => ops
                    .Update("orders", ["id"], ["status"])
                    .Insert("audit_log", ["event"], bind: new Dictionary<string, string> { ["order_id"] = "$0.id", ["status"] = "$0.status" })))
            .SubPub("last_trade", s => s.From("orders").Key("id").Filterable("status", "symbol").ChangeLogSize(100))
            .Stream("audit_feed", s => s.From("audit_log").BufferSize(100))
            .Query("all_orders", s => s.From("orders").Filterable("status", "symbol").ChangeLogSize(100));
    }

    /// <summary>Path of the order-book sample config (the seed's order_book.mkio.toml, unchanged).</summary>
    public static string OrderBookToml => Path.Combine(RepoRoot, "samples", "OrderBook", "mkio.toml");

    /// <summary>
    /// The order-book sample's build output (same configuration as the calling test assembly, built by
    /// its project reference) copied to a new temp folder without any database: the app's own folder,
    /// run as <c>dotnet OrderBook.dll</c>.
    /// </summary>
    public static TempDirectory CopyOfOrderBookSample()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var output = Path.Combine(RepoRoot, "samples", "OrderBook", "bin", configuration, "net10.0");
        NUnit.Framework.Assert.That(File.Exists(Path.Combine(output, "OrderBook.dll")), NUnit.Framework.Is.True, $"the sample is built by the project reference: {output}");
        var copy = new TempDirectory();
        foreach (var file in Directory.GetFiles(output, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(output, file);
            if (relative.StartsWith("orders.db", StringComparison.Ordinal))
            {
                continue;
            }

            var target = Path.Combine(copy.Path, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        return copy;
    }

    public static string RepoRoot
    {
        get
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d is not null && !File.Exists(Path.Combine(d.FullName, "Mkio.sln")))
            {
                d = d.Parent;
            }

            return d?.FullName ?? throw new InvalidOperationException("Mkio.sln not found above " + AppContext.BaseDirectory);
        }
    }
}
