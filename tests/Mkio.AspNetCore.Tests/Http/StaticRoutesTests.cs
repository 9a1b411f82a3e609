using System.Net;
using System.Text;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Http.HttpTestSupport;

namespace Mkio.AspNetCore.Tests.Http;

/// <summary>
/// <c>[static]</c> routes over real Kestrel (PROTOCOL.md §1.2–§1.3; CONFORMANCE items 31–32): <c>"/"</c> serves
/// <c>index.html</c> at <c>/</c> and the folder under <c>/static/</c>; other prefixes serve their folder; no listings,
/// no escaping the folder.
/// </summary>
[NonParallelizable]
public sealed class StaticRoutesTests
{
    private const string Index = "<!doctype html><h1>mkio home</h1>";
    private const string Secret = "TOP SECRET — outside every static folder";

    private TempDirectory _dir = null!;
    private MkioTestHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _dir = new TempDirectory();
        Write("static/index.html", Index);
        Write("static/app.js", "console.log('app');");
        Write("static/style.css", "body { color: red; }");
        Write("static/sub/inner.txt", "inner text");
        Write("static/v1..2.txt", "dotted name");
        Write("public/a.css", "a { }");
        Write("public/nested/b.txt", "nested b");
        Write("public/index.html", "<p>public index</p>");
        Write("secret.txt", Secret);
        Write("outside/deep.txt", Secret);

        // Symbolic links (issue 9, item 9): to a file outside, to a directory outside, and one that stays inside.
        File.CreateSymbolicLink(_dir.File("static/leak.txt"), _dir.File("secret.txt"));
        Directory.CreateSymbolicLink(_dir.File("static/linkdir"), _dir.File("outside"));
        File.CreateSymbolicLink(_dir.File("static/alias.js"), _dir.File("static/app.js"));
        Directory.CreateSymbolicLink(_dir.File("public/subalias"), _dir.File("public/nested"));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        _host = await MkioTestHost.StartAsync(
            o => Fixtures.FixtureA(o.StaticFiles("/", "static").StaticFiles("/assets", "public")),
            cts.Token,
            directory: _dir);
        _http = _host.CreateHttpClient();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _http?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        _dir?.Dispose();
    }

    private void Write(string relative, string content)
    {
        var path = _dir.File(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content, new UTF8Encoding(false));
    }

    // ------------------------------------------------------------------ item 31

    [Test, CancelAfter(20_000)]
    public async Task Get_Root_ServesIndexHtml(CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, "/", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ContentType(response), Does.StartWith("text/html"));
            Assert.That(body, Is.EqualTo(Index));
        }
    }

    [TestCase("static/index.html", "text/html", Index)]
    [TestCase("static/app.js", "javascript", "console.log('app');")]
    [TestCase("static/style.css", "text/css", "body { color: red; }")]
    [TestCase("static/sub/inner.txt", "text/plain", "inner text")]
    [TestCase("static/v1..2.txt", "text/plain", "dotted name")]
    [TestCase("assets/a.css", "text/css", "a { }")]
    [TestCase("assets/nested/b.txt", "text/plain", "nested b")]
    [TestCase("assets/index.html", "text/html", "<p>public index</p>")]
    [CancelAfter(20_000)]
    public async Task Get_FileUnderPrefix_ServedWithTypeByExtension(string path, string type, string content, CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, path, ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ContentType(response), type == "javascript"
                ? Does.StartWith("text/javascript").Or.StartWith("application/javascript")
                : Does.StartWith(type));
            Assert.That(body, Is.EqualTo(content));
        }
    }

    [TestCase("index.html")]
    [TestCase("app.js")]
    [TestCase("static/missing.txt")]
    [TestCase("static/sub/missing.txt")]
    [TestCase("assets/missing.css")]
    [TestCase("public/a.css")]
    [CancelAfter(20_000)]
    public async Task Get_NoSuchFileOrNotMapped_Returns404(string path, CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, path, ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That(body, Does.Not.Contain("<h1>"));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Get_MissingFileInStaticFolder_404TextPlain(CancellationToken ct)
    {
        var (response, _) = await GetAsync(_http, "static/missing.txt", ct);
        Assert.That(ContentType(response), Does.StartWith("text/plain"));
    }

    [TestCase("/")]
    [TestCase("/static/index.html")]
    [TestCase("/static/app.js")]
    [TestCase("/assets/a.css")]
    [CancelAfter(20_000)]
    public async Task Head_StaticFile_HeadersWithoutBody(string path, CancellationToken ct)
    {
        var (get, getBody) = await SendAsync(_http, HttpMethod.Get, path, ct);
        var (head, headBody) = await SendAsync(_http, HttpMethod.Head, path, ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(head.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ContentType(head), Is.EqualTo(ContentType(get)));
            Assert.That(head.Content.Headers.ContentLength, Is.EqualTo(getBody.Length));
            Assert.That(headBody, Is.Empty);
        }
    }

    [TestCase("POST", "/")]
    [TestCase("POST", "/static/app.js")]
    [TestCase("DELETE", "/assets/a.css")]
    [CancelAfter(20_000)]
    public async Task WrongMethod_StaticRoute_Returns405(string method, string path, CancellationToken ct)
    {
        var (response, _) = await SendAsync(_http, new HttpMethod(method), path, ct);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.MethodNotAllowed));
    }

    // ------------------------------------------------------------------ item 32: no listings, no escape

    [TestCase("static/")]
    [TestCase("static/sub")]
    [TestCase("static/sub/")]
    [TestCase("assets/")]
    [TestCase("assets/nested")]
    [TestCase("assets/nested/")]
    [CancelAfter(20_000)]
    public async Task Get_Directory_Returns403WithoutListing(string path, CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, path, ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(body, Does.Not.Contain("inner.txt").And.Not.Contain("b.txt"));
        }
    }

    [TestCase("/static/../secret.txt")]
    [TestCase("/static/%2e%2e/secret.txt")]
    [TestCase("/static/%2E%2E/secret.txt")]
    [TestCase("/static/..%2fsecret.txt")]
    [TestCase("/static/..%2Fsecret.txt")]
    [TestCase("/static/%2e%2e%2fsecret.txt")]
    [TestCase("/static/sub/..%2f..%2fsecret.txt")]
    [TestCase("/static/sub/../../secret.txt")]
    [TestCase("/static/..%5csecret.txt")]
    [TestCase("/static/.%2e/secret.txt")]
    [TestCase("/assets/../secret.txt")]
    [TestCase("/assets/%2e%2e/secret.txt")]
    [TestCase("/assets/nested/..%2f..%2fsecret.txt")]
    [TestCase("/static//etc/passwd")]
    [CancelAfter(20_000)]
    public async Task Get_TraversalAttempt_RefusedAndSecretNeverServed(string target, CancellationToken ct)
    {
        var response = await RawGetAsync(_host.BaseUri, target, ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.Status, Is.AnyOf(403, 404), target);
            Assert.That(response.Body, Does.Not.Contain("TOP SECRET"));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Get_AbsolutePathOfSecretUnderStatic_NotServed(CancellationToken ct)
    {
        // "/static//tmp/.../secret.txt": the catch-all value is an absolute path.
        var response = await RawGetAsync(_host.BaseUri, "/static/" + _dir.File("secret.txt"), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.Status, Is.AnyOf(403, 404));
            Assert.That(response.Body, Does.Not.Contain("TOP SECRET"));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Get_SanityRawClient_ServesFiles(CancellationToken ct)
    {
        // Shows the raw client above reaches real files (so its 403/404s are the server's doing).
        var response = await RawGetAsync(_host.BaseUri, "/static/sub/inner.txt", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.Status, Is.EqualTo(200));
            Assert.That(response.Body, Is.EqualTo("inner text"));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Get_MkioRoutesAlongsideStatic_StillServed(CancellationToken ct)
    {
        var (services, _) = await GetAsync(_http, "api/services", ct);
        var (script, _) = await GetAsync(_http, "mkio.js", ct);
        var (ws, _) = await GetAsync(_http, "ws", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(services.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(script.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ws.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SymbolicLink_LeadingOutside_NotServed_InsideStillServed(CancellationToken ct)
    {
        using var file = await _http.GetAsync(new Uri("static/leak.txt", UriKind.Relative), ct);
        using var dir = await _http.GetAsync(new Uri("static/linkdir/deep.txt", UriKind.Relative), ct);
        var fileBody = await file.Content.ReadAsStringAsync(ct);
        var dirBody = await dir.Content.ReadAsStringAsync(ct);
        var inside = await _http.GetStringAsync(new Uri("static/alias.js", UriKind.Relative), ct);
        var nested = await _http.GetStringAsync(new Uri("assets/subalias/b.txt", UriKind.Relative), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(file.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "a file link to outside the folder");
            Assert.That(dir.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "a directory link to outside the folder");
            Assert.That(fileBody + dirBody, Does.Not.Contain("TOP SECRET"));
            Assert.That(inside, Is.EqualTo("console.log('app');"), "a link that stays inside still works");
            Assert.That(nested, Is.EqualTo("nested b"));
        }
    }
}
