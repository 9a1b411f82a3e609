using System.Net;
using System.Net.Sockets;
using System.Text;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Later;

/// <summary><c>[config]</c> routes end to end: TOML served as JSON, the literal JSON fallback, other files, and no way out of the folder.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class ConfigEndpointTests
{
    private static async Task<(MkioTestHost Host, TempDirectory Dir)> StartAsync(CancellationToken ct)
    {
        var dir = new TempDirectory();
        var cfg = Directory.CreateDirectory(dir.File("cfg")).FullName;
        Directory.CreateDirectory(Path.Combine(cfg, "sub"));
        await File.WriteAllTextAsync(Path.Combine(cfg, "app.toml"), "title = \"Shop\"\nlimit = 5\nratio = 0.5\non = true\nwhen = 2024-05-01T10:00:00Z\n[ui]\ncolours = [\"red\", \"blue\"]\n[[ui.panels]]\nname = \"a\"\n", ct);
        await File.WriteAllTextAsync(Path.Combine(cfg, "app.json"), """{"ignored":true}""", ct);
        await File.WriteAllTextAsync(Path.Combine(cfg, "plain.json"), """{"plain":1}""", ct);
        await File.WriteAllTextAsync(Path.Combine(cfg, "empty.toml"), string.Empty, ct);
        await File.WriteAllTextAsync(Path.Combine(cfg, "notes.txt"), "hello", ct);
        await File.WriteAllTextAsync(dir.File("secret.txt"), "secret", ct);
        await File.WriteAllTextAsync(dir.File("secret.toml"), "secret = 1", ct);
        File.CreateSymbolicLink(Path.Combine(cfg, "link.txt"), dir.File("secret.txt"));
        File.CreateSymbolicLink(Path.Combine(cfg, "link.toml"), dir.File("secret.toml"));
        var config = LaterHost.Config + $"\n[config]\n\"/settings/\" = '{cfg}'\n\"/gone\" = '{dir.File("missing")}'\n";
        return await LaterHost.StartAsync(ct, config, dir: dir);
    }

    [TestCase("settings/app.json", "application/json", """{"title":"Shop","limit":5,"ratio":0.5,"on":true,"when":"2024-05-01T10:00:00Z","ui":{"colours":["red","blue"],"panels":[{"name":"a"}]}}""")]
    [TestCase("settings/plain.json", "application/json", """{"plain":1}""")]
    [TestCase("settings/empty.json", "application/json", "{}")]
    [TestCase("settings/notes.txt", "text/plain", "hello")]
    [CancelAfter(60_000)]
    public async Task Get_ServesFile(string path, string type, string body, CancellationToken ct)
    {
        var (host, dir) = await StartAsync(ct);
        await using (host)
        using (dir)
        {
            using var http = host.CreateHttpClient();
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative), ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
                Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo(type));
                Assert.That(response.Headers.CacheControl?.NoCache, Is.True);
                Assert.That(await response.Content.ReadAsStringAsync(ct), Is.EqualTo(body));
            }
        }
    }

    [TestCase("settings/nothing.json", HttpStatusCode.NotFound)]
    [TestCase("settings/sub", HttpStatusCode.NotFound)]
    [TestCase("settings/", HttpStatusCode.NotFound)]
    [TestCase("gone/app.json", HttpStatusCode.NotFound)]
    [TestCase("settings/link.txt", HttpStatusCode.Forbidden)]
    [TestCase("settings/link.json", HttpStatusCode.Forbidden)]
    [TestCase("settings//etc/passwd", HttpStatusCode.Forbidden)]
    [CancelAfter(60_000)]
    public async Task Get_RefusedOrMissing(string path, HttpStatusCode status, CancellationToken ct)
    {
        var (host, dir) = await StartAsync(ct);
        await using (host)
        using (dir)
        {
            using var http = host.CreateHttpClient();
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative), ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(response.StatusCode, Is.EqualTo(status));
                Assert.That(body, Does.Not.Contain("secret"));
            }
        }
    }

    /// <summary>A raw request line, so that no client library normalises the dot segments away first.</summary>
    [TestCase("/settings/../secret.txt")]
    [TestCase("/settings/sub/../../secret.txt")]
    [TestCase("/settings/%2e%2e/secret.txt")]
    [TestCase("/settings/sub/%2E%2E/%2e%2e/secret.json")]
    [TestCase("/settings/..%2fsecret.txt")]
    [TestCase("/settings/%2e%2e%2fsecret.toml")]
    [TestCase("/settings/%2fetc%2fpasswd")]
    [TestCase("/settings/..%5csecret.txt")]
    [CancelAfter(60_000)]
    public async Task Get_RawDotDotRequestLine_NeverServesOutsideTheFolder(string target, CancellationToken ct)
    {
        var (host, dir) = await StartAsync(ct);
        await using (host)
        using (dir)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(host.BaseUri.Host, host.BaseUri.Port, ct);
            await using var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), ct);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            var response = await reader.ReadToEndAsync(ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(response, Does.StartWith("HTTP/1.1 4"));
                Assert.That(response, Does.Not.Contain("secret"));
            }
        }
    }
}
