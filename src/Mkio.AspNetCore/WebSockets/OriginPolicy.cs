using Microsoft.AspNetCore.Http;

namespace Mkio.AspNetCore.WebSockets;

/// <summary>
/// Which WebSocket upgrades a browser may make (cross-site WebSocket hijacking): requests without an
/// <c>Origin</c> header (non-browser clients) and same-origin requests (the Origin's scheme, host and
/// port equal the request's) are accepted; any other origin only when listed in
/// <see cref="MkioOptions.AllowedOrigins"/> (case-insensitive), or when the list holds <c>"*"</c>.
/// </summary>
/// <remarks>
/// Behind a TLS-terminating proxy the request's scheme is the proxy's unless forwarded headers are
/// applied (<c>UseForwardedHeaders</c>); otherwise list the public origin.
/// </remarks>
internal static class OriginPolicy
{
    public static bool IsAllowed(HttpRequest request, IList<string> allowed)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return true;
        }

        foreach (var a in allowed)
        {
            if (a == "*" || string.Equals(a.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return IsSameOrigin(origin, request);
    }

    private static bool IsSameOrigin(string origin, HttpRequest request)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var o) || o.PathAndQuery is not ("/" or "") || !request.Host.HasValue)
        {
            return false;
        }

        var scheme = request.Scheme;
        var port = request.Host.Port ?? (string.Equals(scheme, "https", StringComparison.OrdinalIgnoreCase) ? 443 : 80);
        return string.Equals(o.Scheme, scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(o.IdnHost, request.Host.Host, StringComparison.OrdinalIgnoreCase)
            && o.Port == port;
    }
}
