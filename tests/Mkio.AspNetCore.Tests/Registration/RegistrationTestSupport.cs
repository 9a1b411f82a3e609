using System.Net.WebSockets;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mkio.AspNetCore.Tests.Registration;

/// <summary>Authenticates a request only when it carries an <c>X-Test-User</c> header.</summary>
internal sealed class HeaderAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "TestHeader";
    public const string Header = "X-Test-User";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var user = Request.Headers[Header].ToString();
        if (user.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}

internal static class RegistrationTestSupport
{
    /// <summary>
    /// Tries a WebSocket upgrade and returns the HTTP status of the handshake (101 when it succeeded),
    /// closing the socket again.
    /// </summary>
    public static async Task<int> HandshakeStatusAsync(Uri uri, Action<ClientWebSocketOptions> configure, CancellationToken ct)
    {
        using var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        configure(ws.Options);
        try
        {
            await ws.ConnectAsync(uri, ct);
        }
        catch (WebSocketException)
        {
            return (int)ws.HttpStatusCode;
        }

        var status = (int)ws.HttpStatusCode;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, string.Empty, cts.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }

        return status;
    }
}
