using Mkio.Data;
using Mkio.Discovery;
using Mkio.Model;
using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Model;

/// <summary>
/// Normalisation performed by the model compiler (CONFIG.md §6; CONFORMANCE items 10–16). Errors are in
/// <c>ModelCompilerTests.Errors.cs</c>, TOML positions and TOML/code-first equivalence in <c>ModelCompilerTests.Toml.cs</c>.
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed partial class ModelCompilerTests
{
    /// <summary>Fixture A's tables (CONFORMANCE.md), code-first.</summary>
    private static MkioOptions FixtureATables(MkioOptions o) => o
        .Table("orders", t => t
            .Column("id", "TEXT PRIMARY KEY")
            .Column("symbol", "TEXT NOT NULL")
            .Column("qty", "INTEGER")
            .Column("price", "REAL DEFAULT 0")
            .Column("status", "TEXT DEFAULT 'pending'"))
        .Table("audit_log", t => t
            .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
            .Column("event", "TEXT")
            .Column("order_id", "TEXT"));

    private const string FixtureATablesToml = """
        db_path = ":memory:"

        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER", price = "REAL DEFAULT 0", status = "TEXT DEFAULT 'pending'" }

        [tables.audit_log]
        columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", event = "TEXT", order_id = "TEXT" }

        """;

    // ------------------------------------------------------------------ item 10: transaction shorthand

    [Test]
    public void Compile_TransactionShorthand_NormalisesToOneUnnamedOpSet()
    {
        var model = CompileToml("""
            [tables.items]
            columns = { id = "TEXT PRIMARY KEY", name = "TEXT" }

            [services.add_item]
            type = "transaction"
            table = "items"
            op_type = "insert"
            fields = ["id", "name"]
            """);

        var tx = (TransactionServiceModel)model.Services.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(tx.Named, Is.False);
            Assert.That(tx.OpSets, Has.Length.EqualTo(1));
            Assert.That(tx.OpSets[0].Name, Is.Null);
            Assert.That(tx.OpSets[0].DisplayName, Is.EqualTo("default"));
            Assert.That(tx.OpSets[0].Ops, Has.Length.EqualTo(1));
            Assert.That(tx.OpSets[0].Ops[0].Table.Name, Is.EqualTo("items"));
            Assert.That(tx.OpSets[0].Ops[0].Type, Is.EqualTo(OpType.Insert));
            Assert.That(tx.OpSets[0].Ops[0].Fields, Is.EqualTo(new[] { "id", "name" }));
            Assert.That(tx.OpSets[0].Ops[0].Key, Is.Empty);
            Assert.That(tx.Tables, Is.EqualTo(new[] { "items" }));
        }
    }

    [Test]
    public void Discovery_TransactionShorthand_ReportsTablesWithoutTableOrOpsKeys()
    {
        var model = CompileToml("""
            [tables.items]
            columns = { id = "TEXT PRIMARY KEY", name = "TEXT" }

            [services.add_item]
            type = "transaction"
            table = "items"
            op_type = "insert"
            fields = ["id", "name"]
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Text(ServiceDiscovery.List(model)), Is.EqualTo("""[{"name": "add_item", "type": "transaction", "tables": ["items"]}]"""));
            Assert.That(Text(ServiceDiscovery.Detail(model, model.Services[0])), Does.StartWith("""{"name": "add_item", "type": "transaction", "ops": {"default": {"steps": [{"table": "items", "op_type": "insert", """));
        }
    }

    [Test]
    public void Compile_ShorthandWithKey_MovesKeyIntoTheOp()
    {
        var model = CompileToml(FixtureATablesToml + """
            [services.set_qty]
            type = "transaction"
            table = "orders"
            op_type = "update"
            key = ["id"]
            fields = ["qty"]
            """);

        var op = ((TransactionServiceModel)model.Services.Single()).OpSets.Single().Ops.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(op.Type, Is.EqualTo(OpType.Update));
            Assert.That(op.Key, Is.EqualTo(new[] { "id" }));
            Assert.That(op.Fields, Is.EqualTo(new[] { "qty" }));
            Assert.That(op.Params.Select(p => p.Name), Is.EqualTo(new[] { "qty", "_mkio_ref", "id" }));
        }
    }

    [Test]
    public void Compile_ShorthandWithServiceLevelDefaultsAndBind_IgnoresThemWithWarnings()
    {
        var model = CompileToml(FixtureATablesToml + """
            [services.add]
            type = "transaction"
            table = "orders"
            op_type = "insert"
            fields = ["id", "symbol"]
            defaults = { qty = 1 }
            bind = { price = "$0.qty" }
            """);

        var op = ((TransactionServiceModel)model.Services.Single()).OpSets.Single().Ops.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(op.Defaults, Is.Empty);
            Assert.That(op.BindRaw, Is.Empty);
            Assert.That(model.Warnings.Select(w => w.Path), Is.EqualTo(new[] { "services.add.defaults", "services.add.bind" }));
            Assert.That(model.Warnings.Select(w => w.Message), Is.EqualTo(new[]
            {
                "'defaults' has no effect at service level (the transaction shorthand does not move it into the op); ignored",
                "'bind' has no effect at service level (the transaction shorthand does not move it into the op); ignored",
            }));
        }
    }

    [Test]
    public void Compile_CodeFirstShorthandMethods_EqualTomlShorthand()
    {
        var toml = CompileToml(FixtureATablesToml + """
            [services.add_order]
            type = "transaction"
            table = "orders"
            op_type = "insert"
            fields = ["id", "symbol", "qty"]

            [services.update_order]
            type = "transaction"
            table = "orders"
            op_type = "update"
            key = ["id"]
            fields = ["qty"]

            [services.delete_order]
            type = "transaction"
            table = "orders"
            op_type = "delete"
            key = ["id"]
            """);
        var code = CompileCode(o => FixtureATables(o)
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "symbol", "qty"]))
            .Transaction("update_order", tx => tx.Update("orders", ["id"], ["qty"]))
            .Transaction("delete_order", tx => tx.Delete("orders", ["id"])));

        Assert.That(Dump(code), Is.EqualTo(Dump(toml)));
    }

    // ------------------------------------------------------------------ item 11: watch_tables default

    [TestCase("subpub", "SubPub")]
    [TestCase("stream", "Stream")]
    [TestCase("query", "Query")]
    public void Compile_ListenerWithoutWatchTables_WatchesPrimaryTable(string type, string kind)
    {
        var model = CompileToml(FixtureATablesToml + $"""
            [services.feed]
            type = "{type}"
            primary_table = "orders"
            {(type == "subpub" ? "key = \"id\"" : string.Empty)}
            """);

        var listener = (ListenerServiceModel)model.Services.Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(listener.Kind.ToString(), Is.EqualTo(kind));
            Assert.That(listener.WatchTables, Is.EqualTo(new[] { "orders" }));
            Assert.That(listener.Sql, Is.EqualTo("SELECT * FROM orders"));
            Assert.That(listener.HasCustomSql, Is.False);
            Assert.That(Text(ServiceDiscovery.List(model)), Is.EqualTo($$"""[{"name": "feed", "type": "{{type}}", "primary_table": "orders", "watch_tables": ["orders"]}]"""));
        }
    }

    [Test]
    public void Compile_ListenerWithWatchTables_KeepsConfiguredOrder()
    {
        var model = CompileCode(o => FixtureATables(o).Query("q", s => s.From("orders").Watch("audit_log", "orders")));
        Assert.That(((ListenerServiceModel)model.Services.Single()).WatchTables, Is.EqualTo(new[] { "audit_log", "orders" }));
    }

    [Test]
    public void Compile_ListenerWithEmptyWatchTables_WatchesPrimaryTable()
    {
        var model = CompileCode(o => FixtureATables(o).Stream("s", s => s.From("audit_log").Watch()));
        Assert.That(((ListenerServiceModel)model.Services.Single()).WatchTables, Is.EqualTo(new[] { "audit_log" }));
    }

    // ------------------------------------------------------------------ change_log_size / buffer_size defaults

    [Test]
    public void Compile_ChangeLogSizeOmitted_SubPubAndQueryInheritGlobalTransactionAndStreamDoNot()
    {
        var model = CompileToml("change_log_size = 50\n" + FixtureATablesToml + """
            [services.add_order]
            type = "transaction"
            table = "orders"
            op_type = "insert"
            fields = ["id", "symbol"]

            [services.last_trade]
            type = "subpub"
            primary_table = "orders"
            key = "id"

            [services.all_orders]
            type = "query"
            primary_table = "orders"

            [services.audit_feed]
            type = "stream"
            primary_table = "audit_log"
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(((TransactionServiceModel)model.ServicesByName["add_order"]).ResultCacheSize, Is.EqualTo(10000));
            Assert.That(((ListenerServiceModel)model.ServicesByName["last_trade"]).ChangeLogSize, Is.EqualTo(50));
            Assert.That(((ListenerServiceModel)model.ServicesByName["all_orders"]).ChangeLogSize, Is.EqualTo(50));
            Assert.That(((ListenerServiceModel)model.ServicesByName["audit_feed"]).BufferSize, Is.EqualTo(10000));
        }
    }

    [Test]
    public void Compile_DefaultGlobalChangeLogSize_ListenersGet10000()
    {
        var model = CompileCode(o => FixtureATables(o)
            .SubPub("last_trade", s => s.From("orders").Key("id"))
            .Query("all_orders", s => s.From("orders")));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(((ListenerServiceModel)model.ServicesByName["last_trade"]).ChangeLogSize, Is.EqualTo(10000));
            Assert.That(((ListenerServiceModel)model.ServicesByName["all_orders"]).ChangeLogSize, Is.EqualTo(10000));
        }
    }

    [Test]
    public void Compile_ExplicitSizes_OverrideDefaults()
    {
        var model = CompileCode(o =>
        {
            o.ChangeLogSize = 50;
            FixtureATables(o)
                .Transaction("add_order", tx => tx.Insert("orders", ["id", "symbol"]).ChangeLogSize(3))
                .SubPub("last_trade", s => s.From("orders").Key("id").ChangeLogSize(100))
                .Query("all_orders", s => s.From("orders").ChangeLogSize(7))
                .Stream("audit_feed", s => s.From("audit_log").BufferSize(100));
        });
        using (Assert.EnterMultipleScope())
        {
            Assert.That(((TransactionServiceModel)model.ServicesByName["add_order"]).ResultCacheSize, Is.EqualTo(3));
            Assert.That(((ListenerServiceModel)model.ServicesByName["last_trade"]).ChangeLogSize, Is.EqualTo(100));
            Assert.That(((ListenerServiceModel)model.ServicesByName["all_orders"]).ChangeLogSize, Is.EqualTo(7));
            Assert.That(((ListenerServiceModel)model.ServicesByName["audit_feed"]).BufferSize, Is.EqualTo(100));
        }
    }

    // ------------------------------------------------------------------ items 12–13: filterable

    [Test]
    public void Compile_FilterableColumnOfWatchedTable_Accepted()
    {
        var model = CompileCode(o => FixtureATables(o)
            .Query("q", s => s.From("orders").Watch("orders", "audit_log").Filterable("status", "event")));
        Assert.That(model.Services[0].Filterable, Is.EqualTo(new[] { "status", "event" }));
    }

    [Test]
    public void Compile_FilterableComputedAliasWithSql_Accepted()
    {
        var model = CompileCode(o => FixtureATables(o)
            .SubPub("doubled", s => s.From("orders").Key("id").Sql("SELECT id, qty * 2 AS double_qty FROM orders").Filterable("double_qty"))
            .Query("q", s => s.From("orders").Sql("SELECT id, UPPER(symbol) AS sym FROM orders").Filterable("sym")));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.ServicesByName["doubled"].Filterable, Is.EqualTo(new[] { "double_qty" }));
            Assert.That(((ListenerServiceModel)model.ServicesByName["doubled"]).Sql, Is.EqualTo("SELECT id, qty * 2 AS double_qty FROM orders"));
            Assert.That(((ListenerServiceModel)model.ServicesByName["doubled"]).HasCustomSql, Is.True);
            Assert.That(model.ServicesByName["q"].Filterable, Is.EqualTo(new[] { "sym" }));
        }
    }

    // ------------------------------------------------------------------ item 14: publish

    [Test]
    public void Compile_Publish_CompilesToFormatter()
    {
        var model = CompileToml(FixtureATablesToml + """
            [services.feed]
            type = "subpub"
            primary_table = "orders"
            key = "id"
            publish = { double_qty = "qty * 2" }
            """);

        var formatted = model.Services[0].Publish!.Format(MakeRow(("id", "1"), ("qty", 5L)));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(formatted.Schema.Names, Is.EqualTo(new[] { "double_qty" }));
            Assert.That(formatted[0], Is.EqualTo(10L));
        }
    }

    [Test]
    public void Compile_PublishSeveralFields_KeepsConfiguredOrder()
    {
        var model = CompileCode(o => FixtureATables(o)
            .Query("q", s => s.From("orders").Publish("z", "symbol").Publish("a", "qty + 1").Publish("m", "_mkio_ref")));
        var formatted = model.Services[0].Publish!.Format(MakeRow(("symbol", "A"), ("qty", 1L), ("_mkio_ref", "r1")));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(formatted.Schema.Names, Is.EqualTo(new[] { "z", "a", "m" }));
            Assert.That(formatted.Values.ToArray(), Is.EqualTo(new object?[] { "A", 2L, "r1" }));
        }
    }

    [Test]
    public void Compile_WhereOnSubPub_CompilesExpression()
    {
        var model = CompileCode(o => FixtureATables(o).SubPub("lt", s => s.From("orders").Key("id").Where("status == 'filled'")));
        var where = model.Services[0].Where!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(where.Text, Is.EqualTo("status == 'filled'"));
            Assert.That(where.IsTruthy(MakeRow(("status", "filled"))), Is.True);
            Assert.That(where.IsTruthy(MakeRow(("status", "pending"))), Is.False);
        }
    }

    // ------------------------------------------------------------------ item 16: keys accepted without error

    [Test]
    public void Compile_AppendOnlyTableAndWhereOnQuery_AcceptedWithoutErrorOrWarning()
    {
        var model = CompileToml(FixtureATablesToml.Replace("[tables.audit_log]", "[tables.audit_log]\nappend_only = true", StringComparison.Ordinal) + """
            [services.all_orders]
            type = "query"
            primary_table = "orders"
            where = "status == 'filled'"
            """);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.Warnings.Select(w => w.ToString()), Is.Empty);
            Assert.That(model.TablesByName["audit_log"].AppendOnly, Is.True);
            Assert.That(model.TablesByName["orders"].AppendOnly, Is.False);
            Assert.That(model.Services[0].Where?.Text, Is.EqualTo("status == 'filled'"));
        }
    }

    [Test]
    public void Compile_WhereAndPublishOnTransaction_CompiledButAccepted()
    {
        var model = CompileToml(FixtureATablesToml + """
            [services.add]
            type = "transaction"
            table = "orders"
            op_type = "insert"
            fields = ["id", "symbol"]
            where = "qty > 1"
            publish = { s = "symbol" }
            """);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.Services[0].Where?.Text, Is.EqualTo("qty > 1"));
            Assert.That(model.Services[0].Publish?.OutputSchema.Names, Is.EqualTo(new[] { "s" }));
        }
    }

    // ------------------------------------------------------------------ op parameters (SERVICES.md §5.1)

    [Test]
    public void Compile_InsertWithBindAndDefaults_ParamsInSqlOrder()
    {
        var model = CompileCode(o => FixtureATables(o)
            .Transaction("tx", tx => tx.Ops(ops => ops
                .Insert("orders", ["id", "symbol"])
                .Insert("audit_log", ["event"], new Dictionary<string, object?> { ["event"] = "new", ["order_id"] = "x" }, new Dictionary<string, string> { ["order_id"] = "$0.id" }))));
        var op = ((TransactionServiceModel)model.Services[0]).OpSets[0].Ops[1];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(op.Params.Select(p => $"{p.Name}:{p.Source}"), Is.EqualTo(new[] { "event:Data", "order_id:Bind", "_mkio_ref:Ref" }));
            Assert.That(op.Params[0].HasDefault, Is.True);
            Assert.That(op.Params[0].DefaultValue, Is.EqualTo("new"));
            Assert.That(op.Params[1].Bind, Is.EqualTo(new BindRef(0, "id", "$0.id")));
        }
    }

    [Test]
    public void Compile_UpsertOp_KeyParamsFirstThenOthersThenRef()
    {
        var model = CompileCode(o => FixtureATables(o)
            .Transaction("up", tx => tx.Upsert("orders", ["id"], ["symbol", "id", "qty"])));
        var op = ((TransactionServiceModel)model.Services[0]).OpSets[0].Ops[0];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(op.Params.Select(p => p.Name), Is.EqualTo(new[] { "id", "symbol", "qty", "_mkio_ref" }));
            Assert.That(op.Params.Select(p => p.IsKey), Is.EqualTo(new[] { true, false, false, false }));
        }
    }

    [Test]
    public void Compile_OptionalFields_MarkedPerF14()
    {
        var model = CompileCode(o => FixtureATables(o)
            .Transaction("add", tx => tx.Insert("orders", ["id", "symbol", "qty", "price", "status"])));
        var op = ((TransactionServiceModel)model.Services[0]).OpSets[0].Ops[0];
        Assert.That(op.Params.Where(p => p.Source == ParamSource.Data).Select(p => $"{p.Name}:{p.Optional}"),
            Is.EqualTo(new[] { "id:False", "symbol:False", "qty:True", "price:True", "status:True" }));
    }

    [Test]
    public void Compile_NamedOpSets_KeepConfigOrderAndFirstAppearanceTables()
    {
        var model = CompileCode(o => FixtureATables(o)
            .Transaction("orders", tx => tx
                .Op("zeta", ops => ops.Insert("audit_log", ["event"]))
                .Op("alpha", ops => ops.Insert("orders", ["id", "symbol"]).Insert("audit_log", ["event"]))));
        var tx = (TransactionServiceModel)model.Services[0];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(tx.Named, Is.True);
            Assert.That(tx.OpSets.Select(s => s.Name), Is.EqualTo(new[] { "zeta", "alpha" }));
            Assert.That(tx.Tables, Is.EqualTo(new[] { "audit_log", "orders" }));
            Assert.That(tx.FindOpSet("alpha")!.Ops, Has.Length.EqualTo(2));
            Assert.That(tx.FindOpSet("missing"), Is.Null);
        }
    }

    [Test]
    public void Compile_ServicesAndTables_KeepDeclarationOrder()
    {
        var model = CompileCode(o => FixtureATables(o)
            .Stream("s3", s => s.From("audit_log"))
            .Transaction("s1", tx => tx.Insert("orders", ["id", "symbol"]))
            .Query("s2", s => s.From("orders")));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.Tables.Select(t => t.Name), Is.EqualTo(new[] { "orders", "audit_log" }));
            Assert.That(model.Services.Select(s => s.Name), Is.EqualTo(new[] { "s3", "s1", "s2" }));
        }
    }

    [Test]
    public void Compile_CustomTypeRegistered_CompilesAsCustomServiceModel()
    {
        var options = FixtureATables(new MkioOptions { DbPath = ":memory:" });
        options.Services.Add(new MkioServiceOptions("mine") { Type = "echo", PrimaryTable = "orders" });
        var (model, errors) = ModelCompiler.TryCompile(options, customTypes: ["echo"]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(errors, Is.Empty);
            Assert.That(model!.Services[0], Is.InstanceOf<CustomServiceModel>());
            Assert.That(((CustomServiceModel)model.Services[0]).WatchTables, Is.EqualTo(new[] { "orders" }));
        }
    }

    private static string Text(byte[] utf8) => System.Text.Encoding.UTF8.GetString(utf8);
}
