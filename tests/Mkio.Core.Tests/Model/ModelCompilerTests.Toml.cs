using System.Text;
using Mkio.Discovery;
using Mkio.Model;
using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Model;

/// <summary>TOML and code-first configs describing the same application compile to the same model.</summary>
public sealed partial class ModelCompilerTests
{
    private static Dictionary<string, string> AuditBind => Mkio.Testing.OrderBookModel.AuditBind;

    internal static string SamplePath
    {
        get
        {
            var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Mkio.sln")))
            {
                dir = dir.Parent;
            }

            Assert.That(dir, Is.Not.Null, "Mkio.sln not found above the test directory");
            return Path.Combine(dir!.FullName, "samples", "OrderBook", "mkio.toml");
        }
    }

    [Test]
    public void Compile_OrderBookSampleTomlAndCodeFirst_SameModelAndDiscovery()
    {
        var fromToml = new MkioOptions();
        TomlConfigLoader.Apply(SamplePath, fromToml);
        var fromCode = new MkioOptions();
        Mkio.Testing.OrderBookModel.Sample(fromCode);

        // The sample's "./static" is relative to the sample's working directory: compare the routes, then drop them.
        Assert.That(fromToml.Static, Is.EqualTo(fromCode.Static));
        fromToml.Static.Clear();
        fromCode.Static.Clear();

        AssertSameModel(Compile(fromToml), Compile(fromCode));
    }

    [Test]
    public void Compile_FixtureBTomlAndCodeFirst_SameModelAndDiscovery()
    {
        var fromToml = Toml("""
            db_path = ":memory:"
            batch_max_wait_ms = 1.0

            [tables.orders.columns]
            id = "INTEGER PRIMARY KEY AUTOINCREMENT"
            side = "TEXT NOT NULL"
            symbol = "TEXT NOT NULL"
            qty = "INTEGER"
            price = "REAL DEFAULT 0"
            status = "TEXT DEFAULT 'pending'"

            [tables.audit_log.columns]
            id = "INTEGER PRIMARY KEY AUTOINCREMENT"
            event = "TEXT"
            order_id = "INTEGER"
            status = "TEXT"

            [services.orders]
            type = "transaction"
            description = "Order lifecycle"
            descriptions = { place = "Create an order" }

            [[services.orders.ops.place]]
            table = "orders"
            op_type = "insert"
            fields = ["side", "symbol", "qty", "price"]
            [[services.orders.ops.place]]
            table = "audit_log"
            op_type = "insert"
            fields = ["event"]
            bind = { order_id = "$0.id", status = "$0.status" }

            [[services.orders.ops.update_status]]
            table = "orders"
            op_type = "update"
            key = ["id"]
            fields = ["status"]
            [[services.orders.ops.update_status]]
            table = "audit_log"
            op_type = "insert"
            fields = ["event"]
            bind = { order_id = "$0.id", status = "$0.status" }

            [services.last_trade]
            type = "subpub"
            primary_table = "orders"
            key = "id"
            filterable = ["status", "symbol"]
            change_log_size = 100

            [services.audit_feed]
            type = "stream"
            primary_table = "audit_log"
            buffer_size = 100

            [services.all_orders]
            type = "query"
            primary_table = "orders"
            filterable = ["status", "symbol"]
            change_log_size = 100
            """);
        var fromCode = Mkio.Testing.OrderBookModel.Tables(new MkioOptions { DbPath = ":memory:", BatchMaxWaitMs = 1.0 }, appendOnlyAudit: false)
            .Transaction("orders", tx => tx
                .Description("Order lifecycle")
                .Op("place", ops => ops
                    .Insert("orders", ["side", "symbol", "qty", "price"])
                    .Insert("audit_log", ["event"], bind: AuditBind), "Create an order")
                .Op("update_status", ops => ops
                    .Update("orders", ["id"], ["status"])
                    .Insert("audit_log", ["event"], bind: AuditBind)))
            .SubPub("last_trade", s => s.From("orders").Key("id").Filterable("status", "symbol").ChangeLogSize(100))
            .Stream("audit_feed", s => s.From("audit_log").BufferSize(100))
            .Query("all_orders", s => s.From("orders").Filterable("status", "symbol").ChangeLogSize(100));

        AssertSameModel(Compile(fromToml), Compile(fromCode));
    }

    [Test]
    public void Compile_NumericAndBooleanOpDefaults_TomlLongEqualsCodeFirstInt()
    {
        var fromToml = Toml(FixtureATablesToml + """
            [services.add]
            type = "transaction"
            ops = [{ table = "orders", op_type = "insert", fields = ["id", "symbol"], defaults = { qty = 5, price = 1.5, status = "new" } }]
            """);
        var fromCode = FixtureATables(new MkioOptions { DbPath = ":memory:" })
            .Transaction("add", tx => tx.Ops(ops => ops.Insert("orders", ["id", "symbol"], new Dictionary<string, object?> { ["qty"] = 5, ["price"] = 1.5, ["status"] = "new" })));

        AssertSameModel(Compile(fromToml), Compile(fromCode));
    }

    [Test]
    public void Compile_ListFormOpsTomlAndCodeFirst_SameModel()
    {
        var fromToml = Toml(FixtureATablesToml + """
            [services.place_and_log]
            type = "transaction"
            ops = [
              { table = "orders", op_type = "insert", fields = ["id", "symbol", "qty"] },
              { table = "audit_log", op_type = "insert", defaults = { event = "placed" }, bind = { order_id = "$0.id" } },
            ]
            """);
        var fromCode = FixtureATables(new MkioOptions { DbPath = ":memory:" })
            .Transaction("place_and_log", tx => tx.Ops(ops => ops
                .Insert("orders", ["id", "symbol", "qty"])
                .Insert("audit_log", defaults: D("event", "placed"), bind: B("order_id", "$0.id"))));

        AssertSameModel(Compile(fromToml), Compile(fromCode));
    }

    [Test]
    public void Compile_DifferentConfigs_DumpsDiffer()
    {
        // Guards the comparison itself: a one-word change must show up.
        var a = CompileCode(o => FixtureATables(o).Query("q", s => s.From("orders").Filterable("status")));
        var b = CompileCode(o => FixtureATables(o).Query("q", s => s.From("orders").Filterable("symbol")));
        Assert.That(Dump(a), Is.Not.EqualTo(Dump(b)));
    }

    private static void AssertSameModel(MkioModel toml, MkioModel code)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Dump(code), Is.EqualTo(Dump(toml)));
            Assert.That(Utf8(ServiceDiscovery.List(code)), Is.EqualTo(Utf8(ServiceDiscovery.List(toml))));
            foreach (var service in toml.Services)
            {
                Assert.That(
                    Utf8(ServiceDiscovery.Detail(code, code.ServicesByName[service.Name])),
                    Is.EqualTo(Utf8(ServiceDiscovery.Detail(toml, service))),
                    $"discovery detail of {service.Name}");
            }
        }
    }

    private static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
