using System.Globalization;

namespace Mkio.Cli;

/// <summary>
/// URL arguments of the client commands (CLI.md §2 and the 0.1.39/0.1.40 shorthand): a bare number is a
/// port on localhost, a missing scheme means <c>http://</c>, full URLs are kept.
/// </summary>
internal static class CliUrl
{
    /// <summary>The HTTP base URL for <c>services</c>: no trailing <c>/</c>, <c>ws(s)</c> mapped to <c>http(s)</c>, a trailing <c>/ws</c> removed.</summary>
    public static string HttpBase(string url)
    {
        var u = Expand(url);
        if (u.StartsWith("ws://", StringComparison.OrdinalIgnoreCase))
        {
            u = "http://" + u[5..];
        }
        else if (u.StartsWith("wss://", StringComparison.OrdinalIgnoreCase))
        {
            u = "https://" + u[6..];
        }

        u = u.TrimEnd('/');
        var pathStart = u.IndexOf('/', u.IndexOf("://", StringComparison.Ordinal) + 3);
        if (pathStart >= 0 && u.EndsWith("/ws", StringComparison.Ordinal))
        {
            u = u[..^3];
        }

        return u.TrimEnd('/');
    }

    /// <summary>The WebSocket URL for <c>send</c>/<c>subscribe</c>/<c>monitor</c>: <c>http</c>→<c>ws</c>, <c>https</c>→<c>wss</c>, <c>/ws</c> appended unless already there.</summary>
    public static string WebSocket(string url)
    {
        var u = Expand(url);
        if (u.EndsWith('/'))
        {
            u = u[..^1];
        }

        if (u.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            u = "ws://" + u[7..];
        }
        else if (u.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            u = "wss://" + u[8..];
        }
        else if (!u.StartsWith("ws://", StringComparison.OrdinalIgnoreCase) && !u.StartsWith("wss://", StringComparison.OrdinalIgnoreCase))
        {
            u = "ws://" + u;
        }

        var pathStart = u.IndexOf('/', u.IndexOf("://", StringComparison.Ordinal) + 3);
        return pathStart >= 0 && u.EndsWith("/ws", StringComparison.Ordinal) ? u : u + "/ws";
    }

    /// <summary>Applies the shorthand: <c>8080</c> → <c>http://localhost:8080</c>; <c>host:port</c> → <c>http://host:port</c>.</summary>
    public static string Expand(string url)
    {
        var u = url.Trim();
        if (u.Length > 0 && u.All(char.IsAsciiDigit) && int.TryParse(u, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536)
        {
            return $"http://localhost:{port}";
        }

        return u.Contains("://", StringComparison.Ordinal) ? u : "http://" + u;
    }
}
