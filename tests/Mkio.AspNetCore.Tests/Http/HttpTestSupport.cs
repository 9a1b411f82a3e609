using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Mkio.AspNetCore.Tests.Http;

/// <summary>HTTP helpers for the endpoint tests.</summary>
internal static class HttpTestSupport
{
    /// <summary>One raw HTTP/1.1 response.</summary>
    public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

    /// <summary>
    /// Sends <c>GET &lt;target&gt;</c> exactly as written over a plain TCP connection, so that dot segments and
    /// percent-escapes reach the server unnormalised (HttpClient would collapse <c>/static/../x</c> itself).
    /// </summary>
    public static async Task<RawResponse> RawGetAsync(Uri baseUri, string target, CancellationToken ct)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(baseUri.Host, baseUri.Port, ct);
        await using var stream = tcp.GetStream();
        var request = $"GET {target} HTTP/1.1\r\nHost: {baseUri.Authority}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), ct);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, ct);
        var text = Encoding.UTF8.GetString(buffer.ToArray());
        var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.That(headerEnd, Is.GreaterThan(0), "a complete HTTP response");
        var lines = text[..headerEnd].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        return new RawResponse(status, headers, text[(headerEnd + 4)..]);
    }

    public static Uri Rel(string path) => new(path, UriKind.Relative);

    public static async Task<(HttpResponseMessage Response, string Body)> GetAsync(HttpClient http, string path, CancellationToken ct)
    {
        var response = await http.GetAsync(Rel(path), ct);
        return (response, await response.Content.ReadAsStringAsync(ct));
    }

    public static async Task<(HttpResponseMessage Response, byte[] Body)> SendAsync(HttpClient http, HttpMethod method, string path, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, Rel(path));
        var response = await http.SendAsync(request, ct);
        return (response, await response.Content.ReadAsByteArrayAsync(ct));
    }

    /// <summary>The <c>Content-Type</c> header exactly as sent.</summary>
    public static string? ContentType(HttpResponseMessage response) =>
        response.Content.Headers.TryGetValues("Content-Type", out var values) ? string.Join(", ", values) : null;
}
