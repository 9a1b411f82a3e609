using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>CONFORMANCE items 53–59 (SERVICES.md §5.1–5.3, §5.6): op-set selection, defaults, binds, atomicity.</summary>
[Parallelizable(ParallelScope.Children)]
public class OpSetTests
{
    private static Dictionary<string, object?> Defaults(string column, object? value) => new() { [column] = value };

    private static Dictionary<string, string> Bind(params (string Column, string Ref)[] binds) => binds.ToDictionary(b => b.Column, b => b.Ref);

    /// <summary>The order-book op sets (samples/OrderBook/mkio.toml) on fixture B's tables, plus text-key and single-set services.</summary>
    private static void OrderBook(MkioOptions o)
    {
        o.DbPath = TxTest.DbFile;
        o.BatchMaxWaitMs = 1.0;
        Mkio.Testing.OrderBookModel.Tables(o, appendOnlyAudit: false)
            .Table("torders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL"))
            .Table("taudit", t => t
                .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                .Column("event", "TEXT NOT NULL")
                .Column("order_id", "TEXT"))
            .Transaction("orders", tx => tx
                .Op("new", ops => ops
                    .Insert("orders", ["side", "symbol", "qty", "price"])
                    .Insert("audit_log", defaults: Defaults("event", "new"), bind: Bind(("order_id", "$0.id"), ("status", "$0.status"))))
                .Op("accept", ops => ops
                    .Update("orders", ["id"], ["status"], defaults: Defaults("status", "accepted"))
                    .Insert("audit_log", defaults: Defaults("event", "accepted"), bind: Bind(("order_id", "$0.id"), ("status", "$0.status"))))
                .Op("fill", ops => ops
                    .Update("orders", ["id"], ["status"], defaults: Defaults("status", "filled"))
                    .Insert("audit_log", defaults: Defaults("event", "filled"), bind: Bind(("order_id", "$0.id"), ("status", "$0.status")))))
            .Transaction("text_orders", tx => tx
                .Op("place", ops => ops
                    .Insert("torders", ["id", "symbol"])
                    .Insert("taudit", ["event"], defaults: Defaults("event", "placed"), bind: Bind(("order_id", "$0.id")))))
            .Transaction("qty_default", tx => tx
                .Ops(ops => ops.Insert("orders", ["side", "symbol", "qty"], defaults: Defaults("qty", 5L))));
    }

    [Test, CancelAfter(30_000)]
    public async Task NamedOp_Selected_RunsThatSet(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(OrderBook, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"orders","op":"new","ref":"n1","data":{"side":"Buy","symbol":"AAPL","qty":100,"price":150.0}}""",
            """{"service":"orders","op":"fill","ref":"f1","data":{"id":1}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"result","service":"orders","ref":"n1","ok":true}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"orders","ref":"f1","ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT id, side, symbol, qty, price, status, _mkio_ref FROM orders"),
                Is.EqualTo(new[] { new object?[] { 1L, "Buy", "AAPL", 100L, 150.0, "filled", "f1" } }));
            Assert.That(TxTest.Query(host, "SELECT id, event, order_id, status, _mkio_ref FROM audit_log ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { 1L, "new", 1L, "pending", "n1" },
                new object?[] { 2L, "filled", 1L, "filled", "f1" },
            }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Op_UnknownOrOnListForm_UnknownOpWithPythonReprThenTheOps(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            OrderBook(o);
            o.Transaction("add_order", tx => tx.Insert("torders", ["id", "symbol"]));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"orders","op":"zzz","ref":"u1","data":{"side":"Buy","symbol":"AAPL"}}""",
            """{"service":"add_order","op":"zzz","ref":"u2","data":{"id":"1","symbol":"A"}}""",
            """{"service":"add_order","op":"default","ref":"u3","data":{"id":"1","symbol":"A"}}""",
            """{"service":"orders","op":5,"ref":"u4"}""",
            """{"service":"orders","op":"it's","ref":"u5"}""",
            """{"service":"orders","op":"NEW","ref":"u6","msgid":6}""",
            """{"service":"add_order","op":null,"ref":"u7","data":{"id":"7","symbol":"A"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Unknown op: 'zzz'. Available ops: new, accept, fill","ref":"u1"}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"error","message":"Unknown op: 'zzz'","ref":"u2"}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"error","message":"Unknown op: 'default'","ref":"u3"}"""));
            Assert.That(replies[3].Text, Is.EqualTo("""{"type":"error","message":"Unknown op: 5. Available ops: new, accept, fill","ref":"u4"}"""));
            Assert.That(replies[4].Text, Is.EqualTo("""{"type":"error","message":"Unknown op: \"it's\". Available ops: new, accept, fill","ref":"u5"}"""));
            Assert.That(replies[5].Text, Is.EqualTo("""{"type":"error","message":"Unknown op: 'NEW'. Available ops: new, accept, fill. Did you mean 'new'?","ref":"u6","msgid":6}"""));
            Assert.That(replies[6].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"u7","ok":true}"""), "a null op counts as absent");
            Assert.That(TxTest.Count(host, "orders") + TxTest.Count(host, "audit_log"), Is.Zero);
            Assert.That(TxTest.Column(host, "SELECT id FROM torders"), Is.EqualTo(new object[] { "7" }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Op_OmittedWithSeveralNamedSets_MultipleOpsErrorWithEmDash(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(OrderBook, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"orders","ref":"m1","data":{"side":"Buy","symbol":"AAPL"}}""",
            """{"service":"orders","op":null,"ref":"m2","msgid":"x"}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Multiple ops defined \u2014 specify 'op' field","ref":"m1"}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"error","message":"Multiple ops defined \u2014 specify 'op' field","ref":"m2","msgid":"x"}"""));
            Assert.That(TxTest.Count(host, "orders"), Is.Zero);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Op_OmittedWithOneNamedSet_RunsIt(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(OrderBook, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"text_orders","ref":"p1","data":{"id":"ORD1","symbol":"AAPL"}}""",
            """{"service":"text_orders","op":"place","ref":"p2","data":{"id":"ORD2","symbol":"AAPL"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"result","service":"text_orders","ref":"p1","ok":true}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"text_orders","ref":"p2","ok":true}"""));
            Assert.That(TxTest.Column(host, "SELECT id FROM torders ORDER BY id"), Is.EqualTo(new object[] { "ORD1", "ORD2" }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task OpDefaults_FieldOmitted_DefaultUsedAndClientValueOverrides(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(OrderBook, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"qty_default","ref":"d1","data":{"side":"Buy","symbol":"A"}}""",
            """{"service":"qty_default","ref":"d2","data":{"side":"Buy","symbol":"B","qty":7}}""",
            """{"service":"qty_default","ref":"d3","data":{"side":"Buy","symbol":"C","qty":null}}""",
            """{"service":"orders","op":"accept","ref":"a1","data":{"id":1}}""",
            """{"service":"orders","op":"accept","ref":"a2","data":{"id":2,"status":"custom","event":"client-event"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Json.GetProperty("type").GetString()), Is.All.EqualTo("result"));
            Assert.That(TxTest.Query(host, "SELECT symbol, qty, status FROM orders ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { "A", 5L, "accepted" },
                new object?[] { "B", 7L, "custom" },
                new object?[] { "C", null, "pending" },
            }));

            // The audit op's event default applies unless the client sends one ("event" is a parameter of op 1).
            Assert.That(TxTest.Query(host, "SELECT event, order_id, status FROM audit_log ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { "accepted", 1L, "accepted" },
                new object?[] { "client-event", 2L, "custom" },
            }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Bind_TextKey_TakesValueFromEarlierOpsRowAndIgnoresClientValue(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(OrderBook, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"text_orders","op":"place","ref":"b1","data":{"id":"ORD1","symbol":"AAPL","order_id":"HACK","event":"e"}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"text_orders","ref":"b1","ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT id, event, order_id, _mkio_ref FROM taudit"), Is.EqualTo(new[] { new object?[] { 1L, "e", "ORD1", "b1" } }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Bind_AutoincrementId_CapturesGeneratedId(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureBOnFile, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"orders","op":"place","ref":"p1","data":{"side":"Buy","symbol":"AAPL","qty":100,"price":150.0,"event":"new"}}""",
            """{"service":"orders","op":"place","ref":"p2","data":{"side":"Sell","symbol":"MSFT","qty":5,"price":2.5,"event":"new","id":99}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Text), Is.EqualTo(new[]
            {
                """{"type":"result","service":"orders","ref":"p1","ok":true}""",
                """{"type":"result","service":"orders","ref":"p2","ok":true}""",
            }));
            Assert.That(TxTest.Query(host, "SELECT o.id, o.symbol, a.order_id, a.status, a.event, a._mkio_ref FROM orders o JOIN audit_log a ON a.order_id = o.id ORDER BY o.id"), Is.EqualTo(new[]
            {
                new object?[] { 1L, "AAPL", 1L, "pending", "new", "p1" },
                new object?[] { 2L, "MSFT", 2L, "pending", "new", "p2" },
            }));
        }
    }

    /// <summary>Item 58: an update of a non-existent id leaves the bind reading client data, which lacks <c>status</c>.</summary>
    [Test, CancelAfter(30_000)]
    public async Task Bind_ColumnMissingFromSourceRow_MissingFieldAndAllOpsRolledBack(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(OrderBook, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"orders","op":"accept","ref":"x1","data":{"id":12345}}""",
            """{"service":"orders","op":"accept","ref":"x2","msgid":2,"data":{"id":12345,"status":"given"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'status'","ref":"x1"}"""));

            // With the value in the client data, the bind falls back to it and the audit row is written.
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"orders","ref":"x2","msgid":2,"ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT event, order_id, status, _mkio_ref FROM audit_log"), Is.EqualTo(new[] { new object?[] { "accepted", 12345L, "given", "x2" } }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task MultiOp_SecondOpFails_NoRowFromFirstOp(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(OrderBook, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"text_orders","op":"place","ref":"a1","data":{"id":"ORD1","symbol":"AAPL","event":null}}""",
            """{"service":"orders","op":"new","ref":"a2","data":{"side":"Buy","symbol":"AAPL","qty":1,"price":1.5}}""",
            """{"service":"text_orders","op":"place","ref":"a3","data":{"id":"ORD1","symbol":"AAPL"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo($$"""{"type":"error","message":"{{StoreErrors.NotNullJson("taudit", "event")}}","ref":"a1"}"""));
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"result","service":"orders","ref":"a2","ok":true}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"result","service":"text_orders","ref":"a3","ok":true}"""), "the failed attempt left no ORD1 behind");
            Assert.That(TxTest.Query(host, "SELECT id, _mkio_ref FROM torders"), Is.EqualTo(new[] { new object?[] { "ORD1", "a3" } }));
            Assert.That(TxTest.Query(host, "SELECT order_id, event, _mkio_ref FROM taudit"), Is.EqualTo(new[] { new object?[] { "ORD1", "placed", "a3" } }));
        }
    }
}
