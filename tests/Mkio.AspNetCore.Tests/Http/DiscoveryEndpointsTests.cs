using System.Net;
using System.Text;
using System.Text.Json;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Http.HttpTestSupport;

namespace Mkio.AspNetCore.Tests.Http;

/// <summary>
/// <c>GET /api/services[/{name}]</c> over real Kestrel with fixture B: exact bodies, key order and pretty-compact
/// separators (PROTOCOL.md §1.2, §1.5, §11; CONFORMANCE items 18–29).
/// </summary>
[NonParallelizable]
public sealed class DiscoveryEndpointsTests
{
    private const string JsonType = "application/json; charset=utf-8";

    private const string SchemaOrders = """{"id": {"type": "INTEGER", "pk": true}, "side": {"type": "TEXT"}, "symbol": {"type": "TEXT"}, "qty": {"type": "INTEGER"}, "price": {"type": "REAL"}, "status": {"type": "TEXT"}}""";

    private const string AuditStep = """{"table": "audit_log", "op_type": "insert", "fields": {"event": {"type": "TEXT", "required": false}}, "auto": {"id": {"type": "INTEGER", "source": "autoincrement"}}, "bind": {"order_id": "$0.id", "status": "$0.status"}}""";

    private static string TxRecovery(string name) =>
        "\"recovery\": {\"description\": \"Every result carries a ref; after a disconnect send a check message with that ref to learn whether the transaction committed.\", "
        + "\"check_message\": {\"service\": \"" + name + "\", \"type\": \"check\", \"ref\": \"<ref>\"}}";

    private static readonly string FixtureBOrders =
        """{"name": "orders", "type": "transaction", "ops": {"place": {"steps": [{"table": "orders", "op_type": "insert", "fields": {"side": {"type": "TEXT", "required": true}, "symbol": {"type": "TEXT", "required": true}, "qty": {"type": "INTEGER", "required": false}, "price": {"type": "REAL", "required": false, "default": "0"}}, "auto": {"id": {"type": "INTEGER", "source": "autoincrement"}, "status": {"type": "TEXT", "source": "default", "default": "'pending'"}}}, """
        + AuditStep
        + """], "example": "mkio send <url> orders --op place '{\"side\": \"...\", \"symbol\": \"...\", \"qty\": 0, \"price\": 0.0}'"}, "update_status": {"steps": [{"table": "orders", "op_type": "update", "fields": {"status": {"type": "TEXT", "required": false, "default": "'pending'"}, "id": {"type": "INTEGER", "key": true, "required": true}}, "auto": {"side": {"type": "TEXT"}, "symbol": {"type": "TEXT"}, "qty": {"type": "INTEGER"}, "price": {"type": "REAL", "source": "default", "default": "0"}}}, """
        + AuditStep
        + """], "example": "mkio send <url> orders --op update_status '{\"id\": \"...\", \"status\": \"...\"}'"}}, """
        + TxRecovery("orders")
        + "}";

    private static readonly string FixtureBLastTrade =
        """{"name": "last_trade", "type": "subpub", "primary_table": "orders", "key": "id", "filterable": ["status", "symbol"], "schema": """
        + SchemaOrders
        + """, "subscribe": {"message": {"service": "last_trade", "type": "subscribe", "filter": "<expr>"}, "recovery": "Send the last ref you received as \"ref\" when resubscribing: you get a delta of the changes since then from the change log, or a full snapshot when that ref is too old.", "response_types": ["snapshot", "delta", "update"], "change_log_size": 100, "filter_fields": ["status", "symbol"]}, "example": {"subscribe": "mkio subscribe <url> last_trade", "subscribe_filter": "mkio subscribe <url> last_trade --filter \"status == '...'\"", "subscribe_recover": "mkio subscribe <url> last_trade --ref \"<ref from last message>\""}}""";

    private const string FixtureBAuditFeed =
        """{"name": "audit_feed", "type": "stream", "primary_table": "audit_log", "schema": {"id": {"type": "INTEGER", "pk": true}, "event": {"type": "TEXT"}, "order_id": {"type": "INTEGER"}, "status": {"type": "TEXT"}}, "subscribe": {"message": {"service": "audit_feed", "type": "subscribe"}, "recovery": "Send the last ref you received as \"ref\" when resubscribing: you get the rows after it from the buffer, or the whole buffer when that ref is too old.", "response_types": ["snapshot", "update"], "buffer_size": 100}, "example": {"subscribe": "mkio subscribe <url> audit_feed", "subscribe_recover": "mkio subscribe <url> audit_feed --ref \"<ref from last message>\""}}""";

    private static readonly string FixtureBAllOrders =
        """{"name": "all_orders", "type": "query", "primary_table": "orders", "filterable": ["status", "symbol"], "schema": """
        + SchemaOrders
        + """, "subscribe": {"message": {"service": "all_orders", "type": "subscribe", "filter": "<expr>"}, "recovery": "Send the last ref you received as \"ref\" when resubscribing: you get a delta of the changes since then, or a full snapshot from the database when that ref is too old.", "response_types": ["snapshot", "delta", "update"], "change_log_size": 100, "filter_fields": ["status", "symbol"]}, "example": {"subscribe": "mkio subscribe <url> all_orders", "subscribe_filter": "mkio subscribe <url> all_orders --filter \"status == '...'\"", "subscribe_recover": "mkio subscribe <url> all_orders --ref \"<ref from last message>\""}}""";

    private MkioTestHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        _host = await MkioTestHost.StartAsync(Fixtures.FixtureB, cts.Token);
        _http = _host.CreateHttpClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    // ------------------------------------------------------------------ item 18: list

    [Test, CancelAfter(20_000)]
    public async Task List_FixtureB_ExactBodyInConfigOrder(CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, "api/services", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ContentType(response), Is.EqualTo(JsonType));
            Assert.That(body, Is.EqualTo(
                """[{"name": "orders", "type": "transaction", "tables": ["orders", "audit_log"], "ops": ["place", "update_status"]}, {"name": "last_trade", "type": "subpub", "primary_table": "orders", "watch_tables": ["orders"]}, {"name": "audit_feed", "type": "stream", "primary_table": "audit_log", "watch_tables": ["audit_log"]}, {"name": "all_orders", "type": "query", "primary_table": "orders", "watch_tables": ["orders"]}]"""));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task List_FixtureA_ListFormServicesHaveNoOpsKey(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        using var http = host.CreateHttpClient();
        var (_, body) = await GetAsync(http, "api/services", ct);
        Assert.That(body, Is.EqualTo(
            """[{"name": "add_order", "type": "transaction", "tables": ["orders"]}, {"name": "update_order", "type": "transaction", "tables": ["orders"]}, {"name": "delete_order", "type": "transaction", "tables": ["orders"]}, {"name": "last_trade", "type": "subpub", "primary_table": "orders", "watch_tables": ["orders"]}, {"name": "audit_feed", "type": "stream", "primary_table": "audit_log", "watch_tables": ["audit_log"]}, {"name": "all_orders", "type": "query", "primary_table": "orders", "watch_tables": ["orders"]}]"""));
    }

    // ------------------------------------------------------------------ item 19

    [Test, CancelAfter(30_000)]
    public async Task List_NoServices_ReturnsEmptyArray(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o => o.DbPath = ":memory:", ct);
        using var http = host.CreateHttpClient();
        var (response, body) = await GetAsync(http, "api/services", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ContentType(response), Is.EqualTo(JsonType));
            Assert.That(body, Is.EqualTo("[]"));
        }
    }

    // ------------------------------------------------------------------ item 20

    [Test, CancelAfter(20_000)]
    public async Task Detail_UnknownService_404WithJsonError(CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, "api/services/nonexistent", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(ContentType(response), Is.EqualTo(JsonType));
            Assert.That(body, Is.EqualTo("""{"error": "Unknown service: nonexistent"}"""));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Detail_UnknownNonAsciiName_ErrorEscapesNonAscii(CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, "api/services/caf%C3%A9", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(body, Is.EqualTo("""{"error": "Unknown service: caf\u00e9"}"""));
        }
    }

    // ------------------------------------------------------------------ items 21–27: FixtureB details

    [Test, CancelAfter(20_000)]
    public async Task Detail_TransactionWithNamedOps_ExactBody(CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, "api/services/orders", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ContentType(response), Is.EqualTo(JsonType));
            Assert.That(body, Is.EqualTo(FixtureBOrders));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Detail_TransactionPlace_ConformanceItems21To23(CancellationToken ct)
    {
        var (_, body) = await GetAsync(_http, "api/services/orders", ct);
        using var doc = JsonDocument.Parse(body);
        var place = doc.RootElement.GetProperty("ops").GetProperty("place");
        var steps = place.GetProperty("steps");
        var step0 = steps[0];
        var fields = step0.GetProperty("fields");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(steps.GetArrayLength(), Is.EqualTo(2));
            Assert.That(step0.GetProperty("table").GetString(), Is.EqualTo("orders"));
            Assert.That(step0.GetProperty("op_type").GetString(), Is.EqualTo("insert"));
            Assert.That(fields.GetProperty("side").GetRawText(), Is.EqualTo("""{"type": "TEXT", "required": true}"""));
            Assert.That(fields.GetProperty("symbol").GetRawText(), Is.EqualTo("""{"type": "TEXT", "required": true}"""));
            Assert.That(fields.GetProperty("qty").GetRawText(), Is.EqualTo("""{"type": "INTEGER", "required": false}"""));
            Assert.That(fields.GetProperty("price").GetRawText(), Is.EqualTo("""{"type": "REAL", "required": false, "default": "0"}"""));
            Assert.That(step0.GetProperty("auto").GetProperty("id").GetProperty("source").GetString(), Is.EqualTo("autoincrement"));
            Assert.That(step0.GetProperty("auto").GetProperty("status").GetRawText(), Is.EqualTo("""{"type": "TEXT", "source": "default", "default": "'pending'"}"""));
            Assert.That(steps[1].GetProperty("bind").GetRawText(), Is.EqualTo("""{"order_id": "$0.id", "status": "$0.status"}"""));
            Assert.That(doc.RootElement.GetProperty("recovery").GetProperty("check_message").GetRawText(),
                Is.EqualTo("""{"service": "orders", "type": "check", "ref": "<ref>"}"""));
            Assert.That(doc.RootElement.GetProperty("recovery").GetProperty("description").GetString(), Does.Contain("ref"));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Detail_UpdateStep_KeyColumnRequiredAndFieldListed(CancellationToken ct)
    {
        var (_, body) = await GetAsync(_http, "api/services/orders", ct);
        using var doc = JsonDocument.Parse(body);
        var step0 = doc.RootElement.GetProperty("ops").GetProperty("update_status").GetProperty("steps")[0];
        Assert.That(step0.GetProperty("fields").GetRawText(), Is.EqualTo(
            """{"status": {"type": "TEXT", "required": false, "default": "'pending'"}, "id": {"type": "INTEGER", "key": true, "required": true}}"""));
    }

    [Test, CancelAfter(20_000)]
    public async Task Detail_SubPub_ExactBody(CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, "api/services/last_trade", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(body, Is.EqualTo(FixtureBLastTrade));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Detail_Stream_ExactBody(CancellationToken ct)
    {
        var (_, body) = await GetAsync(_http, "api/services/audit_feed", ct);
        Assert.That(body, Is.EqualTo(FixtureBAuditFeed));
    }

    [Test, CancelAfter(20_000)]
    public async Task Detail_Query_ExactBody(CancellationToken ct)
    {
        var (_, body) = await GetAsync(_http, "api/services/all_orders", ct);
        Assert.That(body, Is.EqualTo(FixtureBAllOrders));
    }

    [TestCase("last_trade")]
    [TestCase("audit_feed")]
    [TestCase("all_orders")]
    [CancelAfter(20_000)]
    public async Task Detail_Listener_RecoveryMentionsRef(string service, CancellationToken ct)
    {
        var (_, body) = await GetAsync(_http, "api/services/" + service, ct);
        using var doc = JsonDocument.Parse(body);
        Assert.That(doc.RootElement.GetProperty("subscribe").GetProperty("recovery").GetString(), Does.Contain("ref"));
    }

    // ------------------------------------------------------------------ HEAD, 405, /ws without upgrade

    [TestCase("api/services")]
    [TestCase("api/services/orders")]
    [TestCase("api/services/last_trade")]
    [CancelAfter(20_000)]
    public async Task Head_DiscoveryRoute_SameHeadersNoBody(string path, CancellationToken ct)
    {
        var (get, getBody) = await SendAsync(_http, HttpMethod.Get, path, ct);
        var (head, headBody) = await SendAsync(_http, HttpMethod.Head, path, ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(head.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ContentType(head), Is.EqualTo(JsonType));
            Assert.That(head.Content.Headers.ContentLength, Is.EqualTo(getBody.Length));
            Assert.That(get.Content.Headers.ContentLength, Is.EqualTo(getBody.Length));
            Assert.That(headBody, Is.Empty);
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Head_UnknownService_404NoBody(CancellationToken ct)
    {
        var (head, headBody) = await SendAsync(_http, HttpMethod.Head, "api/services/nonexistent", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(head.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(head.Content.Headers.ContentLength, Is.EqualTo(Encoding.UTF8.GetByteCount("""{"error": "Unknown service: nonexistent"}""")));
            Assert.That(headBody, Is.Empty);
        }
    }

    [TestCase("POST", "api/services")]
    [TestCase("PUT", "api/services")]
    [TestCase("DELETE", "api/services")]
    [TestCase("POST", "api/services/orders")]
    [TestCase("POST", "mkio.js")]
    [CancelAfter(20_000)]
    public async Task WrongMethod_KnownPath_Returns405(string method, string path, CancellationToken ct)
    {
        var (response, _) = await SendAsync(_http, new HttpMethod(method), path, ct);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
    }

    [TestCase("ws")]
    [TestCase("ws/orders")]
    [TestCase("ws/nosuch")]
    [CancelAfter(20_000)]
    public async Task Get_WebSocketPathWithoutUpgrade_Returns400(string path, CancellationToken ct)
    {
        var (response, _) = await GetAsync(_http, path, ct);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [TestCase("nope")]
    [TestCase("api")]
    [TestCase("index.html")]
    [TestCase("static/index.html")]
    [CancelAfter(20_000)]
    public async Task Get_UnmappedPath_Returns404(string path, CancellationToken ct)
    {
        var (response, _) = await GetAsync(_http, path, ct);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }
}
