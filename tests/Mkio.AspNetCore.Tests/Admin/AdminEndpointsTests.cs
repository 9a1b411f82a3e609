using System.Net;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Mkio.AspNetCore.Admin;
using Mkio.Diagnostics;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Admin;

/// <summary>
/// The live admin page (<c>MapMkioAdmin</c>) over real Kestrel with the order-book sample's config:
/// the page and its assets, the JSON shapes of <c>api/overview</c> and <c>api/metrics</c>, sending
/// through <c>api/send</c> seen by the monitor tap <c>api/monitor/{service}</c>, the refusals, and
/// <c>RequireAuthorization</c> on the returned builder.
/// </summary>
public sealed class AdminEndpointsTests
{
    private const string NewOrder = """{"service":"orders","op":"new","data":{"side":"Buy","symbol":"AAPL","qty":10,"price":1.5}}""";

    private static Task<MkioTestHost> StartAsync(CancellationToken ct, Action<MkioOptions>? configure = null) =>
        MkioTestHost.StartAsync(
            o =>
            {
                o.Static.Clear(); // the sample's page is not under test here
                configure?.Invoke(o);
            },
            ct,
            tomlPath: Fixtures.OrderBookToml,
            app: web =>
        {
            web.MapMkio();
            web.MapMkioAdmin("/mkio/admin");
        });

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string url, CancellationToken ct)
    {
        using var response = await http.GetAsync(new Uri(url, UriKind.Relative), ct);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), url);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement.Clone();
    }

    private static JsonElement Service(JsonElement overview, string name) =>
        overview.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, string message, CancellationToken ct) =>
        http.PostAsync(new Uri("mkio/admin/api/send", UriKind.Relative), new StringContent(message, Encoding.UTF8, "application/json"), ct);

    [Test, CancelAfter(60_000)]
    public async Task Page_RedirectsToTrailingSlash_ServesEmbeddedHtmlScriptAndStyle(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { BaseAddress = host.BaseUri };
        using (var redirect = await http.GetAsync(new Uri("mkio/admin", UriKind.Relative), ct))
        {
            Assert.That(redirect.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
            Assert.That(redirect.Headers.Location?.OriginalString, Is.EqualTo("/mkio/admin/"));
        }

        using var page = await http.GetAsync(new Uri("mkio/admin/", UriKind.Relative), ct);
        var html = await page.Content.ReadAsStringAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(page.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
            Assert.That(page.Headers.GetValues("Content-Security-Policy").Single(), Does.StartWith("default-src 'self'"));
            Assert.That(html, Does.Contain("data-testid=\"services-body\"").And.Contain("<script src=\"admin.js\">"));
            Assert.That(html, Does.Not.Contain("http://").And.Not.Contain("https://"), "nothing is fetched from elsewhere");
        }

        var script = await http.GetStringAsync(new Uri("mkio/admin/admin.js", UriKind.Relative), ct);
        var style = await http.GetAsync(new Uri("mkio/admin/admin.css", UriKind.Relative), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(script, Does.Contain("api/overview").And.Contain("getContext(\"2d\")"));
            Assert.That(script, Does.Not.Contain("http://").And.Not.Contain("https://"));
            Assert.That(style.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/css"));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Overview_ShowsServicesSubscribersRowsChangeLogConnectionsAndTotals(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        using var http = host.CreateHttpClient();
        var before = await GetJsonAsync(http, "mkio/admin/api/overview", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(before.GetProperty("started").GetBoolean(), Is.True);
            Assert.That(before.GetProperty("services").EnumerateArray().Select(s => s.GetProperty("name").GetString() + ":" + s.GetProperty("type").GetString()),
                Is.EqualTo(new[] { "orders:transaction", "last_trade:subpub", "audit_feed:stream", "all_orders:query" }));
            Assert.That(Service(before, "orders").GetProperty("subscribers").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(Service(before, "all_orders").GetProperty("change_log").GetInt32(), Is.Zero);
            Assert.That(Service(before, "all_orders").GetProperty("change_log_capacity").GetInt32(), Is.EqualTo(10000));
            Assert.That(Service(before, "audit_feed").GetProperty("rows").GetInt32(), Is.Zero);
            Assert.That(before.GetProperty("connections").GetProperty("websockets").GetInt32(), Is.Zero);
            Assert.That(before.GetProperty("totals").GetProperty("committed").GetInt64(), Is.Zero);
        }

        await using var ws = await host.ConnectAsync("ws", ct);
        await ws.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);

        // The subscription's update may arrive before the result (no order between them is guaranteed).
        await ws.SendAsync(NewOrder, cancellationToken: ct);
        var result = await ws.ReceiveUntilAsync(m => m.GetProperty("type").GetString() is "result" or "error", ct);
        Assert.That(result.GetProperty("ok").GetBoolean(), Is.True, result.GetRawText());

        JsonElement after = default;
        await Eventually.WaitUntilAsync(
            () =>
            {
                after = GetJsonAsync(http, "mkio/admin/api/overview", ct).GetAwaiter().GetResult();
                return Service(after, "all_orders").GetProperty("change_log").GetInt32() == 1 && Service(after, "audit_feed").GetProperty("rows").GetInt32() == 1;
            },
            "the new order reaches the query's change log and the stream's buffer",
            ct);
        var connections = after.GetProperty("connections");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Service(after, "all_orders").GetProperty("subscribers").GetInt32(), Is.EqualTo(1));
            Assert.That(Service(after, "last_trade").GetProperty("rows").GetInt32(), Is.Zero, "no filled order yet");
            Assert.That(connections.GetProperty("websockets").GetInt32(), Is.EqualTo(1));
            Assert.That(connections.GetProperty("sessions").GetInt32(), Is.EqualTo(1));
            Assert.That(connections.GetProperty("busiest")[0].GetProperty("kind").GetString(), Is.EqualTo("websocket"));
            Assert.That(connections.GetProperty("busiest")[0].GetProperty("queued_bytes").ValueKind, Is.EqualTo(JsonValueKind.Number));
            Assert.That(after.GetProperty("totals").GetProperty("committed").GetInt64(), Is.EqualTo(1));
            Assert.That(after.GetProperty("totals").GetProperty("batches").GetInt64(), Is.EqualTo(1));
            Assert.That(after.GetProperty("totals").GetProperty("messages_out").GetInt64(), Is.GreaterThanOrEqualTo(2), "the snapshot, the result (and the update)");
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Metrics_OneSecondSamples_CountCommittedTransactionsAndBatches(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        using var http = host.CreateHttpClient();
        for (var i = 0; i < 3; i++)
        {
            using var r = await SendAsync(http, NewOrder, ct);
            Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        JsonElement metrics = default;
        await Eventually.WaitUntilAsync(
            () =>
            {
                metrics = GetJsonAsync(http, "mkio/admin/api/metrics", ct).GetAwaiter().GetResult();
                return metrics.GetProperty("samples").EnumerateArray().Sum(s => s.GetProperty("committed").GetInt64()) == 3;
            },
            "the three transactions are in the samples",
            ct);
        var samples = metrics.GetProperty("samples").EnumerateArray().ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(metrics.GetProperty("interval_ms").GetInt32(), Is.EqualTo(1000));
            Assert.That(metrics.GetProperty("capacity").GetInt32(), Is.EqualTo(AdminMetrics.Capacity));
            Assert.That(samples.Sum(s => s.GetProperty("batches").GetInt64()), Is.InRange(1, 3));
            Assert.That(samples.Where(s => s.GetProperty("batches").GetInt64() > 0).All(s => s.GetProperty("latency_max_ms").GetDouble() >= s.GetProperty("latency_avg_ms").GetDouble()), Is.True);
            Assert.That(samples.Select(s => s.GetProperty("t").GetInt64()), Is.Ordered.Ascending);
        }

        var last = samples[^1].GetProperty("t").GetInt64();
        var since = await GetJsonAsync(http, $"mkio/admin/api/metrics?since={last}", ct);
        Assert.That(since.GetProperty("samples").EnumerateArray().All(s => s.GetProperty("t").GetInt64() > last), Is.True);
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_ThroughItsOwnSession_AnswersTheReply_AndTheMonitorTapSeesBothDirections(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        using var http = host.CreateHttpClient();
        using var monitor = new HttpRequestMessage(HttpMethod.Get, new Uri("mkio/admin/api/monitor/orders", UriKind.Relative));
        using var tap = await http.SendAsync(monitor, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.That(tap.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        using var reader = new StreamReader(await tap.Content.ReadAsStreamAsync(ct));

        async Task<JsonElement> NextEventAsync()
        {
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    return JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone();
                }
            }

            throw new InvalidOperationException("The event stream ended.");
        }

        Assert.That((await NextEventAsync()).GetRawText(), Is.EqualTo("""{"type":"monitor_ack","service":"orders"}"""));
        using var sent = await SendAsync(http, NewOrder, ct);
        var reply = JsonDocument.Parse(await sent.Content.ReadAsStringAsync(ct)).RootElement;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(sent.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"));
            Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True);
        }

        var seenIn = await NextEventAsync();
        var seenOut = await NextEventAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(seenIn.GetProperty("direction").GetString(), Is.EqualTo("in"));
            Assert.That(seenIn.GetProperty("message").GetProperty("data").GetProperty("symbol").GetString(), Is.EqualTo("AAPL"));
            Assert.That(seenOut.GetProperty("direction").GetString(), Is.EqualTo("out"));
            Assert.That(seenOut.GetProperty("message").GetProperty("ref").GetString(), Is.EqualTo(reply.GetProperty("ref").GetString()));
        }

        var overview = await GetJsonAsync(http, "mkio/admin/api/overview", ct);
        Assert.That(Service(overview, "orders").GetProperty("monitors").GetInt32(), Is.EqualTo(1), "the tap is a monitor of the service");

        // An error reply is passed through as the protocol gives it.
        using var bad = await SendAsync(http, """{"service":"nosuch","data":{}}""", ct);
        Assert.That(await bad.Content.ReadAsStringAsync(ct), Does.Contain("Unknown service: nosuch"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Send_RefusesNonJsonSubscriptionsAndOversizedMessages(CancellationToken ct)
    {
        await using var host = await StartAsync(ct, o => o.MaxMessageBytes = 1024);
        using var http = host.CreateHttpClient();
        using var subscribe = await SendAsync(http, """{"service":"all_orders","type":"subscribe"}""", ct);
        using var monitor = await SendAsync(http, """{"service":"orders","type":"monitor"}""", ct);
        using var big = await SendAsync(http, """{"service":"orders","op":"new","data":{"side":"Buy","symbol":""" + "\"" + new string('x', 2000) + "\"}}", ct);
        using var plainText = await http.PostAsync(new Uri("mkio/admin/api/send", UriKind.Relative), new StringContent(NewOrder, Encoding.UTF8, "text/plain"), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(plainText.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType), "a cross-site form cannot post JSON");
            Assert.That(subscribe.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(await subscribe.Content.ReadAsStringAsync(ct), Does.Contain("no single reply"));
            Assert.That(monitor.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(big.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        }

        var overview = await GetJsonAsync(http, "mkio/admin/api/overview", ct);
        Assert.That(overview.GetProperty("totals").GetProperty("committed").GetInt64(), Is.Zero);
    }

    [Test, CancelAfter(60_000)]
    public async Task RequireAuthorization_OnTheReturnedBuilder_DeniesAnonymous401_EveryAdminEndpoint(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(
            o => o.Static.Clear(),
            ct,
            tomlPath: Fixtures.OrderBookToml,
            builder: b =>
            {
                b.Services.AddAuthentication(HeaderAuthHandler.SchemeName).AddScheme<AuthenticationSchemeOptions, HeaderAuthHandler>(HeaderAuthHandler.SchemeName, null);
                b.Services.AddAuthorization();
            },
            app: web =>
            {
                web.UseAuthentication();
                web.UseAuthorization();
                web.MapMkio();
                web.MapMkioAdmin("/mkio/admin").RequireAuthorization();
            });
        using var http = host.CreateHttpClient();
        string[] paths = ["mkio/admin/", "mkio/admin/admin.js", "mkio/admin/api/overview", "mkio/admin/api/metrics", "mkio/admin/api/services", "mkio/admin/api/monitor/orders"];
        foreach (var path in paths)
        {
            using var anonymous = await http.GetAsync(new Uri(path, UriKind.Relative), ct);
            Assert.That(anonymous.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), path);
        }

        using (var post = await SendAsync(http, NewOrder, ct))
        {
            Assert.That(post.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        }

        using var signedIn = new HttpRequestMessage(HttpMethod.Get, new Uri("mkio/admin/api/overview", UriKind.Relative));
        signedIn.Headers.Add(HeaderAuthHandler.Header, "alice");
        using var ok = await http.SendAsync(signedIn, ct);
        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        using var discovery = await http.GetAsync(new Uri("api/services", UriKind.Relative), ct);
        Assert.That(discovery.StatusCode, Is.EqualTo(HttpStatusCode.OK), "MapMkio's own endpoints are not affected");
    }

    [Test]
    public void MapMkioAdmin_WithoutAddMkio_OrWithoutAPath_Throws()
    {
        var withoutMkio = WebApplication.CreateSlimBuilder().Build();
        Assert.That(() => withoutMkio.MapMkioAdmin(), Throws.InvalidOperationException.With.Message.Contains("AddMkio"));
        var b = WebApplication.CreateSlimBuilder();
        b.Services.AddMkio(_ => { });
        var app = b.Build();
        Assert.That(() => app.MapMkioAdmin("/"), Throws.ArgumentException);
        Assert.That(() => app.MapMkioAdmin(""), Throws.ArgumentException);
    }

    [Test]
    public void Metrics_RingIsBounded_AndCountsOnlyItsOwnHostsMeter()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var mine = new MkioMetrics();
        using var other = new MkioMetrics();
        var sessions = 7;
        using var admin = new AdminMetrics(mine, () => sessions, time);
        mine.BatchCommitted(size: 3, ok: 2, TimeSpan.FromMilliseconds(4));
        mine.BatchCommitted(size: 1, ok: 1, TimeSpan.FromMilliseconds(2));
        mine.MessagesOut("s", 5, 100);
        mine.MessageIn("s");
        other.BatchCommitted(size: 100, ok: 100, TimeSpan.FromSeconds(1));
        time.Advance(AdminMetrics.Interval);

        var first = admin.Samples(0).Single();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.Committed, Is.EqualTo(3));
            Assert.That(first.Failed, Is.EqualTo(1));
            Assert.That(first.Batches, Is.EqualTo(2));
            Assert.That(first.MessagesOut, Is.EqualTo(5), "inbound messages are not counted");
            Assert.That(first.LatencyAvgMs, Is.EqualTo(3).Within(0.01));
            Assert.That(first.LatencyMaxMs, Is.EqualTo(4).Within(0.01));
            Assert.That(first.Sessions, Is.EqualTo(7));
            Assert.That(first.UnixMs, Is.EqualTo(1000));
            Assert.That(admin.Totals, Is.EqualTo((3L, 1L, 5L, 2L)));
        }

        for (var i = 0; i < AdminMetrics.Capacity + 50; i++)
        {
            time.Advance(AdminMetrics.Interval);
        }

        var all = admin.Samples(0);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(all, Has.Length.EqualTo(AdminMetrics.Capacity));
            Assert.That(all[^1].UnixMs, Is.EqualTo((AdminMetrics.Capacity + 51) * 1000L));
            Assert.That(all.All(s => s.Committed == 0), Is.True, "each interval starts from zero");
            Assert.That(admin.Samples(all[^2].UnixMs), Has.Length.EqualTo(1));
        }
    }

    /// <summary>Signs a request in when it carries <see cref="Header"/>; otherwise no result (the challenge answers 401).</summary>
    private sealed class HeaderAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "test-header";
        public const string Header = "X-Test-User";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue(Header, out var user))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user.ToString())], SchemeName);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }
}
