using System.Net;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Http.HttpTestSupport;

namespace Mkio.AspNetCore.Tests.Http;

/// <summary><c>GET /mkio.js</c> (PROTOCOL.md §1.4; CONFORMANCE item 30) with ETag revalidation.</summary>
[NonParallelizable]
public sealed class ClientScriptTests
{
    private MkioTestHost _host = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        _host = await MkioTestHost.StartAsync(Fixtures.FixtureA, cts.Token);
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
    }

    [Test, CancelAfter(20_000)]
    public async Task Get_MkioJs_JavaScriptWithClientAndMakeRef(CancellationToken ct)
    {
        var (response, body) = await GetAsync(_http, "mkio.js", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ContentType(response), Does.StartWith("application/javascript"));
            Assert.That(body, Does.Contain("MkioClient"));
            Assert.That(body, Does.Contain("makeRef"));
            Assert.That(response.Headers.ETag, Is.Not.Null);
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Get_TwiceWithoutChange_SameStrongETag(CancellationToken ct)
    {
        var (first, _) = await GetAsync(_http, "mkio.js", ct);
        var (second, _) = await GetAsync(_http, "mkio.js", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.Headers.ETag!.IsWeak, Is.False);
            Assert.That(second.Headers.ETag, Is.EqualTo(first.Headers.ETag));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Get_IfNoneMatchCurrentETag_304WithoutBody(CancellationToken ct)
    {
        var (first, _) = await GetAsync(_http, "mkio.js", ct);
        using var request = new HttpRequestMessage(HttpMethod.Get, Rel("mkio.js"));
        request.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        using var response = await _http.SendAsync(request, ct);
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotModified));
            Assert.That(body, Is.Empty);
            Assert.That(response.Headers.ETag, Is.EqualTo(first.Headers.ETag));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Get_IfNoneMatchOtherETag_200WithBody(CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Rel("mkio.js"));
        request.Headers.TryAddWithoutValidation("If-None-Match", "\"0000000000000000\"");
        using var response = await _http.SendAsync(request, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(body, Does.Contain("MkioClient"));
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task Head_MkioJs_HeadersWithoutBody(CancellationToken ct)
    {
        var (get, getBody) = await SendAsync(_http, HttpMethod.Get, "mkio.js", ct);
        var (head, headBody) = await SendAsync(_http, HttpMethod.Head, "mkio.js", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(head.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(ContentType(head), Does.StartWith("application/javascript"));
            Assert.That(head.Content.Headers.ContentLength, Is.EqualTo(getBody.Length));
            Assert.That(head.Headers.ETag, Is.EqualTo(get.Headers.ETag));
            Assert.That(headBody, Is.Empty);
        }
    }
}
