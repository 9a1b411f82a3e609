using System.Net;
using System.Text.Json;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Http.HttpTestSupport;

namespace Mkio.AspNetCore.Tests.Http;

/// <summary>
/// Discovery documents for configs other than fixture B, end to end: the worked example of PROTOCOL.md §11.2,
/// op defaults, descriptions, list-form op sets, examples, and F16 <c>required</c> reporting
/// (CONFORMANCE items 21–29).
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class ServiceDiscoveryTests
{
    private static Dictionary<string, object?> D(params (string Column, object? Value)[] values) =>
        values.ToDictionary(v => v.Column, v => v.Value);

    private static readonly Dictionary<string, string> AuditBind = new() { ["order_id"] = "$0.id", ["status"] = "$0.status" };

    /// <summary>The schema of the worked example: orders with a TEXT primary key.</summary>
    private static MkioOptions WorkedExampleTables(MkioOptions o)
    {
        o.DbPath = ":memory:";
        return o
            .Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER")
                .Column("price", "REAL DEFAULT 0")
                .Column("status", "TEXT DEFAULT 'pending'"))
            .Table("audit_log", t => t
                .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                .Column("event", "TEXT")
                .Column("order_id", "TEXT")
                .Column("status", "TEXT"));
    }

    private static async Task<string> DetailAsync(Action<MkioOptions> configure, string service, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(configure, ct);
        using var http = host.CreateHttpClient();
        var (response, body) = await GetAsync(http, "api/services/" + service, ct);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        return body;
    }

    private static string Raw(string json, params string[] path)
    {
        using var doc = JsonDocument.Parse(json);
        var e = doc.RootElement;
        foreach (var p in path)
        {
            e = int.TryParse(p, out var i) ? e[i] : e.GetProperty(p);
        }

        return e.GetRawText();
    }

    // ------------------------------------------------------------------ PROTOCOL.md §11.2 worked example (items 21, 22, 25)

    [Test, CancelAfter(30_000)]
    public async Task Detail_WorkedExampleOfProtocol_ExactOpSet(CancellationToken ct)
    {
        var body = await DetailAsync(o => WorkedExampleTables(o).Transaction("orders", tx => tx
            .Op("new", ops => ops
                .Insert("orders", ["id", "symbol", "qty", "price"])
                .Insert("audit_log", defaults: D(("event", "new")), bind: AuditBind))
            .Op("fill", ops => ops
                .Update("orders", ["id"], ["status"], D(("status", "filled"))))), "orders", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Raw(body, "ops", "new"), Is.EqualTo(
                """{"steps": [{"table": "orders", "op_type": "insert", "fields": {"id": {"type": "TEXT", "required": true}, "symbol": {"type": "TEXT", "required": true}, "qty": {"type": "INTEGER", "required": false}, "price": {"type": "REAL", "required": false, "default": "0"}}, "auto": {"status": {"type": "TEXT", "source": "default", "default": "'pending'"}}}, {"table": "audit_log", "op_type": "insert", "auto": {"id": {"type": "INTEGER", "source": "autoincrement"}, "event": {"type": "TEXT", "source": "op_default", "default": "new"}}, "bind": {"order_id": "$0.id", "status": "$0.status"}}], "example": "mkio send <url> orders --op new '{\"id\": \"...\", \"symbol\": \"...\", \"qty\": 0, \"price\": 0.0}'"}"""));
            Assert.That(Raw(body, "ops", "fill"), Is.EqualTo(
                """{"steps": [{"table": "orders", "op_type": "update", "fields": {"status": {"type": "TEXT", "required": false, "default": "filled"}, "id": {"type": "TEXT", "key": true, "required": true}}, "auto": {"symbol": {"type": "TEXT"}, "qty": {"type": "INTEGER"}, "price": {"type": "REAL", "source": "default", "default": "0"}}}], "example": "mkio send <url> orders --op fill '{\"id\": \"...\"}'"}"""));
            Assert.That(body, Does.StartWith("""{"name": "orders", "type": "transaction", "ops": {"new": """));
        }
    }

    // ------------------------------------------------------------------ item 25: op defaults keep their configured JSON type

    [Test, CancelAfter(30_000)]
    public async Task Detail_OpDefaults_ValuesAsConfigured(CancellationToken ct)
    {
        var body = await DetailAsync(o => WorkedExampleTables(o).Transaction("tweak", tx => tx.Ops(ops => ops
            .Update("orders", ["id"], ["qty", "price"], D(("qty", 5), ("price", 1.5), ("status", "x"), ("symbol", null))))), "tweak", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Raw(body, "ops", "default", "steps", "0", "fields"), Is.EqualTo(
                """{"qty": {"type": "INTEGER", "required": false, "default": 5}, "price": {"type": "REAL", "required": false, "default": 1.5}, "id": {"type": "TEXT", "key": true, "required": true}}"""));
            Assert.That(Raw(body, "ops", "default", "steps", "0", "auto"), Is.EqualTo(
                """{"status": {"type": "TEXT", "source": "op_default", "default": "x"}, "symbol": {"type": "TEXT", "source": "op_default", "default": null}}"""));
            Assert.That(Raw(body, "ops", "default", "example"), Is.EqualTo("\"mkio send <url> tweak '{\\\"id\\\": \\\"...\\\"}'\""));
        }
    }

    // ------------------------------------------------------------------ item 28: descriptions

    [Test, CancelAfter(30_000)]
    public async Task Detail_Descriptions_AppearWhenConfiguredAndNonEmpty(CancellationToken ct)
    {
        Action<MkioOptions> configure = o => WorkedExampleTables(o)
            .Transaction("orders", tx => tx
                .Description("Order lifecycle — café")
                .Op("place", ops => ops.Insert("orders", ["id", "symbol"]), "Create an order")
                .Op("cancel", ops => ops.Delete("orders", ["id"]))
                .Op("quiet", ops => ops.Delete("orders", ["id"]), string.Empty))
            .Query("all_orders", s => s.From("orders").Description("All orders"))
            .Stream("audit_feed", s => s.From("audit_log").Description(string.Empty));
        await using var host = await MkioTestHost.StartAsync(configure, ct);
        using var http = host.CreateHttpClient();
        var (_, orders) = await GetAsync(http, "api/services/orders", ct);
        var (_, query) = await GetAsync(http, "api/services/all_orders", ct);
        var (_, stream) = await GetAsync(http, "api/services/audit_feed", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(orders, Does.StartWith("""{"name": "orders", "type": "transaction", "description": "Order lifecycle \u2014 caf\u00e9", "ops": {"place": {"description": "Create an order", "steps": ["""));
            Assert.That(Raw(orders, "ops", "cancel"), Does.StartWith("""{"steps": """));
            Assert.That(Raw(orders, "ops", "quiet"), Does.StartWith("""{"steps": """));
            Assert.That(query, Does.StartWith("""{"name": "all_orders", "type": "query", "description": "All orders", "primary_table": "orders", "schema": """));
            Assert.That(stream, Does.StartWith("""{"name": "audit_feed", "type": "stream", "primary_table": "audit_log", "schema": """));
        }
    }

    // ------------------------------------------------------------------ item 29: list-form set as "default", examples

    [Test, CancelAfter(30_000)]
    public async Task Detail_ListFormOps_ReportedAsDefaultWithoutOpInExample(CancellationToken ct)
    {
        var body = await DetailAsync(Fixtures.FixtureA, "add_order", ct);
        Assert.That(body, Is.EqualTo(
            """{"name": "add_order", "type": "transaction", "ops": {"default": {"steps": [{"table": "orders", "op_type": "insert", "fields": {"id": {"type": "TEXT", "required": true}, "symbol": {"type": "TEXT", "required": true}, "qty": {"type": "INTEGER", "required": false}}, "auto": {"price": {"type": "REAL", "source": "default", "default": "0"}, "status": {"type": "TEXT", "source": "default", "default": "'pending'"}}}], "example": "mkio send <url> add_order '{\"id\": \"...\", \"symbol\": \"...\", \"qty\": 0}'"}}, "recovery": {"description": "Every result carries a ref; after a disconnect send a check message with that ref to learn whether the transaction committed.", "check_message": {"service": "add_order", "type": "check", "ref": "<ref>"}}}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Detail_FixtureAUpdateAndDelete_KeyFieldsAndExamples(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        using var http = host.CreateHttpClient();
        var (_, update) = await GetAsync(http, "api/services/update_order", ct);
        var (_, delete) = await GetAsync(http, "api/services/delete_order", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Raw(update, "ops", "default"), Is.EqualTo(
                """{"steps": [{"table": "orders", "op_type": "update", "fields": {"qty": {"type": "INTEGER", "required": false}, "id": {"type": "TEXT", "key": true, "required": true}}, "auto": {"symbol": {"type": "TEXT"}, "price": {"type": "REAL", "source": "default", "default": "0"}, "status": {"type": "TEXT", "source": "default", "default": "'pending'"}}}], "example": "mkio send <url> update_order '{\"id\": \"...\", \"qty\": 0}'"}"""));
            Assert.That(Raw(delete, "ops", "default"), Is.EqualTo(
                """{"steps": [{"table": "orders", "op_type": "delete", "fields": {"id": {"type": "TEXT", "key": true, "required": true}}, "auto": {"symbol": {"type": "TEXT"}, "qty": {"type": "INTEGER"}, "price": {"type": "REAL", "source": "default", "default": "0"}, "status": {"type": "TEXT", "source": "default", "default": "'pending'"}}}], "example": "mkio send <url> delete_order '{\"id\": \"...\"}'"}"""));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Detail_ExampleValues_TypedByDeclaredTypeKeyKeepsPosition(CancellationToken ct)
    {
        var body = await DetailAsync(o =>
        {
            o.DbPath = ":memory:";
            o.Table("items", t => t
                    .Column("id", "INTEGER PRIMARY KEY")
                    .Column("n", "INTEGER")
                    .Column("k", "INT")
                    .Column("price", "REAL")
                    .Column("amount", "DECIMAL(10, 2)")
                    .Column("label", "TEXT"))
                .Transaction("put", tx => tx.Upsert("items", ["id"], ["n", "k", "id", "price", "amount", "label"]));
        }, "put", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Raw(body, "ops", "default", "steps", "0"), Is.EqualTo(
                """{"table": "items", "op_type": "upsert", "fields": {"n": {"type": "INTEGER", "required": false}, "k": {"type": "INT", "required": false}, "id": {"type": "INTEGER", "key": true, "required": true}, "price": {"type": "REAL", "required": false}, "amount": {"type": "DECIMAL(10,", "required": false}, "label": {"type": "TEXT", "required": false}}}"""));
            Assert.That(JsonDocument.Parse(body).RootElement.GetProperty("ops").GetProperty("default").GetProperty("example").GetString(),
                Is.EqualTo("""mkio send <url> put '{"id": 0, "n": 0, "k": 0, "price": 0.0, "amount": "...", "label": "..."}'"""));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Detail_NothingForTheClientToSend_ExampleOmitted(CancellationToken ct)
    {
        var body = await DetailAsync(o => WorkedExampleTables(o)
            .Transaction("ping", tx => tx.Ops(ops => ops.Insert("audit_log", defaults: D(("event", "ping"))))), "ping", ct);
        Assert.That(Raw(body, "ops", "default"), Is.EqualTo(
            """{"steps": [{"table": "audit_log", "op_type": "insert", "auto": {"id": {"type": "INTEGER", "source": "autoincrement"}, "order_id": {"type": "TEXT"}, "status": {"type": "TEXT"}, "event": {"type": "TEXT", "source": "op_default", "default": "ping"}}}]}"""));
    }

    [Test, CancelAfter(30_000)]
    public async Task Detail_ListenerWithoutFilterable_NoFilterKeysAnywhere(CancellationToken ct)
    {
        var body = await DetailAsync(o => WorkedExampleTables(o).SubPub("latest", s => s.From("orders").Key("symbol")), "latest", ct);
        Assert.That(body, Is.EqualTo(
            """{"name": "latest", "type": "subpub", "primary_table": "orders", "key": "symbol", "schema": {"id": {"type": "TEXT", "pk": true}, "symbol": {"type": "TEXT"}, "qty": {"type": "INTEGER"}, "price": {"type": "REAL"}, "status": {"type": "TEXT"}}, "subscribe": {"message": {"service": "latest", "type": "subscribe"}, "recovery": "Send the last ref you received as \"ref\" when resubscribing: you get a delta of the changes since then from the change log, or a full snapshot when that ref is too old.", "response_types": ["snapshot", "delta", "update"], "change_log_size": 10000}, "example": {"subscribe": "mkio subscribe <url> latest", "subscribe_recover": "mkio subscribe <url> latest --ref \"<ref from last message>\""}}"""));
    }

    // ------------------------------------------------------------------ F16: required for primary keys

    [Test, CancelAfter(30_000)]
    public async Task Detail_PrimaryKeyFields_RequiredPerF16(CancellationToken ct)
    {
        var body = await DetailAsync(o =>
        {
            o.DbPath = ":memory:";
            o.Table("t_text", t => t.Column("id", "TEXT PRIMARY KEY").Column("v", "TEXT"))
                .Table("t_integer", t => t.Column("id", "INTEGER PRIMARY KEY").Column("v", "TEXT"))
                .Table("t_int", t => t.Column("id", "INT PRIMARY KEY").Column("v", "TEXT"))
                .Table("t_default", t => t.Column("id", "TEXT PRIMARY KEY DEFAULT 'x'").Column("v", "TEXT NOT NULL"))
                .Transaction("put", tx => tx.Ops(ops => ops
                    .Insert("t_text", ["id", "v"])
                    .Insert("t_integer", ["id", "v"])
                    .Insert("t_int", ["id", "v"])
                    .Insert("t_default", ["id", "v"])));
        }, "put", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Raw(body, "ops", "default", "steps", "0", "fields", "id"), Is.EqualTo("""{"type": "TEXT", "required": true}"""));
            Assert.That(Raw(body, "ops", "default", "steps", "1", "fields", "id"), Is.EqualTo("""{"type": "INTEGER", "required": false}"""));
            Assert.That(Raw(body, "ops", "default", "steps", "2", "fields", "id"), Is.EqualTo("""{"type": "INT", "required": true}"""));
            Assert.That(Raw(body, "ops", "default", "steps", "3", "fields", "id"), Is.EqualTo("""{"type": "TEXT", "required": false, "default": "'x'"}"""));
            Assert.That(Raw(body, "ops", "default", "steps", "3", "fields", "v"), Is.EqualTo("""{"type": "TEXT", "required": true}"""));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Required_ReportedFlags_AreTheWriteContract(CancellationToken ct)
    {
        // PROTOCOL.md §11.2: a request may omit exactly the fields reported "required": false.
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            o.DbPath = ":memory:";
            o.Table("t_text", t => t.Column("id", "TEXT PRIMARY KEY").Column("v", "TEXT"))
                .Table("t_integer", t => t.Column("id", "INTEGER PRIMARY KEY").Column("v", "TEXT NOT NULL"))
                .Transaction("put_text", tx => tx.Insert("t_text", ["id", "v"]))
                .Transaction("put_integer", tx => tx.Insert("t_integer", ["id", "v"]));
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);

        var textWithoutId = await ws.RequestAsync("""{"service":"put_text","ref":"a","data":{"v":"x"}}""", ct);
        var textWithoutV = await ws.RequestAsync("""{"service":"put_text","ref":"b","data":{"id":"1"}}""", ct);
        var integerWithoutId = await ws.RequestAsync("""{"service":"put_integer","ref":"c","data":{"v":"x"}}""", ct);
        var integerWithoutV = await ws.RequestAsync("""{"service":"put_integer","ref":"d","data":{"id":5}}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(textWithoutId.GetRawText(), Is.EqualTo("""{"type":"error","message":"Missing field: 'id'","ref":"a"}"""));
            Assert.That(textWithoutV.GetRawText(), Is.EqualTo("""{"type":"result","service":"put_text","ref":"b","ok":true}"""));
            Assert.That(integerWithoutId.GetRawText(), Is.EqualTo("""{"type":"result","service":"put_integer","ref":"c","ok":true}"""));
            Assert.That(integerWithoutV.GetRawText(), Is.EqualTo("""{"type":"error","message":"Missing field: 'v'","ref":"d"}"""));
        }
    }

    // ------------------------------------------------------------------ item 26: subpub schema key order / custom listener sql

    [Test, CancelAfter(30_000)]
    public async Task List_ListenerWithWatchTables_ReportsConfiguredList(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o => WorkedExampleTables(o)
            .Query("joined", s => s.From("orders").Watch("orders", "audit_log").Sql("SELECT o.id, a.event FROM orders o JOIN audit_log a ON a.order_id = o.id").Filterable("event")), ct);
        using var http = host.CreateHttpClient();
        var (_, list) = await GetAsync(http, "api/services", ct);
        var (_, detail) = await GetAsync(http, "api/services/joined", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(list, Is.EqualTo("""[{"name": "joined", "type": "query", "primary_table": "orders", "watch_tables": ["orders", "audit_log"]}]"""));
            Assert.That(detail, Does.StartWith("""{"name": "joined", "type": "query", "primary_table": "orders", "filterable": ["event"], "schema": {"id": {"type": "TEXT", "pk": true}, """));
            Assert.That(Raw(detail, "example", "subscribe_filter"), Is.EqualTo("\"mkio subscribe <url> joined --filter \\\"event == '...'\\\"\""));
        }
    }
}
