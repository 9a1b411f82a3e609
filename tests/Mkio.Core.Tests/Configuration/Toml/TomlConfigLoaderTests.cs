using Mkio;
using static Mkio.Core.Tests.Configuration.Toml.TomlTestSupport;

namespace Mkio.Core.Tests.Configuration.Toml;

[Parallelizable(ParallelScope.All)]
public sealed class TomlConfigLoaderTests
{
    [Test]
    public void Apply_SeedConfig_LoadsExactValues()
    {
        var o = new MkioOptions();
        TomlConfigLoader.Apply(SeedPath, o);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(o.SourceName, Is.EqualTo(SeedPath));
            Assert.That(o.Port, Is.EqualTo(8080));
            Assert.That(o.Host, Is.EqualTo("0.0.0.0"));
            Assert.That(o.DbPath, Is.EqualTo("orders.db"));
            Assert.That(o.BatchMaxSize, Is.EqualTo(500));
            Assert.That(o.BatchMaxWaitMs, Is.EqualTo(2.0));

            Assert.That(o.Tables.Select(t => t.Name), Is.EqualTo(new[] { "orders", "audit_log" }));
            Assert.That(o.Tables[0].Columns.Keys, Is.EqualTo(new[] { "id", "side", "symbol", "qty", "price", "status" }));
            Assert.That(o.Tables[0].Columns["status"], Is.EqualTo("TEXT DEFAULT 'pending'"));
            Assert.That(o.Tables[0].AppendOnly, Is.False);
            Assert.That(o.Tables[1].Columns.Keys, Is.EqualTo(new[] { "id", "event", "order_id", "status" }));
            Assert.That(o.Tables[1].Columns["id"], Is.EqualTo("INTEGER PRIMARY KEY AUTOINCREMENT"));
            Assert.That(o.Tables[1].AppendOnly, Is.True);

            Assert.That(o.Services.Select(s => (s.Name, s.Type)), Is.EqualTo(new[]
            {
                ("orders", "transaction"), ("last_trade", "subpub"), ("audit_feed", "stream"), ("all_orders", "query"),
            }));
            Assert.That(o.Static, Is.EqualTo(new[] { new MkioStaticRoute("/", "./static") }));
        }

        var orders = o.Services[0];
        string[] statuses = ["accepted", "rejected", "filled", "cancelled"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(orders.OpsNamed, Is.True);
            Assert.That(orders.Ops.Select(s => s.Name), Is.EqualTo(new[] { "new", "accept", "reject", "fill", "cancel" }));
            Assert.That(orders.Ops.Select(s => s.Steps.Count), Is.All.EqualTo(2));

            var insert = orders.Ops[0].Steps[0];
            Assert.That(insert.Table, Is.EqualTo("orders"));
            Assert.That(insert.OpType, Is.EqualTo("insert"));
            Assert.That(insert.Fields, Is.EqualTo(new[] { "side", "symbol", "qty", "price" }));
            Assert.That(insert.Key, Is.Empty);
            Assert.That(insert.Defaults, Is.Empty);
            Assert.That(insert.Bind, Is.Empty);

            for (var i = 0; i < 5; i++)
            {
                var audit = orders.Ops[i].Steps[1];
                Assert.That(audit.Table, Is.EqualTo("audit_log"));
                Assert.That(audit.OpType, Is.EqualTo("insert"));
                Assert.That(audit.Fields, Is.Empty);
                Assert.That(audit.Defaults["event"], Is.EqualTo(i == 0 ? "new" : statuses[i - 1]));
                Assert.That(audit.Bind.Keys, Is.EqualTo(new[] { "order_id", "status" }));
                Assert.That(audit.Bind.Values, Is.EqualTo(new[] { "$0.id", "$0.status" }));
            }

            for (var i = 1; i < 5; i++)
            {
                var update = orders.Ops[i].Steps[0];
                Assert.That(update.Table, Is.EqualTo("orders"));
                Assert.That(update.OpType, Is.EqualTo("update"));
                Assert.That(update.Key, Is.EqualTo(new[] { "id" }));
                Assert.That(update.Fields, Is.EqualTo(new[] { "status" }));
                Assert.That(update.Defaults.Count, Is.EqualTo(1));
                Assert.That(update.Defaults["status"], Is.EqualTo(statuses[i - 1]));
            }
        }

        var (lastTrade, auditFeed, allOrders) = (o.Services[1], o.Services[2], o.Services[3]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(lastTrade.PrimaryTable, Is.EqualTo("orders"));
            Assert.That(lastTrade.Key, Is.EqualTo("symbol"));
            Assert.That(lastTrade.Where, Is.EqualTo("status == 'filled'"));
            Assert.That(lastTrade.ChangeLogSize, Is.EqualTo(10000));
            Assert.That(lastTrade.Publish!.Keys, Is.EqualTo(new[] { "symbol", "price", "time" }));
            Assert.That(lastTrade.Publish["price"], Is.EqualTo("IF(side == 'Buy', price, -price)"));
            Assert.That(lastTrade.Publish["time"], Is.EqualTo("_mkio_ref"));
            Assert.That(lastTrade.WatchTables, Is.Null, "normalisation belongs to the model compiler");
            Assert.That(auditFeed.PrimaryTable, Is.EqualTo("audit_log"));
            Assert.That(auditFeed.BufferSize, Is.EqualTo(10000));
            Assert.That(allOrders.PrimaryTable, Is.EqualTo("orders"));
            Assert.That(allOrders.Filterable, Is.EqualTo(new[] { "status", "symbol" }));
            Assert.That(allOrders.ChangeLogSize, Is.EqualTo(10000));
            Assert.That(o.Services.Select(s => s.Extra.Count), Is.All.Zero);
        }
    }

    [Test]
    public void ApplyText_ConfigMdExample_LoadsSameStructureAsSeed()
    {
        var seed = Load(File.ReadAllText(SeedPath));
        var example = Load(TomlSamples.ConfigMdExample);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(example.LoadDiagnostics, Is.Empty);
            Assert.That(Dump(example), Is.EqualTo(Dump(seed)));
            Assert.That(example.Services[0].Ops[4].Steps[0].Defaults["status"], Is.EqualTo("cancelled"));
        }
    }

    [Test]
    public void ApplyText_ConfigMdExample_RecordsBindValueLocation()
    {
        var o = Load(TomlSamples.ConfigMdExample);

        using (Assert.EnterMultipleScope())
        {
            // Line 35: bind = { order_id = "$0.id", status = "$0.status" }
            Assert.That(o.Locations.Find("services.orders.ops.new[1].bind.order_id"), Is.EqualTo(new SourceLocation(SourceName, 35, 10)));
            Assert.That(o.Locations.Find("services.orders.ops.new[1].bind.status"), Is.EqualTo(new SourceLocation(SourceName, 35, 30)));
            Assert.That(o.Locations.Find("services.orders.ops.new[1].bind"), Is.EqualTo(new SourceLocation(SourceName, 35, 1)));
            Assert.That(o.Locations.Find("services.orders.ops.new[1]"), Is.EqualTo(new SourceLocation(SourceName, 32, 1)), "an op is located at its first key");
            Assert.That(o.Locations.Find("services.orders.ops.accept[0].defaults.status")?.Line, Is.EqualTo(43));
            Assert.That(o.Locations.Find("tables.audit_log.columns.order_id"), Is.EqualTo(new SourceLocation(SourceName, 20, 1)));
            Assert.That(o.Locations.Find("static./"), Is.EqualTo(new SourceLocation(SourceName, 110, 1)));
        }
    }

    [Test]
    public void Apply_SeedConfig_RecordsLocationsForNestedOpKeys()
    {
        var o = new MkioOptions();
        TomlConfigLoader.Apply(SeedPath, o);

        using (Assert.EnterMultipleScope())
        {
            // Line 24: { table = "audit_log", op_type = "insert", defaults = { event = "new" }, bind = { order_id = "$0.id", ... } },
            Assert.That(o.Locations.Find("services.orders.ops.new[1].bind.order_id"), Is.EqualTo(new SourceLocation(SeedPath, 24, 87)));
            Assert.That(o.Locations.Find("services.orders.ops.new[1].table"), Is.EqualTo(new SourceLocation(SeedPath, 24, 7)));
            Assert.That(o.Locations.Find("services.orders.ops.new[1]"), Is.EqualTo(new SourceLocation(SeedPath, 24, 7)));
            Assert.That(o.Locations.Find("services.orders.ops.new"), Is.EqualTo(new SourceLocation(SeedPath, 22, 1)));
            Assert.That(o.Locations.Find("port"), Is.EqualTo(new SourceLocation(SeedPath, 1, 1)));
            Assert.That(o.Locations.Find("services.last_trade.publish.price")?.Line, Is.EqualTo(54));
            Assert.That(o.Locations.Find("services.all_orders.filterable[1]")?.Line, Is.EqualTo(65), "array items fall back to their key");
        }
    }

    [Test]
    public void Apply_MissingFile_ThrowsWithPath()
    {
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "does-not-exist", "mkio.toml");

        Assert.That(
            () => TomlConfigLoader.Apply(path, new MkioOptions()),
            Throws.TypeOf<MkioConfigurationException>().With.Message.EqualTo("Config file not found: " + path));
    }

    [Test]
    public void Apply_Utf8BomAndCrLf_ReadsValuesAndLines()
    {
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"toml-{Guid.NewGuid():N}.toml");
        File.WriteAllText(path, "port = 1\r\n[services.s]\r\ntype = \"subpub\"\r\nkey = \"é\"\r\nprot = 2\r\n", new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        try
        {
            var o = new MkioOptions();
            TomlConfigLoader.Apply(path, o);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(o.Port, Is.EqualTo(1));
                Assert.That(o.Services.Single().Key, Is.EqualTo("é"));
                Assert.That(o.Locations.Find("services.s.key"), Is.EqualTo(new SourceLocation(path, 4, 1)));
                Assert.That(Warnings(o).Single().Location, Is.EqualTo(new SourceLocation(path, 5, 1)));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void ApplyText_EmptyDocument_KeepsDefaults()
    {
        var o = Load(string.Empty);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(Dump(o), Is.EqualTo(Dump(new MkioOptions())));
            Assert.That(o.SourceName, Is.EqualTo(SourceName));
        }
    }

    [Test]
    public void ApplyText_AllTopLevelKeys_SetsEveryProperty()
    {
        var o = Load("""
            host = "127.0.0.1"
            port = 0
            db_path = ":memory:"
            batch_max_size = 50
            batch_max_wait_ms = 5
            change_log_size = 42
            wal_checkpoint_interval_s = 0.5
            auto_migrate = true
            backup_on_startup = true
            backup_dir = "bk"
            shutdown_timeout = 7
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(o.Host, Is.EqualTo("127.0.0.1"));
            Assert.That(o.Port, Is.Zero);
            Assert.That(o.DbPath, Is.EqualTo(":memory:"));
            Assert.That(o.BatchMaxSize, Is.EqualTo(50));
            Assert.That(o.BatchMaxWaitMs, Is.EqualTo(5.0), "an integer is accepted for a number");
            Assert.That(o.ChangeLogSize, Is.EqualTo(42));
            Assert.That(o.WalCheckpointIntervalS, Is.EqualTo(0.5));
            Assert.That(o.AutoMigrate, Is.EqualTo(MkioAutoMigrate.Destructive));
            Assert.That(o.BackupOnStartup, Is.True);
            Assert.That(o.BackupDir, Is.EqualTo("bk"));
            Assert.That(o.ShutdownTimeout, Is.EqualTo(7.0));
        }
    }

    [Test]
    public void ApplyText_AbsentKeys_KeepExistingValues()
    {
        var o = new MkioOptions { Port = 9999, DbPath = "x.db" };

        TomlConfigLoader.ApplyText("host = \"::1\"", null, o);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.Host, Is.EqualTo("::1"));
            Assert.That(o.Port, Is.EqualTo(9999));
            Assert.That(o.DbPath, Is.EqualTo("x.db"));
            Assert.That(o.BatchMaxWaitMs, Is.EqualTo(2.0));
            Assert.That(o.SourceName, Is.Null);
        }
    }

    [TestCase("false", MkioAutoMigrate.Off)]
    [TestCase("true", MkioAutoMigrate.Destructive)]
    [TestCase("\"safe\"", MkioAutoMigrate.Safe)]
    [TestCase("\"risky\"", MkioAutoMigrate.Risky)]
    [TestCase("\"destructive\"", MkioAutoMigrate.Destructive)]
    public void ApplyText_AutoMigrateForms_MapToMode(string value, MkioAutoMigrate expected)
    {
        var o = new MkioOptions { AutoMigrate = MkioAutoMigrate.Risky };
        TomlConfigLoader.ApplyText("auto_migrate = " + value, SourceName, o);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(o.AutoMigrate, Is.EqualTo(expected));
        }
    }

    [TestCase("\"always\"", "string 'always'")]
    [TestCase("1", "integer 1")]
    public void ApplyText_AutoMigrateInvalid_ReportsAllowedValues(string value, string got)
    {
        var o = Load("auto_migrate = " + value);

        Assert.That(Errors(o).Select(e => e.ToString()), Is.EqualTo(new[]
        {
            $"mkio.toml(1,1): auto_migrate: expected true, false, 'safe', 'risky' or 'destructive', got {got}",
        }));
    }

    [Test]
    public void ApplyText_TransactionShorthand_FillsShorthandProperties()
    {
        var o = Load("""
            [services.add_item]
            type = "transaction"
            table = "items"
            op_type = "upsert"
            fields = ["id", "name"]
            key = ["id"]
            description = "Add an item"
            change_log_size = 100
            """);

        var s = o.Services.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(s.Table, Is.EqualTo("items"));
            Assert.That(s.OpType, Is.EqualTo("upsert"));
            Assert.That(s.Fields, Is.EqualTo(new[] { "id", "name" }));
            Assert.That(s.KeyColumns, Is.EqualTo(new[] { "id" }));
            Assert.That(s.Key, Is.Null);
            Assert.That(s.Ops, Is.Empty, "the shorthand is normalised by the model compiler");
            Assert.That(s.Description, Is.EqualTo("Add an item"));
            Assert.That(s.ChangeLogSize, Is.EqualTo(100));
        }
    }

    [Test]
    public void ApplyText_TransactionShorthandStringKey_ReportsTypeError()
    {
        var o = Load("""
            [services.del]
            type = "transaction"
            table = "items"
            op_type = "delete"
            key = "id"
            """);

        Assert.That(Errors(o).Select(e => e.ToString()), Is.EqualTo(new[]
        {
            "mkio.toml(5,1): services.del.key: expected an array of strings, got string 'id'",
        }));
    }

    [Test]
    public void ApplyText_ServiceLevelDefaultsAndBind_WarnNoEffect()
    {
        var o = Load("""
            [services.add_item]
            type = "transaction"
            table = "items"
            op_type = "insert"
            defaults = { name = "x" }
            bind = { id = "$0.id" }
            """);

        var s = o.Services.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Errors(o), Is.Empty);
            Assert.That(Warnings(o).Select(w => (w.Path, w.Location?.Line)), Is.EqualTo(new[]
            {
                ("services.add_item.defaults", (int?)5), ("services.add_item.bind", 6),
            }));
            Assert.That(Warnings(o).Select(w => w.Message), Has.All.Contains("has no effect at service level"));
            Assert.That(s.Extra, Is.Empty);
            Assert.That(s.Ops, Is.Empty);
        }
    }

    [Test]
    public void ApplyText_ListFormOps_LoadsOneUnnamedSet()
    {
        var o = Load("""
            [services.place_and_log]
            type = "transaction"
            ops = [
              { table = "orders", op_type = "insert", fields = ["side", "symbol", "qty", "price"] },
              { table = "audit_log", op_type = "insert", defaults = { event = "placed", n = 1, x = 2.5, ok = true }, bind = { order_id = "$0.id", status = "$0.status" } },
            ]
            """);

        var s = o.Services.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(s.OpsNamed, Is.False);
            Assert.That(s.Ops, Has.Count.EqualTo(1));
            Assert.That(s.Ops[0].Name, Is.Null);
            Assert.That(s.Ops[0].Steps.Select(x => x.Table), Is.EqualTo(new[] { "orders", "audit_log" }));
            var defaults = s.Ops[0].Steps[1].Defaults;
            Assert.That(defaults.Keys, Is.EqualTo(new[] { "event", "n", "x", "ok" }));
            Assert.That(defaults["event"], Is.TypeOf<string>().And.EqualTo("placed"));
            Assert.That(defaults["n"], Is.TypeOf<long>().And.EqualTo(1L));
            Assert.That(defaults["x"], Is.TypeOf<double>().And.EqualTo(2.5));
            Assert.That(defaults["ok"], Is.TypeOf<bool>().And.EqualTo(true));
            Assert.That(s.Ops[0].Steps[1].Bind["status"], Is.EqualTo("$0.status"));
            Assert.That(o.Locations.Find("services.place_and_log.ops[1].bind.order_id"), Is.EqualTo(new SourceLocation(SourceName, 5, 115)));
            Assert.That(o.Locations.Find("services.place_and_log.ops[0].table"), Is.EqualTo(new SourceLocation(SourceName, 4, 5)));
        }
    }

    [Test]
    public void ApplyText_ListFormOpsAsArrayOfTables_SameAsInline()
    {
        var inline = Load("""
            [services.s]
            type = "transaction"
            ops = [
              { table = "a", op_type = "insert", fields = ["x"] },
              { table = "b", op_type = "update", key = ["id"], bind = { id = "$0.id" } },
            ]
            """);
        var tables = Load("""
            [services.s]
            type = "transaction"

            [[services.s.ops]]
            table = "a"
            op_type = "insert"
            fields = ["x"]

            [[services.s.ops]]
            table = "b"
            op_type = "update"
            key = ["id"]
            bind.id = "$0.id"
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(tables.LoadDiagnostics, Is.Empty);
            Assert.That(Dump(tables), Is.EqualTo(Dump(inline)));
            Assert.That(tables.Locations.Find("services.s.ops[1].bind.id"), Is.EqualTo(new SourceLocation(SourceName, 13, 6)));
        }
    }

    [Test]
    public void ApplyText_NamedOps_KeepConfigOrderAndDescriptions()
    {
        var o = Load("""
            [services.order_ops]
            type = "transaction"
            description = "Order lifecycle"
            descriptions = { place = "Create an order", approve = "Approve a pending order" }

            [services.order_ops.ops]
            place = [{ table = "orders", op_type = "insert", fields = ["side"] }]
            approve = [{ table = "orders", op_type = "update", key = ["id"], fields = ["status"] }]
            """);

        var s = o.Services.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(s.OpsNamed, Is.True);
            Assert.That(s.Ops.Select(x => x.Name), Is.EqualTo(new[] { "place", "approve" }));
            Assert.That(s.Descriptions!.Keys, Is.EqualTo(new[] { "place", "approve" }));
            Assert.That(s.Descriptions["approve"], Is.EqualTo("Approve a pending order"));
            Assert.That(s.Description, Is.EqualTo("Order lifecycle"));
        }
    }

    [Test]
    public void ApplyText_ProtocolAlias_SetsTypeAndLocation()
    {
        var o = Load("""
            [services.last]
            protocol = "subpub"
            primary_table = "orders"
            topic = "symbol"
            """);

        var s = o.Services.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(s.Type, Is.EqualTo("subpub"));
            Assert.That(s.Key, Is.EqualTo("symbol"));
            Assert.That(o.Locations.Find("services.last.type"), Is.EqualTo(new SourceLocation(SourceName, 2, 1)));
            Assert.That(o.Locations.Find("services.last.key"), Is.EqualTo(new SourceLocation(SourceName, 4, 1)));
        }
    }

    [Test]
    public void ApplyText_TypeAndProtocolAgree_NoError()
    {
        var o = Load("""
            [services.q]
            type = "query"
            protocol = "query"
            primary_table = "orders"
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(o.Services.Single().Type, Is.EqualTo("query"));
        }
    }

    [Test]
    public void ApplyText_TypeAndProtocolDisagree_ErrorNamesBothValues()
    {
        var o = Load("""
            [services.q]
            type = "query"
            protocol = "subpub"
            primary_table = "orders"
            """);

        var errors = Errors(o);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(errors, Has.Count.EqualTo(1));
            Assert.That(errors[0].Path, Is.EqualTo("services.q.protocol"));
            Assert.That(errors[0].Location, Is.EqualTo(new SourceLocation(SourceName, 3, 1)));
            Assert.That(errors[0].Message, Does.Contain("'subpub'").And.Contain("'query'"));
            Assert.That(o.Services.Single().Type, Is.EqualTo("query"));
        }
    }

    [TestCase("key = \"symbol\"\ntopic = \"symbol\"", 0)]
    [TestCase("topic = \"symbol\"\nkey = \"symbol\"", 0)]
    [TestCase("key = \"symbol\"\ntopic = \"side\"", 1)]
    [TestCase("topic = \"side\"\nkey = \"symbol\"", 1)]
    public void ApplyText_KeyAndTopic_ConflictOnlyWhenDifferent(string keys, int errorCount)
    {
        var o = Load("[services.s]\ntype = \"subpub\"\nprimary_table = \"t\"\n" + keys);

        var errors = Errors(o);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(errors, Has.Count.EqualTo(errorCount));
            if (errorCount > 0)
            {
                Assert.That(errors[0].Message, Does.Contain("'symbol'").And.Contain("'side'").And.Contain("alias"));
                Assert.That(errors[0].Location?.Line, Is.EqualTo(5));
            }
        }
    }

    [Test]
    public void ApplyText_SubPubArrayKey_ReportsTypeError()
    {
        var o = Load("""
            [services.s]
            type = "subpub"
            primary_table = "t"
            key = ["a"]
            """);

        Assert.That(Errors(o).Select(e => e.ToString()), Is.EqualTo(new[] { "mkio.toml(4,1): services.s.key: expected a string, got array" }));
    }

    [Test]
    public void ApplyText_ListenerServices_ReadAllKeys()
    {
        var o = Load("""
            [services.feed]
            type = "stream"
            primary_table = "audit_log"
            watch_tables = ["audit_log", "orders"]
            sql = "SELECT * FROM audit_log"
            buffer_size = 50
            publish = { e = "event" }
            filterable = ["event"]
            """);

        var s = o.Services.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(s.WatchTables, Is.EqualTo(new[] { "audit_log", "orders" }));
            Assert.That(s.Sql, Is.EqualTo("SELECT * FROM audit_log"));
            Assert.That(s.BufferSize, Is.EqualTo(50));
            Assert.That(s.Publish!["e"], Is.EqualTo("event"));
            Assert.That(s.Filterable, Is.EqualTo(new[] { "event" }));
        }
    }

    [Test]
    public void ApplyText_CustomServiceType_StoresOtherKeysInExtraWithoutWarning()
    {
        var o = Load("""
            [services.echo]
            type = "MyApp.EchoService"
            primary_table = "orders"
            greeting = "hi"
            limits = { max = 3, names = ["a", "b"] }
            """);

        var s = o.Services.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.LoadDiagnostics, Is.Empty);
            Assert.That(s.Type, Is.EqualTo("MyApp.EchoService"));
            Assert.That(s.PrimaryTable, Is.EqualTo("orders"));
            Assert.That(s.Extra.Keys, Is.EqualTo(new[] { "greeting", "limits" }));
            Assert.That(s.Extra["greeting"], Is.EqualTo("hi"));
            var limits = (OrderedDictionary<string, object?>)s.Extra["limits"]!;
            Assert.That(limits["max"], Is.EqualTo(3L));
            Assert.That(limits["names"], Is.EqualTo(new[] { "a", "b" }));
        }
    }

    [Test]
    public void ApplyText_StaticRoutes_KeepOrder()
    {
        var o = Load("""
            [static]
            "/" = "./static"
            "/assets" = "./public/assets"
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.Static, Is.EqualTo(new[] { new MkioStaticRoute("/", "./static"), new MkioStaticRoute("/assets", "./public/assets") }));
            Assert.That(o.Locations.Find("static./assets"), Is.EqualTo(new SourceLocation(SourceName, 3, 1)));
        }
    }

    [Test]
    public void ApplyText_SecondDocument_UpdatesTablesAndServicesByName()
    {
        var o = Load("""
            [tables.t]
            columns = { a = "TEXT", b = "TEXT" }
            [services.s]
            type = "subpub"
            primary_table = "t"
            key = "a"
            """);

        TomlConfigLoader.ApplyText("""
            [tables.t]
            columns = { c = "INTEGER" }
            [services.s]
            key = "b"
            """, "override.toml", o);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(o.Tables.Single().Columns.Keys, Is.EqualTo(new[] { "c" }));
            Assert.That(o.Services.Single().Key, Is.EqualTo("b"));
            Assert.That(o.Services.Single().PrimaryTable, Is.EqualTo("t"));
            Assert.That(o.Locations.Find("services.s.key"), Is.EqualTo(new SourceLocation("override.toml", 4, 1)));
        }
    }
}
