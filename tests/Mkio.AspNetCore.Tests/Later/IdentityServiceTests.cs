using System.Net;
using System.Text.Json;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary>The built-in <c>_mkio</c> service end to end: identity, compatibility, table schema, hidden from discovery.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class IdentityServiceTests
{
    [Test, CancelAfter(60_000)]
    public async Task Identity_RowKeysInOrderWithConfigIdentity(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            var reply = JsonDocument.Parse(await ws.AskAsync("""{"type":"request","service":"_mkio","reqid":"x"}""", ct)).RootElement;
            var row = reply.GetProperty("row");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(reply.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "type", "service", "reqid", "row" }));
                Assert.That(row.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "name", "version", "mkio", "protocol", "services", "tables", "config_hash", "uptime", "started" }));
                Assert.That(row.GetProperty("name").GetString(), Is.EqualTo("shop"));
                Assert.That(row.GetProperty("version").GetString(), Is.EqualTo("1.4.2"));
                Assert.That(row.GetProperty("protocol").GetString(), Is.EqualTo("1.0"));
                Assert.That(row.GetProperty("mkio").GetString(), Does.Match(@"^\d+\.\d+\.\d+"));
                Assert.That(row.GetProperty("services").GetRawText(), Is.EqualTo("""{"add_item":"transaction","items":"query","prices":"subpub","price":"reqrep","list":"reqrep","priced":"reqrep","tax":"reqrep","echo":"reqrep","spin":"reqrep","wipe":"reqrep"}"""));
                Assert.That(row.GetProperty("tables").GetRawText(), Is.EqualTo("""["items"]"""));
                Assert.That(row.GetProperty("config_hash").GetString(), Does.Match("^[0-9a-f]{8}$"));
                Assert.That(row.GetProperty("uptime").ValueKind, Is.EqualTo(JsonValueKind.Number));
                Assert.That(row.GetProperty("started").GetString(), Has.Length.EqualTo(30));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Identity_ConfigHash_StableForOneConfigAndDifferentForAnother(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        async Task<string> HashAsync(string config)
        {
            var (host, _) = await LaterHost.StartAsync(ct, config, dir: dir);
            await using (host)
            {
                await using var ws = await host.ConnectAsync("ws", ct);
                var reply = JsonDocument.Parse(await ws.AskAsync("""{"type":"request","service":"_mkio"}""", ct)).RootElement;
                return reply.GetProperty("row").GetProperty("config_hash").GetString()!;
            }
        }

        var a = await HashAsync(LaterHost.Config);
        var b = await HashAsync(LaterHost.Config);
        var c = await HashAsync(LaterHost.Config.Replace("version = \"1.4.2\"", "version = \"1.4.3\"", StringComparison.Ordinal));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(b, Is.EqualTo(a));
            Assert.That(c, Is.Not.EqualTo(a));
        }
    }

    [TestCase("""{"version":"1.2"}""", true, """{"version":true}""")]
    [TestCase("""{"version":"1.5"}""", false, """{"version":false}""")]
    [TestCase("""{"version":"2.0"}""", false, """{"version":false}""")]
    [TestCase("""{"version":"1.4.2","protocol":"1.0"}""", true, """{"version":true,"protocol":true}""")]
    [TestCase("""{"protocol":"1.1","version":"1"}""", false, """{"version":false,"protocol":false}""")]
    [TestCase("""{"version":"1.4.2-beta","other":1}""", false, """{"version":false}""")]
    [CancelAfter(60_000)]
    public async Task Identity_Compatibility(string data, bool compatible, string detail, CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            var row = JsonDocument.Parse(await ws.AskAsync($$"""{"type":"request","service":"_mkio","reqid":"c","data":{{data}}}""", ct)).RootElement.GetProperty("row");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(row.GetProperty("compatible").GetBoolean(), Is.EqualTo(compatible));
                Assert.That(row.GetProperty("compatibility").GetRawText(), Is.EqualTo(detail));
                Assert.That(row.EnumerateObject().Select(p => p.Name).TakeLast(2), Is.EqualTo(new[] { "compatible", "compatibility" }));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Identity_TableSchemaAndUnknownTable(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            var schema = await ws.AskAsync("""{"type":"request","service":"_mkio","reqid":"s","data":{"table":"items"}}""", ct);
            var unknown = await ws.AskAsync("""{"type":"request","service":"_mkio","reqid":"u","data":{"table":"orders"}}""", ct);
            var subscribe = await ws.AskAsync("""{"type":"subscribe","service":"_mkio","protocol":"reqrep","subid":"i"}""", ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(schema, Is.EqualTo("""{"type":"reply","service":"_mkio","reqid":"s","row":{"table":"items","columns":[{"name":"id","type":"TEXT","notnull":false,"pk":true,"dflt_value":null},{"name":"name","type":"TEXT","notnull":true,"pk":false,"dflt_value":null},{"name":"price","type":"REAL","notnull":false,"pk":false,"dflt_value":null},{"name":"qty","type":"INTEGER","notnull":false,"pk":false,"dflt_value":"0"},{"name":"_mkio_ref","type":"TEXT","notnull":false,"pk":false,"dflt_value":"''"}]}}"""));
                Assert.That(unknown, Is.EqualTo("""{"type":"error","message":"Unknown table: 'orders' (available: items)","reqid":"u","service":"_mkio"}"""));
                Assert.That(subscribe, Is.EqualTo("""{"type":"nack","service":"_mkio","message":"_mkio does not support subscriptions \u2014 use type 'request'","subid":"i"}"""));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Discovery_HidesIdentityAndAddsProtocolKeyOnlyWithTheOption(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct);
        await using (host)
        using (dir)
        {
            using var http = host.CreateHttpClient();
            var list = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/services", UriKind.Relative), ct)).RootElement;
            var missing = await http.GetAsync(new Uri("api/services/_mkio", UriKind.Relative), ct);
            var detail = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/services/items", UriKind.Relative), ct)).RootElement;
            using (Assert.EnterMultipleScope())
            {
                Assert.That(list.EnumerateArray().Select(s => s.GetProperty("name").GetString()), Does.Not.Contain("_mkio"));
                Assert.That(list.EnumerateArray().SelectMany(s => s.EnumerateObject()).Select(p => p.Name), Does.Not.Contain("protocol"));
                Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
                Assert.That(detail.EnumerateObject().Select(p => p.Name), Does.Not.Contain("protocol"));
            }
        }

        (host, dir) = await LaterHost.StartAsync(ct, configure: o => o.LaterProtocol = true);
        await using (host)
        using (dir)
        {
            using var http = host.CreateHttpClient();
            var list = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/services", UriKind.Relative), ct)).RootElement;
            var price = await http.GetStringAsync(new Uri("api/services/price", UriKind.Relative), ct);
            var echo = JsonDocument.Parse(await http.GetStringAsync(new Uri("api/services/echo", UriKind.Relative), ct)).RootElement;
            await using var ws = await host.ConnectAsync("ws", ct);
            var plain = await ws.AskAsync("""{"service":"_mkio"}""", ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(list[0].EnumerateObject().Select(p => p.Name).Take(3), Is.EqualTo(new[] { "name", "type", "protocol" }));
                Assert.That(list.EnumerateArray().Select(s => s.GetProperty("protocol").GetString()), Is.EqualTo(list.EnumerateArray().Select(s => s.GetProperty("type").GetString())));
                Assert.That(price, Is.EqualTo("""{"name": "price", "type": "reqrep", "protocol": "reqrep", "description": "Price of one item", "sql": "SELECT price FROM items WHERE id = :id", "parameters": ["id"], "params": {"id": "upper(item)"}, "reply": "price * 2", "reply_shape": "value (scalar from SQL)", "input_fields": ["item"], "request": {"message": {"service": "price", "type": "request", "reqid": "<reqid>", "data": {"id": "..."}}, "reply_type": "reply"}, "example": {"request": "mkio reqrep <url> price '{\"id\": \"...\"}'"}}"""));
                Assert.That(echo.GetProperty("reply_shape").GetString(), Is.EqualTo("row (single record)"));
                Assert.That(echo.GetProperty("input_fields").GetRawText(), Is.EqualTo("""["n", "name"]"""));
                Assert.That(plain, Does.StartWith("""{"type":"reply","service":"_mkio","row":{"name":"shop","""));
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task ConfiguredServiceNamedMkio_TakesThePlaceOfTheBuiltIn(CancellationToken ct)
    {
        var config = LaterHost.Config + "\n[services._mkio]\nprotocol = \"reqrep\"\nreply = \"'mine'\"\n";
        var (host, dir) = await LaterHost.StartAsync(ct, config);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            using var http = host.CreateHttpClient();
            var reply = await ws.AskAsync("""{"type":"request","service":"_mkio","reqid":"x"}""", ct);
            var detail = await http.GetAsync(new Uri("api/services/_mkio", UriKind.Relative), ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(reply, Is.EqualTo("""{"type":"reply","service":"_mkio","reqid":"x","value":"mine"}"""));
                Assert.That(detail.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            }
        }
    }
}
