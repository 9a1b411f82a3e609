using System.Net;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Http.HttpTestSupport;
using static Mkio.AspNetCore.Tests.Registration.RegistrationTestSupport;

namespace Mkio.AspNetCore.Tests.Registration;

/// <summary><c>app.MapMkio()</c>: guidance without <c>AddMkio</c>, conventions on every mkio endpoint, prefixes.</summary>
public sealed class MapMkioTests
{
    [Test, CancelAfter(20_000)]
    public async Task MapMkio_WithoutAddMkio_ThrowsWithGuidance(CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        await using var app = builder.Build();
        Assert.That(() => app.MapMkio(), Throws.InvalidOperationException.With.Message.EqualTo(
            "Unable to find the required mkio services. Call 'builder.Services.AddMkio(...)' before 'app.MapMkio()'."));
    }

    [Test]
    public void MapMkio_NullEndpoints_ThrowsArgumentNull()
    {
        Assert.That(() => MkioEndpointRouteBuilderExtensions.MapMkio(null!), Throws.ArgumentNullException);
    }

    [Test, CancelAfter(60_000)]
    public async Task MapMkio_RequireAuthorization_ProtectsEveryMkioEndpoint(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("static"));
        await File.WriteAllTextAsync(dir.File("static/index.html"), "<h1>home</h1>", ct);
        await File.WriteAllTextAsync(dir.File("static/app.js"), "let a = 1;", ct);
        await using var host = await MkioTestHost.StartAsync(
            o => Fixtures.FixtureA(o.StaticFiles("/", "static")),
            ct,
            directory: dir,
            builder: b =>
            {
                b.Services.AddAuthentication(HeaderAuthenticationHandler.SchemeName)
                    .AddScheme<AuthenticationSchemeOptions, HeaderAuthenticationHandler>(HeaderAuthenticationHandler.SchemeName, null);
                b.Services.AddAuthorization();
            },
            app: web =>
            {
                web.UseAuthentication();
                web.UseAuthorization();
                web.MapMkio().RequireAuthorization();
            });
        using var anonymous = host.CreateHttpClient();
        using var user = host.CreateHttpClient();
        user.DefaultRequestHeaders.Add(HeaderAuthenticationHandler.Header, "alice");

        string[] paths = ["api/services", "api/services/add_order", "mkio.js", "/", "static/app.js"];
        var anonymousStatus = new List<HttpStatusCode>();
        var userStatus = new List<HttpStatusCode>();
        foreach (var path in paths)
        {
            anonymousStatus.Add((await GetAsync(anonymous, path, ct)).Response.StatusCode);
            userStatus.Add((await GetAsync(user, path, ct)).Response.StatusCode);
        }

        var wsPlainAnonymous = (await GetAsync(anonymous, "ws", ct)).Response.StatusCode;
        var wsPlainUser = (await GetAsync(user, "ws", ct)).Response.StatusCode;
        var wsAnonymous = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), _ => { }, ct);
        var wsServiceAnonymous = await HandshakeStatusAsync(new Uri(host.WsBase, "ws/add_order"), _ => { }, ct);
        await using var socket = await TestSocket.ConnectAsync(new Uri(host.WsBase, "ws"), ct, o => o.SetRequestHeader(HeaderAuthenticationHandler.Header, "alice"));
        var reply = await socket.RequestAsync("""{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        var health = (await GetAsync(anonymous, "health", ct)).Response.StatusCode;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(anonymousStatus, Has.All.EqualTo(HttpStatusCode.Unauthorized), "anonymous: " + string.Join(", ", paths));
            Assert.That(userStatus, Has.All.EqualTo(HttpStatusCode.OK), "authenticated: " + string.Join(", ", paths));
            Assert.That(wsPlainAnonymous, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(wsPlainUser, Is.EqualTo(HttpStatusCode.BadRequest));
            Assert.That(wsAnonymous, Is.EqualTo(401));
            Assert.That(wsServiceAnonymous, Is.EqualTo(401));
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"r1","ok":true}"""));
            Assert.That(health, Is.EqualTo(HttpStatusCode.OK), "endpoints mapped outside MapMkio are not affected");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task MapMkio_WithPrefix_MapsEveryRouteUnderIt(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct, app: web => web.MapMkio("/mkio"));
        using var http = host.CreateHttpClient();
        var (prefixed, body) = await GetAsync(http, "mkio/api/services/add_order", ct);
        var (script, _) = await GetAsync(http, "mkio/mkio.js", ct);
        var (bare, _) = await GetAsync(http, "api/services", ct);
        await using var socket = await host.ConnectAsync("mkio/ws", ct);
        var reply = await socket.RequestAsync("""{"service":"add_order","ref":"p1","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(prefixed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(body, Does.StartWith("""{"name": "add_order", """));
            Assert.That(script.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(bare.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"p1","ok":true}"""));
        }
    }
}
