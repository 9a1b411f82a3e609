using System.Text.Json;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>
/// CONFORMANCE item 62 (upsert) and fixes F14 (item 147) and F16 (item 149): fields the descriptor
/// reports <c>required: false</c> may be omitted; <c>required: true</c> fields may not.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public partial class OptionalFieldTests
{
    private static void Fixture(MkioOptions o)
    {
        TxTest.FixtureAOnFile(o);
        o.Transaction("add_full", tx => tx.Insert("orders", ["id", "symbol", "qty", "price", "status"]))
            .Transaction("set_qty_price", tx => tx.Update("orders", ["id"], ["qty", "price"]))
            .Transaction("set_symbol", tx => tx.Update("orders", ["id"], ["symbol"]))
            .Transaction("upsert_order", tx => tx.Upsert("orders", ["id"], ["symbol", "qty", "price"]))
            .Table("t16", t => t
                .Column("code", "TEXT PRIMARY KEY")
                .Column("name", "TEXT"))
            .Table("t16i", t => t
                .Column("id", "INTEGER PRIMARY KEY")
                .Column("name", "TEXT"))
            .Transaction("add_t16", tx => tx.Insert("t16", ["code", "name"]))
            .Transaction("add_t16i", tx => tx.Insert("t16i", ["id", "name"]));
    }

    [Test, CancelAfter(30_000)]
    public async Task Insert_OptionalFieldsOmitted_ColumnDefaultsAndNullApply(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        using var events = new EventRecorder(TxTest.Engine(host).Bus);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_full","ref":"o1","data":{"id":"1","symbol":"A"}}""",
            """{"service":"add_full","ref":"o2","data":{"id":"2","symbol":"B","qty":null,"price":null,"status":null}}""",
            """{"service":"add_full","ref":"o3","data":{"id":"3","symbol":"C","qty":3,"price":2.5,"status":"open"}}""",
            """{"service":"add_order","ref":"o4","data":{"id":"4","symbol":"D"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Json.GetProperty("type").GetString()), Is.All.EqualTo("result"), string.Join("\n", replies.Select(r => r.Text)));
            Assert.That(TxTest.Query(host, "SELECT id, symbol, qty, price, typeof(price), status FROM orders ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { "1", "A", null, 0.0, "real", "pending" },
                new object?[] { "2", "B", null, null, "null", null },
                new object?[] { "3", "C", 3L, 2.5, "real", "open" },
                new object?[] { "4", "D", null, 0.0, "real", "pending" },
            }));

            // The inserted row published to listeners carries the default (RETURNING may report 0 or 0.0).
            var first = events.Events[0].Row;
            Assert.That(first.TryGetValue("price", out var price) ? Convert.ToDouble(price, System.Globalization.CultureInfo.InvariantCulture) : -1, Is.Zero);
            Assert.That(first.TryGetValue("status", out var status) ? status : null, Is.EqualTo("pending"));
            Assert.That(first.TryGetValue("qty", out var qty) ? qty : "absent", Is.Null);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Update_OptionalFieldOmitted_StoredValueKept(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_full","ref":"i","data":{"id":"1","symbol":"A","qty":10,"price":1.5}}""",
            """{"service":"set_qty_price","ref":"u1","data":{"id":"1","price":2.5}}""",
        ], ct);
        var afterPrice = TxTest.Query(host, "SELECT qty, price, _mkio_ref FROM orders");
        var replies2 = await TxTest.PipelineAsync(ws,
        [
            """{"service":"set_qty_price","ref":"u2","data":{"id":"1","qty":11}}""",
        ], ct);
        var afterQty = TxTest.Query(host, "SELECT qty, price, _mkio_ref FROM orders");
        var replies3 = await TxTest.PipelineAsync(ws,
        [
            """{"service":"set_qty_price","ref":"u3","data":{"id":"1"}}""",
            """{"service":"set_qty_price","ref":"u4","data":{"id":"1","qty":null}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Concat(replies2).Concat(replies3).Select(r => r.Json.GetProperty("type").GetString()), Is.All.EqualTo("result"));
            Assert.That(afterPrice, Is.EqualTo(new[] { new object?[] { 10L, 2.5, "u1" } }));
            Assert.That(afterQty, Is.EqualTo(new[] { new object?[] { 11L, 2.5, "u2" } }));
            Assert.That(TxTest.Query(host, "SELECT qty, price, _mkio_ref FROM orders"), Is.EqualTo(new[] { new object?[] { null, 2.5, "u4" } }), "an explicit null is bound, not omitted");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task RequiredField_Omitted_MissingFieldAndNothingWritten(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_full","ref":"i","data":{"id":"1","symbol":"A"}}""",
            """{"service":"add_full","ref":"r1","data":{"id":"2","qty":1,"price":1.0}}""",
            """{"service":"set_symbol","ref":"r2","data":{"id":"1"}}""",
            """{"service":"set_qty_price","ref":"r3","data":{"qty":1}}""",
            """{"service":"upsert_order","ref":"r4","data":{"id":"1","qty":1}}""",
            """{"service":"upsert_order","ref":"r5","data":{"symbol":"A"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[1].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'symbol'","ref":"r1"}"""));
            Assert.That(replies[2].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'symbol'","ref":"r2"}"""));
            Assert.That(replies[3].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'id'","ref":"r3"}"""));
            Assert.That(replies[4].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'symbol'","ref":"r4"}"""));
            Assert.That(replies[5].Text, Is.EqualTo("""{"type":"error","message":"Missing field: 'id'","ref":"r5"}"""));
            Assert.That(TxTest.Query(host, "SELECT id, symbol, qty, _mkio_ref FROM orders"), Is.EqualTo(new[] { new object?[] { "1", "A", null, "i" } }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Upsert_NewAndExistingKey_InsertsThenUpdatesNonKeyColumns(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var insert = await ws.RequestAsync("""{"service":"upsert_order","ref":"p1","data":{"id":"1","symbol":"A","qty":10,"price":1.5}}""", ct);
        var afterInsert = TxTest.Query(host, "SELECT id, symbol, qty, price, status, _mkio_ref FROM orders");
        var update = await ws.RequestAsync("""{"service":"upsert_order","ref":"p2","data":{"id":"1","symbol":"B","qty":20,"price":2.5}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(insert.GetRawText(), Is.EqualTo("""{"type":"result","service":"upsert_order","ref":"p1","ok":true}"""));
            Assert.That(update.GetRawText(), Is.EqualTo("""{"type":"result","service":"upsert_order","ref":"p2","ok":true}"""));
            Assert.That(afterInsert, Is.EqualTo(new[] { new object?[] { "1", "A", 10L, 1.5, "pending", "p1" } }));
            Assert.That(TxTest.Query(host, "SELECT id, symbol, qty, price, status, _mkio_ref FROM orders"), Is.EqualTo(new[] { new object?[] { "1", "B", 20L, 2.5, "pending", "p2" } }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Upsert_OptionalFieldOmitted_DefaultOnInsertKeptOnUpdate(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"upsert_order","ref":"p1","data":{"id":"1","symbol":"A"}}""",
            """{"service":"upsert_order","ref":"p2","data":{"id":"2","symbol":"B","qty":5,"price":9.5}}""",
        ], ct);
        var afterInsert = TxTest.Query(host, "SELECT id, qty, price, typeof(price) FROM orders ORDER BY id");
        var replies2 = await TxTest.PipelineAsync(ws,
        [
            """{"service":"upsert_order","ref":"p3","data":{"id":"2","symbol":"B2"}}""",
            """{"service":"upsert_order","ref":"p4","data":{"id":"1","symbol":"A2","price":3.5}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Concat(replies2).Select(r => r.Json.GetProperty("type").GetString()), Is.All.EqualTo("result"));
            Assert.That(afterInsert, Is.EqualTo(new[]
            {
                new object?[] { "1", null, 0.0, "real" },
                new object?[] { "2", 5L, 9.5, "real" },
            }));
            Assert.That(TxTest.Query(host, "SELECT id, symbol, qty, price, _mkio_ref FROM orders ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { "1", "A2", null, 3.5, "p4" },
                new object?[] { "2", "B2", 5L, 9.5, "p3" },
            }));
        }
    }

}
