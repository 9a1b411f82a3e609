using Mkio.Model;
using static Mkio.Core.Tests.Model.ModelTestSupport;

namespace Mkio.Core.Tests.Model;

/// <summary>Every validation error of the model compiler, with its exact text (CONFIG.md §7; CONFORMANCE items 12, 15, 17).</summary>
public sealed partial class ModelCompilerTests
{
    private static Dictionary<string, object?> D(string column, object? value) => new() { [column] = value };

    private static Dictionary<string, string> B(string column, string reference) => new() { [column] = reference };

    // ------------------------------------------------------------------ item 17: service type

    [Test]
    public void Compile_UnknownServiceType_ReportsReferenceText()
    {
        var errors = CodeErrors(o =>
        {
            FixtureATables(o);
            o.Services.Add(new MkioServiceOptions("svc") { Type = "bogus" });
        });
        Assert.That(errors, Is.EqualTo(new[] { "services.svc.type: Unknown service type: 'bogus' for service 'svc'" }));
    }

    [Test]
    public void Compile_UnknownServiceTypeInToml_ReportsLineAndColumnOfTypeKey()
    {
        var errors = TomlErrors("""
            [services.svc]
            description = "x"
            type = "rpc"
            """);
        Assert.That(errors, Is.EqualTo(new[] { "mkio.toml(3,1): services.svc.type: Unknown service type: 'rpc' for service 'svc'" }));
    }

    [Test]
    public void Compile_MissingServiceType_ReportsUnknownServiceType()
    {
        var errors = CodeErrors(o => o.Services.Add(new MkioServiceOptions("svc")));
        Assert.That(errors, Is.EqualTo(new[] { "services.svc.type: Unknown service type: '' for service 'svc'" }));
    }

    [Test]
    public void Compile_ServiceTypeIsCaseSensitive_UppercaseIsUnknown()
    {
        var errors = CodeErrors(o =>
        {
            FixtureATables(o);
            o.Services.Add(new MkioServiceOptions("svc") { Type = "Query", PrimaryTable = "orders" });
        });
        Assert.That(errors, Is.EqualTo(new[] { "services.svc.type: Unknown service type: 'Query' for service 'svc'" }));
    }

    // ------------------------------------------------------------------ item 12: filterable

    [Test]
    public void Compile_FilterableUnknownField_ReportsReferenceText()
    {
        var errors = CodeErrors(o => FixtureATables(o).SubPub("last_trade", s => s.From("orders").Key("id").Filterable("status", "bogus")));
        Assert.That(errors, Is.EqualTo(new[] { "services.last_trade.filterable: Service 'last_trade': filterable field 'bogus' not found in tables ['orders']" }));
    }

    [Test]
    public void Compile_FilterableUnknownFieldSeveralWatchTables_ListsTablesPythonStyle()
    {
        var errors = CodeErrors(o => FixtureATables(o).Query("q", s => s.From("orders").Watch("orders", "audit_log").Filterable("bogus", "nope")));
        Assert.That(errors, Is.EqualTo(new[]
        {
            "services.q.filterable: Service 'q': filterable field 'bogus' not found in tables ['orders', 'audit_log']",
            "services.q.filterable: Service 'q': filterable field 'nope' not found in tables ['orders', 'audit_log']",
        }));
    }

    [Test]
    public void Compile_FilterableUnknownFieldOnStream_Reported()
    {
        var errors = CodeErrors(o => FixtureATables(o).Stream("feed", s => s.From("audit_log").Filterable("symbol")));
        Assert.That(errors, Is.EqualTo(new[] { "services.feed.filterable: Service 'feed': filterable field 'symbol' not found in tables ['audit_log']" }));
    }

    [Test]
    public void Compile_FilterableInToml_ReportsLineAndColumn()
    {
        var errors = TomlErrors(FixtureATablesToml + """
            [services.last_trade]
            type = "subpub"
            primary_table = "orders"
            key = "id"
            filterable = ["bogus"]
            """);
        Assert.That(errors, Is.EqualTo(new[] { "mkio.toml(12,1): services.last_trade.filterable: Service 'last_trade': filterable field 'bogus' not found in tables ['orders']" }));
    }

    // ------------------------------------------------------------------ item 15: expression syntax errors

    [Test]
    public void Compile_WhereSyntaxError_AbortsWithExpressionError()
    {
        var errors = CodeErrors(o => FixtureATables(o).SubPub("lt", s => s.From("orders").Key("id").Where("status == 'open")));
        Assert.That(errors, Is.EqualTo(new[] { "services.lt.where: invalid expression 'status == 'open': Unterminated string literal" }));
    }

    [Test]
    public void Compile_PublishSyntaxErrors_ReportsEachField()
    {
        var errors = CodeErrors(o => FixtureATables(o).Query("q", s => s.From("orders")
            .Publish("ok", "symbol")
            .Publish("bad", "qty %")
            .Publish("worse", "(1")));
        Assert.That(errors, Is.EqualTo(new[]
        {
            "services.q.publish.bad: invalid expression 'qty %': Unexpected character: '%' at position 4",
            "services.q.publish.worse: invalid expression '(1': Expected RPAREN, got EOF('')",
        }));
    }

    [Test]
    public void Compile_PublishUnknownFunction_AbortsAtCompileTime()
    {
        var errors = CodeErrors(o => FixtureATables(o).Stream("s", s => s.From("audit_log").Publish("x", "bogus(event)")));
        Assert.That(errors, Is.EqualTo(new[] { "services.s.publish.x: invalid expression 'bogus(event)': Unknown function: bogus" }));
    }

    [Test]
    public void Compile_WhereSyntaxErrorOnQueryAndTransaction_AlsoAborts()
    {
        var errors = CodeErrors(o =>
        {
            FixtureATables(o)
                .Query("q", s => s.From("orders").Where("a = 1"))
                .Transaction("t", tx => tx.Insert("orders", ["id", "symbol"]));
            o.Services[1].Where = "n > 3 AND";
        });
        Assert.That(errors, Is.EqualTo(new[]
        {
            "services.q.where: invalid expression 'a = 1': Unexpected token: '='",
            "services.t.where: invalid expression 'n > 3 AND': Unexpected token: ''",
        }));
    }

    [Test]
    public void Compile_WhereAndPublishErrorsInToml_ReportedTogetherWithPositions()
    {
        var options = Toml(FixtureATablesToml + """
            [services.lt]
            type = "subpub"
            primary_table = "orders"
            key = "id"
            where = "status == 'open"

            [services.lt.publish]
            symbol = "symbol"
            price = "IF(side == 'Buy', price, -price"
            """);
        var ex = Assert.Throws<MkioConfigurationException>(() => ModelCompiler.Compile(options))!;
        Assert.That(ex.Message, Is.EqualTo(string.Join(Environment.NewLine,
            "Invalid mkio configuration in mkio.toml (2 errors):",
            "  mkio.toml(16,1): services.lt.publish.price: invalid expression 'IF(side == 'Buy', price, -price': Expected RPAREN, got EOF('')",
            "  mkio.toml(12,1): services.lt.where: invalid expression 'status == 'open': Unterminated string literal")));
    }

    // ------------------------------------------------------------------ tables and columns in ops

    [Test]
    public void Compile_OpUnknownTable_SuggestsClosestName()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("add", tx => tx.Insert("ordrs", ["id"])));
        Assert.That(errors, Is.EqualTo(new[] { "services.add.ops[0].table: unknown table 'ordrs' (did you mean 'orders'?); declare it under [tables]." }));
    }

    [Test]
    public void Compile_OpUnknownTableNothingClose_NoSuggestion()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("add", tx => tx.Insert("zzz", ["id"])));
        Assert.That(errors, Is.EqualTo(new[] { "services.add.ops[0].table: unknown table 'zzz'; declare it under [tables]." }));
    }

    [Test]
    public void Compile_OpUnknownColumns_ReportsEveryListWithSuggestions()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", tx => tx.Ops(ops => ops
            .Insert("orders", ["id", "symbl"], D("stauts", "x"))
            .Update("orders", ["idd"], ["qty"], bind: B("qtyy", "$0.qty")))));
        Assert.That(errors, Is.EqualTo(new[]
        {
            "services.tx.ops[0].fields: table 'orders' has no column 'symbl' (did you mean 'symbol'?).",
            "services.tx.ops[0].defaults: table 'orders' has no column 'stauts' (did you mean 'status'?).",
            "services.tx.ops[1].key: table 'orders' has no column 'idd' (did you mean 'id'?).",
            "services.tx.ops[1].bind: table 'orders' has no column 'qtyy' (did you mean 'qty'?).",
        }));
    }

    [Test]
    public void Compile_OpUnknownColumnNothingClose_NoSuggestion()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("add", tx => tx.Insert("orders", ["id", "symbol", "volume"])));
        Assert.That(errors, Is.EqualTo(new[] { "services.add.ops[0].fields: table 'orders' has no column 'volume'." }));
    }

    [Test]
    public void Compile_OpWritesMkioRef_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("add", tx => tx.Insert("orders", ["id", "symbol", "_mkio_ref"])));
        Assert.That(errors, Is.EqualTo(new[] { "services.add.ops[0].fields: '_mkio_ref' is set by mkio and cannot be written by an op." }));
    }

    [Test]
    public void Compile_NamedOpSetErrors_PathNamesTheSet()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("orders", tx => tx
            .Op("place", ops => ops.Insert("orders", ["id", "symbol"]))
            .Op("fill", ops => ops.Update("orders", ["id"], ["stat"]))));
        Assert.That(errors, Is.EqualTo(new[] { "services.orders.ops.fill[0].fields: table 'orders' has no column 'stat' (did you mean 'status'?)." }));
    }

    // ------------------------------------------------------------------ empty key

    [Test]
    public void Compile_UpdateWithoutKey_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("u", tx => tx.Update("orders", [], ["qty"])));
        Assert.That(errors, Is.EqualTo(new[] { "services.u.ops[0].key: an update op needs 'key' (the columns that identify rows)." }));
    }

    [Test]
    public void Compile_DeleteWithoutKey_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("d", tx => tx.Delete("orders", [])));
        Assert.That(errors, Is.EqualTo(new[] { "services.d.ops[0].key: a delete op needs 'key' (the columns that identify rows)." }));
    }

    [Test]
    public void Compile_UpsertWithoutKey_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("up", tx => tx.Upsert("orders", [], ["id", "qty"])));
        Assert.That(errors, Is.EqualTo(new[] { "services.up.ops[0].key: an upsert op needs 'key' (the columns that identify rows)." }));
    }

    [Test]
    public void Compile_InsertWithoutKey_Accepted()
    {
        var model = CompileCode(o => FixtureATables(o).Transaction("i", tx => tx.Insert("orders", ["id", "symbol"])));
        Assert.That(((TransactionServiceModel)model.Services[0]).OpSets[0].Ops[0].Key, Is.Empty);
    }

    // ------------------------------------------------------------------ op types

    [Test]
    public void Compile_UnknownOpTypeInToml_ReportsOperationTypeWithPosition()
    {
        var errors = TomlErrors(FixtureATablesToml + """
            [services.tx]
            type = "transaction"
            ops = [
              { table = "orders", op_type = "merge", fields = ["id"] },
            ]
            """);
        Assert.That(errors, Is.EqualTo(new[] { "mkio.toml(11,23): services.tx.ops[0].op_type: Unknown operation type: merge (use insert, update, delete, upsert, undo or redo)" }));
    }

    [Test]
    public void Compile_OpWithoutOpType_ReportsNone()
    {
        var errors = TomlErrors(FixtureATablesToml + """
            [services.tx]
            type = "transaction"

            [[services.tx.ops]]
            table = "orders"
            fields = ["id"]
            """);
        Assert.That(errors, Is.EqualTo(new[] { "mkio.toml(12,1): services.tx.ops[0].op_type: Unknown operation type: None (use insert, update, delete, upsert, undo or redo)" }));
    }

    [Test]
    public void Compile_OpTypeIsCaseSensitive_UppercaseRefused()
    {
        var errors = TomlErrors(FixtureATablesToml + """
            [services.tx]
            type = "transaction"
            table = "orders"
            op_type = "INSERT"
            fields = ["id", "symbol"]
            """);
        Assert.That(errors, Is.EqualTo(new[] { "mkio.toml(11,1): services.tx.op_type: Unknown operation type: INSERT (use insert, update, delete, upsert, undo or redo)" }));
    }

    [Test]
    public void Compile_ShorthandWithoutOpType_Refused()
    {
        var errors = TomlErrors(FixtureATablesToml + """
            [services.add]
            type = "transaction"
            table = "orders"
            fields = ["id", "symbol"]
            """);
        Assert.That(errors, Is.EqualTo(new[] { "mkio.toml(8,11): services.add.op_type: service 'add' uses the 'table' shorthand but has no 'op_type' (insert, update, delete or upsert)." }));
    }

    [Test]
    public void Compile_ShorthandErrors_PointAtTheShorthandKeys()
    {
        var errors = TomlErrors(FixtureATablesToml + """
            [services.add]
            type = "transaction"
            table = "orders"
            op_type = "update"
            fields = ["id", "symbl"]

            [services.add2]
            type = "transaction"
            table = "ordrs"
            op_type = "insert"
            """);
        Assert.That(errors, Is.EqualTo(new[]
        {
            "mkio.toml(12,1): services.add.fields: table 'orders' has no column 'symbl' (did you mean 'symbol'?).",
            "mkio.toml(8,11): services.add.key: an update op needs 'key' (the columns that identify rows).",
            "mkio.toml(16,1): services.add2.table: unknown table 'ordrs' (did you mean 'orders'?); declare it under [tables].",
        }));
    }

    [Test]
    public void Compile_TransactionWithoutOps_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", _ => { }));
        Assert.That(errors, Is.EqualTo(new[] { "services.tx: transaction service 'tx' has no ops: set 'ops', or 'table' + 'op_type' (+ 'fields'/'key')." }));
    }

    [Test]
    public void Compile_EmptyNamedOpSet_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", tx => tx.Op("nothing", _ => { })));
        Assert.That(errors, Is.EqualTo(new[] { "services.tx.ops.nothing: op set has no ops." }));
    }

    // ------------------------------------------------------------------ bind

    [TestCase("order.id")]
    [TestCase("$0id")]
    [TestCase("0.id")]
    [TestCase("")]
    public void Compile_MalformedBindReference_ReportsReferenceText(string reference)
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", tx => tx.Ops(ops => ops
            .Insert("orders", ["id", "symbol"])
            .Insert("audit_log", ["event"], bind: B("order_id", reference)))));
        Assert.That(errors, Is.EqualTo(new[] { $"services.tx.ops[1].bind.order_id: Invalid bind reference: '{reference}' (must be '$N.field')" }));
    }

    [TestCase("$x.id", "x")]
    [TestCase("$.id", "")]
    [TestCase("$-1.id", "-1")]
    [TestCase("$ 0.id", " 0")]
    public void Compile_BindReferenceWithoutOpNumber_SaysSo(string reference, string number)
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", tx => tx.Ops(ops => ops
            .Insert("orders", ["id", "symbol"])
            .Insert("audit_log", ["event"], bind: B("order_id", reference)))));
        Assert.That(errors, Is.EqualTo(new[] { $"services.tx.ops[1].bind.order_id: Invalid bind reference: '{reference}' (must be '$N.field'; '{number}' is not an op number)" }));
    }

    [Test]
    public void Compile_BindInFirstOp_ForwardReferenceRefused()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", tx => tx.Ops(ops => ops
            .Insert("audit_log", ["event"], bind: B("order_id", "$1.id"))
            .Insert("orders", ["id", "symbol"]))));
        Assert.That(errors, Is.EqualTo(new[] { "services.tx.ops[0].bind.order_id: '$1.id' refers to op 1; no op precedes op 0." }));
    }

    [Test]
    public void Compile_BindToItself_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", tx => tx.Ops(ops => ops
            .Insert("orders", ["id", "symbol"])
            .Insert("audit_log", ["event"], bind: B("order_id", "$1.id")))));
        Assert.That(errors, Is.EqualTo(new[] { "services.tx.ops[1].bind.order_id: '$1.id' refers to op 1; only op 0 precedes it." }));
    }

    [Test]
    public void Compile_BindOutOfRange_ListsPrecedingOps()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", tx => tx.Ops(ops => ops
            .Insert("orders", ["id", "symbol"])
            .Insert("audit_log", ["event"])
            .Insert("audit_log", ["event"], bind: B("order_id", "$5.id"))
            .Insert("audit_log", ["event"], bind: B("order_id", "$3.id")))));
        Assert.That(errors, Is.EqualTo(new[]
        {
            "services.tx.ops[2].bind.order_id: '$5.id' refers to op 5; only ops 0–1 precede it.",
            "services.tx.ops[3].bind.order_id: '$3.id' refers to op 3; only ops 0–2 precede it.",
        }));
    }

    [Test]
    public void Compile_BindToMissingSourceColumn_NamesTheSourceTable()
    {
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", tx => tx.Ops(ops => ops
            .Insert("orders", ["id", "symbol"])
            .Insert("audit_log", ["event"], bind: B("order_id", "$0.nope")))));
        Assert.That(errors, Is.EqualTo(new[] { "services.tx.ops[1].bind.order_id: '$0.nope': op 0 writes table 'orders', which has no column 'nope'." }));
    }

    [Test]
    public void Compile_BindToMkioRefOfEarlierOp_Accepted()
    {
        var model = CompileCode(o => FixtureATables(o).Transaction("tx", tx => tx.Ops(ops => ops
            .Insert("orders", ["id", "symbol"])
            .Insert("audit_log", ["event"], bind: B("order_id", "$0._mkio_ref")))));
        var bind = ((TransactionServiceModel)model.Services[0]).OpSets[0].Ops[1].Params.Single(p => p.Source == ParamSource.Bind);
        Assert.That(bind.Bind, Is.EqualTo(new BindRef(0, "_mkio_ref", "$0._mkio_ref")));
    }

    [Test]
    public void Compile_BindAfterAnInvalidOp_ChecksTheRightEarlierOp()
    {
        // Op 0 is invalid. Op 2's "$0.symbol" must not be checked against op 1 (audit_log, which has no
        // 'symbol'): only the real problem is reported.
        var errors = CodeErrors(o => FixtureATables(o).Transaction("tx", tx => tx.Ops(ops => ops
            .Insert("ordrs", ["id", "symbol"])
            .Insert("audit_log", ["event"])
            .Insert("orders", ["id"], bind: B("symbol", "$0.symbol")))));
        Assert.That(errors, Is.EqualTo(new[] { "services.tx.ops[0].table: unknown table 'ordrs' (did you mean 'orders'?); declare it under [tables]." }));
    }

    [Test]
    public void Compile_BindErrorInToml_ReportsPositionOfBindKey()
    {
        var errors = TomlErrors(FixtureATablesToml + """
            [services.tx]
            type = "transaction"

            [[services.tx.ops.new]]
            table = "orders"
            op_type = "insert"
            fields = ["id", "symbol"]

            [[services.tx.ops.new]]
            table = "audit_log"
            op_type = "insert"
            bind = { order_id = "$3.id" }
            """);
        Assert.That(errors, Is.EqualTo(new[] { "mkio.toml(19,10): services.tx.ops.new[1].bind.order_id: '$3.id' refers to op 3; only op 0 precedes it." }));
    }

    // ------------------------------------------------------------------ listeners

    [Test]
    public void Compile_ListenerWithoutPrimaryTable_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o)
            .SubPub("lt", s => s.Key("id"))
            .Stream("st", _ => { })
            .Query("q", _ => { }));
        Assert.That(errors, Is.EqualTo(new[]
        {
            "services.lt.primary_table: subpub service 'lt' needs 'primary_table'.",
            "services.st.primary_table: stream service 'st' needs 'primary_table'.",
            "services.q.primary_table: query service 'q' needs 'primary_table'.",
        }));
    }

    [Test]
    public void Compile_ListenerUnknownPrimaryTable_SuggestsClosest()
    {
        var errors = CodeErrors(o => FixtureATables(o).Query("q", s => s.From("order")));
        Assert.That(errors, Is.EqualTo(new[] { "services.q.primary_table: unknown table 'order' (did you mean 'orders'?); declare it under [tables]." }));
    }

    [Test]
    public void Compile_ListenerUnknownWatchTable_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o).Query("q", s => s.From("orders").Watch("orders", "audit_lg", "zzz")));
        Assert.That(errors, Is.EqualTo(new[]
        {
            "services.q.watch_tables: unknown table 'audit_lg' (did you mean 'audit_log'?) in watch_tables.",
            "services.q.watch_tables: unknown table 'zzz' in watch_tables.",
        }));
    }

    [Test]
    public void Compile_SubPubWithoutKey_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o).SubPub("lt", s => s.From("orders")));
        Assert.That(errors, Is.EqualTo(new[] { "services.lt.key: subpub service 'lt' needs 'key' (the cache key column)." }));
    }

    [Test]
    public void Compile_SubPubKeyNotAColumn_SuggestsClosest()
    {
        var errors = CodeErrors(o => FixtureATables(o).SubPub("lt", s => s.From("orders").Key("symbl")));
        Assert.That(errors, Is.EqualTo(new[] { "services.lt.key: table 'orders' has no column 'symbl' (did you mean 'symbol'?)." }));
    }

    [Test]
    public void Compile_SubPubKeyWithCustomSql_NotChecked()
    {
        var model = CompileCode(o => FixtureATables(o).SubPub("lt", s => s.From("orders").Key("sym").Sql("SELECT symbol AS sym, qty FROM orders")));
        Assert.That(((ListenerServiceModel)model.Services[0]).Key, Is.EqualTo("sym"));
    }

    // ------------------------------------------------------------------ several errors at once

    [Test]
    public void Compile_SeveralErrorsInToml_ReportsAllWithLineAndColumn()
    {
        var options = Toml("""
            [tables.orders]
            columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", symbol = "TEXT NOT NULL", status = "TEXT DEFAULT 'pending'" }

            [tables.audit_log]
            columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", event = "TEXT", order_id = "INTEGER" }

            [services.orders]
            type = "transaction"

            [[services.orders.ops.new]]
            table = "orders"
            op_type = "insert"
            fields = ["symbl"]

            [[services.orders.ops.new]]
            table = "audit_log"
            op_type = "insert"
            bind = { order_id = "$3.id" }

            [services.feed]
            type = "stream"
            primary_table = "audit_lg"

            [services.weird]
            type = "bogus"
            """);

        var ex = Assert.Throws<MkioConfigurationException>(() => ModelCompiler.Compile(options))!;
        var expected = new[]
        {
            "mkio.toml(13,1): services.orders.ops.new[0].fields: table 'orders' has no column 'symbl' (did you mean 'symbol'?).",
            "mkio.toml(18,10): services.orders.ops.new[1].bind.order_id: '$3.id' refers to op 3; only op 0 precedes it.",
            "mkio.toml(22,1): services.feed.primary_table: unknown table 'audit_lg' (did you mean 'audit_log'?); declare it under [tables].",
            "mkio.toml(25,1): services.weird.type: Unknown service type: 'bogus' for service 'weird'",
        };
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex.Errors, Is.EqualTo(expected));
            Assert.That(ex.Message, Is.EqualTo("Invalid mkio configuration in mkio.toml (4 errors):" + string.Concat(expected.Select(e => Environment.NewLine + "  " + e))));
            Assert.That(ex.SourceName, Is.EqualTo("mkio.toml"));
            Assert.That(ex.Line, Is.EqualTo(13));
            Assert.That(ex.Column, Is.EqualTo(1));
        }
    }

    [Test]
    public void Compile_OneErrorCodeFirst_SingleLineMessageWithoutSource()
    {
        var options = FixtureATables(new MkioOptions());
        options.Query("q", s => s.From("nope"));
        var ex = Assert.Throws<MkioConfigurationException>(() => ModelCompiler.Compile(options))!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex.Message, Is.EqualTo("Invalid mkio configuration: services.q.primary_table: unknown table 'nope'; declare it under [tables]."));
            Assert.That(ex.Errors, Is.EqualTo(new[] { "services.q.primary_table: unknown table 'nope'; declare it under [tables]." }));
            Assert.That(ex.SourceName, Is.Null);
            Assert.That(ex.Line, Is.Zero);
            Assert.That(ex.Column, Is.Zero);
        }
    }

    [Test]
    public void Compile_TomlSyntaxErrorPlusNothingElse_ReportsParseErrorAndNoSemanticNoise()
    {
        var options = Toml("""
            [tables.orders]
            columns = { id = "TEXT" }
            [services.x]
            type =
            """);
        var ex = Assert.Throws<MkioConfigurationException>(() => ModelCompiler.Compile(options))!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex.Errors, Has.Count.EqualTo(1));
            Assert.That(ex.Errors[0], Does.StartWith("mkio.toml(4,"));
            Assert.That(ex.Line, Is.EqualTo(4));
        }
    }

    // ------------------------------------------------------------------ unknown keys are warnings

    [Test]
    public void Compile_UnknownKeys_OnlyWarningsAndModelCompiles()
    {
        var model = CompileToml("""
            prot = 9000

            [tables.orders]
            columns = { id = "TEXT PRIMARY KEY", status = "TEXT" }
            apend_only = true

            [services.feed]
            type = "query"
            primary_table = "orders"
            filterabel = ["status"]
            """);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.Services.Select(s => s.Name), Is.EqualTo(new[] { "feed" }));
            Assert.That(model.Services[0].Filterable, Is.Empty);
            Assert.That(model.Warnings.Select(w => w.ToString()), Is.EqualTo(new[]
            {
                "mkio.toml(1,1): prot: unknown key 'prot' (ignored); did you mean 'port'?",
                "mkio.toml(5,1): tables.orders.apend_only: unknown key 'apend_only' (ignored); did you mean 'append_only'?",
                "mkio.toml(10,1): services.feed.filterabel: unknown key 'filterabel' (ignored); did you mean 'filterable'?",
            }));
        }
    }

    // ------------------------------------------------------------------ tables and top level

    [Test]
    public void Compile_TableProblems_ReportedPerTable()
    {
        var errors = CodeErrors(o =>
        {
            o.Table("empty", _ => { })
                .Table("bad name", t => t.Column("id", "TEXT"))
                .Table("_mkio_stuff", t => t.Column("id", "TEXT"))
                .Table("t", t => t.Column("_mkio_ref", "TEXT").Column("a b", "TEXT").Column("c", "TEXT; DROP TABLE x"))
                .Table("two_pk", t => t.Column("a", "INTEGER PRIMARY KEY").Column("b", "TEXT PRIMARY KEY"));
            o.Tables.Add(new MkioTableOptions("two_pk"));
        });
        Assert.That(errors, Is.EqualTo(new[]
        {
            "tables.empty.columns: table 'empty' has no columns; 'columns' is required.",
            "tables.bad name: table name 'bad name' is not a plain identifier (letters, digits and '_', not starting with a digit).",
            "tables._mkio_stuff: table name '_mkio_stuff' is reserved (names starting with '_mkio' or 'sqlite_').",
            "tables.t.columns._mkio_ref: '_mkio_ref' is added by mkio to every table; do not declare it.",
            "tables.t.columns.a b: column name 'a b' is not a plain identifier.",
            "tables.t.columns.c: column definition 'TEXT; DROP TABLE x' must not contain ';'.",
            "tables.two_pk.columns: table 'two_pk' declares more than one PRIMARY KEY column; SQLite allows one column-level primary key.",
            "tables.two_pk: table 'two_pk' is declared twice.",
        }));
    }

    [Test]
    public void Compile_TopLevelOutOfRange_ReportsEach()
    {
        var errors = CodeErrors(o =>
        {
            o.Port = 70000;
            o.DbPath = " ";
            o.BatchMaxSize = 0;
            o.BatchMaxWaitMs = -1;
            o.ChangeLogSize = 0;
            o.ShutdownTimeout = -1;
        });
        Assert.That(errors, Is.EqualTo(new[]
        {
            "port: must be between 0 and 65535, got 70000 (TOML 'port', host option 'Mkio:Port').",
            "db_path: must not be empty (use \":memory:\" for an in-memory database) (TOML 'db_path', host option 'Mkio:DbPath').",
            "batch_max_size: must be at least 1, got 0 (TOML 'batch_max_size', host option 'Mkio:BatchMaxSize').",
            "batch_max_wait_ms: must be a finite number of milliseconds ≥ 0, got -1 (TOML 'batch_max_wait_ms', host option 'Mkio:BatchMaxWaitMs').",
            "change_log_size: must be at least 1, got 0 (TOML 'change_log_size', host option 'Mkio:ChangeLogSize').",
            "shutdown_timeout: must be a number of seconds ≥ 0 (TOML 'shutdown_timeout', host option 'Mkio:ShutdownTimeout').",
        }));
    }

    [Test]
    public void Compile_DuplicateServiceName_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o)
            .Query("q", s => s.From("orders"))
            .Stream("q", s => s.From("audit_log")));
        Assert.That(errors, Is.EqualTo(new[] { "services.q: service 'q' is declared twice." }));
    }

    [Test]
    public void Compile_StaticDirectoryMissing_Refused()
    {
        var missing = Path.Combine(Path.GetTempPath(), "mkio-tests", "no-such-dir-" + Guid.NewGuid().ToString("N"));
        var errors = CodeErrors(o => o.StaticFiles("/", missing).StaticFiles("assets", missing));
        Assert.That(errors, Is.EqualTo(new[]
        {
            $"static./: directory '{missing}' does not exist (resolved against the working directory to '{missing}').",
            "static.assets: route prefix 'assets' must start with '/'.",
            $"static.assets: directory '{missing}' does not exist (resolved against the working directory to '{missing}').",
        }));
    }

    [Test]
    public void Compile_SizesBelowOne_Refused()
    {
        var errors = CodeErrors(o => FixtureATables(o)
            .Transaction("t", tx => tx.Insert("orders", ["id", "symbol"]).ChangeLogSize(0))
            .SubPub("lt", s => s.From("orders").Key("id").ChangeLogSize(-1))
            .Stream("st", s => s.From("audit_log").BufferSize(0)));
        Assert.That(errors, Is.EqualTo(new[]
        {
            "services.t.change_log_size: must be at least 1, got 0.",
            "services.lt.change_log_size: must be at least 1, got -1.",
            "services.st.buffer_size: must be at least 1, got 0.",
        }));
    }
}
