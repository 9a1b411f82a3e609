using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Security;

/// <summary>
/// A real ASP.NET Core authentication scheme for tests: the token <c>user[:role,role…[:dept]]</c> comes from the
/// <c>X-Token</c> header or, as browsers send it on a WebSocket upgrade, the <c>access_token</c> query parameter.
/// The token <c>bad</c> fails authentication.
/// </summary>
internal sealed class TokenAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "test-token";
    public const string Header = "X-Token";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = Request.Headers[Header];
        if (string.IsNullOrEmpty(token))
        {
            token = Request.Query["access_token"];
        }

        if (string.IsNullOrEmpty(token))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (token == "bad")
        {
            return Task.FromResult(AuthenticateResult.Fail("bad token"));
        }

        var parts = token.Split(':');
        var claims = new List<Claim> { new(ClaimTypes.Name, parts[0]) };
        if (parts.Length > 1)
        {
            claims.AddRange(parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => new Claim(ClaimTypes.Role, r)));
        }

        if (parts.Length > 2)
        {
            claims.Add(new Claim("dept", parts[2]));
        }

        var identity = new ClaimsIdentity(claims, SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    /// <summary>Starts a host with this scheme, the policy <c>ops</c> (claim <c>dept</c> = <c>ops</c>) and <paramref name="configure"/>.</summary>
    public static Task<MkioTestHost> StartHostAsync(Action<MkioOptions> configure, CancellationToken ct) =>
        MkioTestHost.StartAsync(
            configure,
            ct,
            builder: b =>
            {
                b.Services.AddAuthentication(SchemeName).AddScheme<AuthenticationSchemeOptions, TokenAuthHandler>(SchemeName, null);
                b.Services.AddAuthorization(o => o.AddPolicy("ops", p => p.RequireClaim("dept", "ops")));
            },
            app: web =>
            {
                web.UseAuthentication();
                web.MapMkio();
            });

    /// <summary>A WebSocket to <c>/ws</c> carrying <paramref name="token"/> in the header (null: anonymous).</summary>
    public static Task<TestSocket> ConnectAsync(MkioTestHost host, string? token, CancellationToken ct) =>
        TestSocket.ConnectAsync(new Uri(host.WsBase, "ws"), ct, o =>
        {
            if (token is not null)
            {
                o.SetRequestHeader(Header, token);
            }
        });
}
