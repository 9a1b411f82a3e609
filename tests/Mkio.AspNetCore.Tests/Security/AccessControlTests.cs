using System.Net;
using System.Text.Json;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Security.TokenAuthHandler;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Security;

/// <summary>
/// Access control end to end through real Kestrel and a real authentication scheme (<see cref="TokenAuthHandler"/>):
/// anonymous vs authenticated vs role vs policy, on transactions, subscriptions, monitors and discovery.
/// </summary>
public sealed class AccessControlTests
{
    private const string Anonymous = null!;
    private const string Bob = "bob";                 // authenticated, no role
    private const string Carol = "carol:trader";      // role trader
    private const string Dave = "dave::ops";          // policy "ops" (claim dept = ops)
    private const string Erin = "erin:admin";         // role admin

    /// <summary>Fixture A with an access value per service; <c>all_orders</c> has none (locked).</summary>
    private static void Secured(MkioOptions o)
    {
        FixtureAPlus(o);
        Set(o, "add_order", "auth");
        Set(o, "update_order", "trader");
        Set(o, "delete_order", "ops");
        Set(o, "last_trade", "open", monitor: "admin");
        Set(o, "audit_feed", "trader");
    }

    private static void Set(MkioOptions o, string service, string access, string? monitor = null)
    {
        var s = o.Services.Single(x => x.Name == service);
        s.Access = access;
        s.MonitorAccess = monitor;
    }

    [Test, CancelAfter(60_000)]
    public async Task Transactions_AnonymousUserRoleAndPolicy(CancellationToken ct)
    {
        await using var host = await StartHostAsync(Secured, ct);
        await using var anonymous = await ConnectAsync(host, Anonymous, ct);
        await using var bob = await ConnectAsync(host, Bob, ct);
        await using var carol = await ConnectAsync(host, Carol, ct);
        await using var dave = await ConnectAsync(host, Dave, ct);

        Assert.That((await TxAsync(anonymous, """{"service":"add_order","ref":"a1","msgid":5,"data":{"id":"1","symbol":"A","qty":1}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"authentication required","ref":"a1","msgid":5,"service":"add_order"}"""));
        Assert.That((await TxAsync(anonymous, """{"service":"add_order","txnid":"t1","data":{"id":"1","symbol":"A","qty":1}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"authentication required","txnid":"t1","service":"add_order"}"""));
        Assert.That((await TxAsync(anonymous, """{"service":"add_order","type":"check","ref":"c1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"authentication required","ref":"c1","service":"add_order"}"""), "check is a message to the service too");

        // The refused inserts of id 1 wrote nothing: bob's insert of the same key commits.
        await OkAsync(bob, """{"service":"add_order","ref":"b1","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        Assert.That((await TxAsync(bob, """{"service":"update_order","ref":"u1","data":{"id":"1","qty":2}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"u1","service":"update_order"}"""));
        await OkAsync(carol, """{"service":"update_order","ref":"u2","data":{"id":"1","qty":2}}""", ct);

        Assert.That((await TxAsync(carol, """{"service":"delete_order","ref":"d1","data":{"id":"1"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"d1","service":"delete_order"}"""), "a role is not the policy");
        await OkAsync(dave, """{"service":"delete_order","ref":"d2","data":{"id":"1"}}""", ct);

        // A locked service refuses everyone.
        Assert.That((await TxAsync(carol, """{"service":"all_orders","type":"check","ref":"c2"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"c2","service":"all_orders"}"""));
    }

    [Test, CancelAfter(60_000)]
    public async Task Subscribe_RefusedWithNack_OpenServiceServesAnyone(CancellationToken ct)
    {
        await using var host = await StartHostAsync(Secured, ct);
        await using var anonymous = await ConnectAsync(host, Anonymous, ct);
        await using var bob = await ConnectAsync(host, Bob, ct);
        await using var carol = await ConnectAsync(host, Carol, ct);

        Assert.That((await anonymous.RequestAsync("""{"type":"subscribe","service":"all_orders","ref":"s1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"nack","service":"all_orders","message":"authentication required","ref":"s1"}"""));
        Assert.That((await bob.RequestAsync("""{"type":"subscribe","service":"audit_feed","subid":"q1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"nack","service":"audit_feed","message":"permission denied","subid":"q1"}"""));

        var open = await anonymous.RequestAsync("""{"type":"subscribe","service":"last_trade"}""", ct);
        Assert.That(open.GetProperty("type").GetString(), Is.Not.EqualTo("nack"), open.GetRawText());
        var feed = await carol.RequestAsync("""{"type":"subscribe","service":"audit_feed"}""", ct);
        Assert.That(feed.GetProperty("type").GetString(), Is.Not.EqualTo("nack"), feed.GetRawText());

        // The open subscription delivers a write made by an authorized user.
        await OkAsync(bob, """{"service":"add_order","ref":"b1","data":{"id":"7","symbol":"A","qty":1}}""", ct);
        var update = await anonymous.ReceiveUntilAsync(m => m.GetRawText().Contains("\"7\"", StringComparison.Ordinal), ct);
        Assert.That(update.GetProperty("service").GetString(), Is.EqualTo("last_trade"));

        // Refused subscriptions registered nothing.
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.Zero);
        Assert.That(Listener(host, "audit_feed").SubscriberCount, Is.EqualTo(1));
    }

    [Test, CancelAfter(60_000)]
    public async Task Monitor_OffWithoutMonitorAccess_RefusalsAsErrors_RefusalsForwardedAsOut(CancellationToken ct)
    {
        await using var host = await StartHostAsync(Secured, ct);
        await using var anonymous = await ConnectAsync(host, Anonymous, ct);
        await using var carol = await ConnectAsync(host, Carol, ct);
        await using var erin = await ConnectAsync(host, Erin, ct);

        Assert.That((await anonymous.RequestAsync("""{"type":"monitor","service":"last_trade","ref":"m1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"authentication required","ref":"m1"}"""));
        Assert.That((await carol.RequestAsync("""{"type":"monitor","service":"last_trade"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied"}"""));
        Assert.That((await erin.RequestAsync("""{"type":"monitor","service":"add_order","txnid":"x"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"monitoring disabled","txnid":"x"}"""));
        Assert.That((await erin.RequestAsync("""{"type":"monitor","service":"nosuch"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"Unknown service: nosuch"}"""), "an unknown service is reported first");
        Assert.That((await erin.RequestAsync("""{"type":"monitor","service":"last_trade"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"monitor_ack","service":"last_trade"}"""));
        Assert.That(Service(host, "add_order").MonitorCount, Is.Zero);
        Assert.That(Service(host, "last_trade").MonitorCount, Is.EqualTo(1));
    }

    [Test, CancelAfter(60_000)]
    public async Task Discovery_ListsOnlyWhatTheCallerMayUse(CancellationToken ct)
    {
        await using var host = await StartHostAsync(Secured, ct);
        using var http = host.CreateHttpClient();

        Assert.That(await NamesAsync(http, null, ct), Is.EqualTo(new[] { "last_trade" }));
        Assert.That(await NamesAsync(http, Bob, ct), Is.EqualTo(new[] { "add_order", "last_trade" }));
        Assert.That(await NamesAsync(http, Carol, ct), Is.EqualTo(new[] { "add_order", "update_order", "last_trade", "audit_feed" }));
        Assert.That(await NamesAsync(http, Dave, ct), Is.EqualTo(new[] { "add_order", "delete_order", "last_trade" }));

        using var hidden = await http.GetAsync(new Uri("api/services/audit_feed", UriKind.Relative), ct);
        Assert.That(hidden.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await hidden.Content.ReadAsStringAsync(ct), Does.Contain("Unknown service: audit_feed"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/services/audit_feed");
        request.Headers.Add(Header, Carol);
        using var shown = await http.SendAsync(request, ct);
        Assert.That(shown.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test, CancelAfter(60_000)]
    public async Task AccessTokenInQueryString_AuthenticatesTheUpgrade_BadTokenIsAnonymous(CancellationToken ct)
    {
        await using var host = await StartHostAsync(Secured, ct);
        await using var carol = await TestSocket.ConnectAsync(new Uri(host.WsBase, "ws?access_token=" + Uri.EscapeDataString(Carol)), ct);
        await using var bad = await TestSocket.ConnectAsync(new Uri(host.WsBase, "ws?access_token=bad"), ct);

        await OkAsync(carol, """{"service":"add_order","ref":"q1","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        await OkAsync(carol, """{"service":"update_order","ref":"q2","data":{"id":"1","qty":3}}""", ct);
        Assert.That((await TxAsync(bad, """{"service":"add_order","ref":"q3","data":{"id":"2","symbol":"A","qty":1}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"authentication required","ref":"q3","service":"add_order"}"""));
    }

    [Test, CancelAfter(60_000)]
    public async Task AccessControlOption_WithoutAnyAccess_LocksEverything(CancellationToken ct)
    {
        await using var host = await StartHostAsync(o =>
        {
            FixtureAPlus(o);
            o.AccessControl = true;
        }, ct);
        await using var anonymous = await ConnectAsync(host, Anonymous, ct);
        await using var erin = await ConnectAsync(host, Erin, ct);
        using var http = host.CreateHttpClient();

        Assert.That((await TxAsync(erin, """{"service":"add_order","ref":"e1","data":{"id":"1","symbol":"A","qty":1}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"e1","service":"add_order"}"""));
        Assert.That((await anonymous.RequestAsync("""{"type":"subscribe","service":"last_trade"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"nack","service":"last_trade","message":"authentication required"}"""));
        Assert.That((await erin.RequestAsync("""{"type":"monitor","service":"last_trade"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"monitoring disabled"}"""));
        Assert.That(await NamesAsync(http, Erin, ct), Is.Empty);
    }

    [Test, CancelAfter(60_000)]
    public async Task OpSetAccess_OverridesTheServiceAccess(CancellationToken ct)
    {
        await using var host = await StartHostAsync(o =>
        {
            o.DbPath = ":memory:";
            o.BatchMaxWaitMs = 1.0;
            o.Table("orders", t => t.Column("id", "TEXT PRIMARY KEY").Column("status", "TEXT"))
                .Transaction("orders", tx => tx
                    .RequireAuthorization("trader")
                    .Op("place", ops => ops.Insert("orders", ["id", "status"]).Access("open"))
                    .Op("cancel", ops => ops.Update("orders", ["id"], ["status"])));
        }, ct);
        await using var anonymous = await ConnectAsync(host, Anonymous, ct);
        await using var bob = await ConnectAsync(host, Bob, ct);
        await using var carol = await ConnectAsync(host, Carol, ct);
        using var http = host.CreateHttpClient();

        await OkAsync(anonymous, """{"service":"orders","op":"place","ref":"p1","data":{"id":"1","status":"new"}}""", ct);
        Assert.That((await TxAsync(anonymous, """{"service":"orders","op":"cancel","ref":"c1","data":{"id":"1","status":"x"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"authentication required","ref":"c1","service":"orders"}"""));
        Assert.That((await TxAsync(bob, """{"service":"orders","op":"cancel","ref":"c2","data":{"id":"1","status":"x"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"c2","service":"orders"}"""));
        await OkAsync(carol, """{"service":"orders","op":"cancel","ref":"c3","data":{"id":"1","status":"x"}}""", ct);
        Assert.That(await NamesAsync(http, null, ct), Is.EqualTo(new[] { "orders" }), "usable through its open op set");
    }

    [Test, CancelAfter(60_000)]
    public async Task LaterProtocol_RequestRefusalEchoesReqid_MonitorAllNeedsTopLevelMonitorAccess(CancellationToken ct)
    {
        await using var host = await StartHostAsync(o =>
        {
            Secured(o);
            o.LaterProtocol = true;
            o.MonitorAccess = "admin";
            o.Services.Add(new MkioServiceOptions("ping") { Type = "reqrep", Reply = "'pong'", Access = "auth" });
        }, ct);
        await using var anonymous = await ConnectAsync(host, Anonymous, ct);
        await using var bob = await ConnectAsync(host, Bob, ct);
        await using var erin = await ConnectAsync(host, Erin, ct);

        Assert.That((await anonymous.RequestAsync("""{"type":"request","service":"ping","reqid":"r1","data":{}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"authentication required","reqid":"r1","service":"ping"}"""));
        var reply = await bob.RequestAsync("""{"type":"request","service":"ping","reqid":"r2","data":{}}""", ct);
        Assert.That(reply.GetRawText(), Does.Contain("pong"));

        Assert.That((await bob.RequestAsync("""{"type":"monitor","ref":"all"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"all"}"""));
        Assert.That((await erin.RequestAsync("""{"type":"monitor","ref":"all"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"monitor_ack","ref":"all"}"""));
        Assert.That((await bob.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied"}"""), "the top-level monitor_access is add_order's default");
        Assert.That((await erin.RequestAsync("""{"type":"monitor","service":"add_order"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"monitor_ack","service":"add_order"}"""));
    }

    private static async Task<string[]> NamesAsync(HttpClient http, string? token, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/services");
        if (token is not null)
        {
            request.Headers.Add(Header, token);
        }

        using var response = await http.SendAsync(request, ct);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return [.. doc.RootElement.EnumerateArray().Select(s => s.GetProperty("name").GetString()!)];
    }
}
