using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Security;

/// <summary>
/// Access control behind the host's real schemes over real Kestrel: JWT bearer (symmetric key; the token in the
/// Authorization header, or in <c>?access_token=</c> on the upgrade as browsers send it) and cookie authentication.
/// </summary>
public sealed class RealSchemeTests
{
    private const string AddOrder = """{"service":"add_order","ref":"r-{0}","data":{"id":"{0}","symbol":"A","qty":1}}""";

    /// <summary>add_order needs the role trader; all_orders any signed-in user.</summary>
    private static void Secured(MkioOptions o)
    {
        Fixtures.FixtureA(o);
        o.Services.Single(s => s.Name == "add_order").Access = "trader";
        o.Services.Single(s => s.Name == "all_orders").Access = "auth";
    }

    private static string Add(string id) => AddOrder.Replace("{0}", id, StringComparison.Ordinal);

    private static async Task<string?> RefusalAsync(TestSocket ws, string id, CancellationToken ct)
    {
        var reply = await TxAsync(ws, Add(id), ct);
        return reply.GetProperty("type").GetString() == "result" ? null : reply.GetProperty("message").GetString();
    }

    private static string Jwt(SecurityKey key, string name, string role) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Subject = new ClaimsIdentity([new Claim("name", name), new Claim("role", role)]),
        Issuer = "mkio-tests",
        Audience = "mkio",
        Expires = DateTime.UtcNow.AddMinutes(10),
        SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
    });

    [Test, CancelAfter(60_000)]
    public async Task JwtBearer_HeaderOrQueryToken_AllowedAndRefused(CancellationToken ct)
    {
        var key = new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32));
        await using var host = await MkioTestHost.StartAsync(Secured, ct, builder: b =>
        {
            b.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = "mkio-tests",
                    ValidAudience = "mkio",
                    IssuerSigningKey = key,
                    NameClaimType = "name",
                    RoleClaimType = "role",
                };
                o.Events = new JwtBearerEvents
                {
                    // As SignalR documents: browsers cannot set headers on a WebSocket upgrade.
                    OnMessageReceived = c =>
                    {
                        if (c.Request.Path.StartsWithSegments("/ws") && c.Request.Query["access_token"] is { Count: > 0 } token)
                        {
                            c.Token = token;
                        }

                        return Task.CompletedTask;
                    },
                };
            });
            b.Services.AddAuthorization();
        }, app: web =>
        {
            web.UseAuthentication();
            web.MapMkio();
        });
        var ws = new Uri(host.WsBase, "ws");
        var carol = Jwt(key, "carol", "trader");
        var dave = Jwt(key, "dave", "viewer");
        var forged = Jwt(new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32)), "mallory", "trader");

        await using var header = await TestSocket.ConnectAsync(ws, ct, o => o.SetRequestHeader("Authorization", "Bearer " + carol));
        await using var query = await TestSocket.ConnectAsync(new Uri(ws + "?access_token=" + Uri.EscapeDataString(carol)), ct);
        await using var viewer = await TestSocket.ConnectAsync(new Uri(ws + "?access_token=" + Uri.EscapeDataString(dave)), ct);
        await using var anonymous = await TestSocket.ConnectAsync(ws, ct);
        await using var bad = await TestSocket.ConnectAsync(ws, ct, o => o.SetRequestHeader("Authorization", "Bearer " + forged));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await RefusalAsync(header, "1", ct), Is.Null, "header token, role trader");
            Assert.That(await RefusalAsync(query, "2", ct), Is.Null, "query token, role trader");
            Assert.That(await RefusalAsync(viewer, "3", ct), Is.EqualTo("permission denied"));
            Assert.That(await RefusalAsync(anonymous, "4", ct), Is.EqualTo("authentication required"));
            Assert.That(await RefusalAsync(bad, "5", ct), Is.EqualTo("authentication required"), "a token signed with another key is no identity");
            Assert.That((await viewer.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("snapshot"));
            Assert.That((await anonymous.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct)).GetRawText(),
                Is.EqualTo("""{"type":"nack","service":"all_orders","message":"authentication required"}"""));
        }

        using var http = host.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/services");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", carol);
        var signedIn = await (await http.SendAsync(request, ct)).Content.ReadAsStringAsync(ct);
        var anon = await http.GetStringAsync("/api/services", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(signedIn, Does.Contain("\"add_order\"").And.Contain("\"all_orders\""));
            Assert.That(anon, Does.Not.Contain("\"add_order\"").And.Not.Contain("\"all_orders\""));
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Cookie_SignedInCookieOnTheUpgrade_AllowedAndRefused(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Secured, ct, builder: b =>
        {
            b.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();
            b.Services.AddAuthorization();
        }, app: web =>
        {
            web.UseAuthentication();
            web.MapGet("/signin", async (HttpContext c, string name, string role) =>
            {
                var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], CookieAuthenticationDefaults.AuthenticationScheme);
                await c.SignInAsync(new ClaimsPrincipal(identity));
                return Results.Ok();
            });
            web.MapMkio();
        });

        async Task<string> CookieAsync(string name, string role)
        {
            using var http = host.CreateHttpClient();
            var response = await http.GetAsync($"/signin?name={name}&role={role}", ct);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            return response.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        }

        var ws = new Uri(host.WsBase, "ws");
        var carol = await CookieAsync("carol", "trader");
        var dave = await CookieAsync("dave", "viewer");
        await using var trader = await TestSocket.ConnectAsync(ws, ct, o => o.SetRequestHeader("Cookie", carol));
        await using var viewer = await TestSocket.ConnectAsync(ws, ct, o => o.SetRequestHeader("Cookie", dave));
        await using var anonymous = await TestSocket.ConnectAsync(ws, ct);
        await using var tampered = await TestSocket.ConnectAsync(ws, ct, o => o.SetRequestHeader("Cookie", carol[..^4] + "AAAA"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await RefusalAsync(trader, "1", ct), Is.Null);
            Assert.That(await RefusalAsync(viewer, "2", ct), Is.EqualTo("permission denied"));
            Assert.That(await RefusalAsync(anonymous, "3", ct), Is.EqualTo("authentication required"));
            Assert.That(await RefusalAsync(tampered, "4", ct), Is.EqualTo("authentication required"), "a tampered cookie is no identity");
            Assert.That((await viewer.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("snapshot"));
        }
    }
}
