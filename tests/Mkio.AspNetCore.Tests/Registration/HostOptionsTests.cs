using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Registration.RegistrationTestSupport;

namespace Mkio.AspNetCore.Tests.Registration;

/// <summary>Host-only options that guard the WebSocket endpoints: <c>AllowedOrigins</c> and <c>MaxConnections</c>.</summary>
public sealed class HostOptionsTests
{
    private const string Insert = """{"service":"add_order","ref":"h1","data":{"id":"1","symbol":"A","qty":1}}""";
    private const string Ok = """{"type":"result","service":"add_order","ref":"h1","ok":true}""";

    [Test, CancelAfter(30_000)]
    public async Task AllowedOrigins_ForeignOrigin_Refused403(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.AllowedOrigins.Add("http://allowed.example");
        }, ct);

        var general = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), o => o.SetRequestHeader("Origin", "http://evil.example"), ct);
        var perService = await HandshakeStatusAsync(new Uri(host.WsBase, "ws/add_order"), o => o.SetRequestHeader("Origin", "http://evil.example"), ct);
        var lookalike = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), o => o.SetRequestHeader("Origin", "http://allowed.example.evil.example"), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(general, Is.EqualTo(403));
            Assert.That(perService, Is.EqualTo(403));
            Assert.That(lookalike, Is.EqualTo(403));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task AllowedOrigins_AllowedOrigin_ConnectsAndWorks(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.AllowedOrigins.Add("http://allowed.example");
            o.AllowedOrigins.Add("https://other.example:8443");
        }, ct);

        await using var socket = await TestSocket.ConnectAsync(new Uri(host.WsBase, "ws"), ct, o => o.SetRequestHeader("Origin", "http://allowed.example"));
        var reply = await socket.RequestAsync(Insert, ct);
        var second = await HandshakeStatusAsync(new Uri(host.WsBase, "ws/add_order"), o => o.SetRequestHeader("Origin", "https://other.example:8443"), ct);
        var caseInsensitive = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), o => o.SetRequestHeader("Origin", "HTTP://ALLOWED.EXAMPLE"), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo(Ok));
            Assert.That(second, Is.EqualTo(101));
            Assert.That(caseInsensitive, Is.EqualTo(101));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task AllowedOrigins_NoOriginHeader_Accepted(CancellationToken ct)
    {
        // Non-browser clients (the Python client, the CLI) send no Origin header.
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.AllowedOrigins.Add("http://allowed.example");
        }, ct);
        await using var socket = await host.ConnectAsync("ws", ct);
        Assert.That((await socket.RequestAsync(Insert, ct)).GetRawText(), Is.EqualTo(Ok));
    }

    [Test, CancelAfter(30_000)]
    public async Task AllowedOrigins_Default_SameOriginAcceptedForeignRefused403(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        var self = $"http://{host.BaseUri.Authority}";
        var same = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), o => o.SetRequestHeader("Origin", self), ct);
        var foreign = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), o => o.SetRequestHeader("Origin", "http://anything.example"), ct);
        var otherPort = await HandshakeStatusAsync(new Uri(host.WsBase, "ws/add_order"), o => o.SetRequestHeader("Origin", $"http://127.0.0.1:{host.BaseUri.Port + 1}"), ct);
        var otherScheme = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), o => o.SetRequestHeader("Origin", $"https://{host.BaseUri.Authority}"), ct);
        var none = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), _ => { }, ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(same, Is.EqualTo(101), "same origin (scheme, host and port of the request)");
            Assert.That(none, Is.EqualTo(101), "no Origin header: a non-browser client");
            Assert.That(foreign, Is.EqualTo(403));
            Assert.That(otherPort, Is.EqualTo(403));
            Assert.That(otherScheme, Is.EqualTo(403));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task AllowedOrigins_Star_AcceptsAnyOrigin(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.AllowedOrigins.Add("*");
        }, ct);
        var status = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), o => o.SetRequestHeader("Origin", "http://anything.example"), ct);
        Assert.That(status, Is.EqualTo(101));
    }

    [Test, CancelAfter(30_000)]
    public async Task MaxConnections_Default_IsTenThousand(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MkioOptions>>().Value;
        Assert.That(options.MaxConnections, Is.EqualTo(10_000));
    }

    /// <summary>
    /// A peer that completes the upgrade and never answers a ping is closed (ws_heartbeat_s, issue 9
    /// item 6); a normal client, whose WebSocket answers pings by itself, stays open meanwhile.
    /// </summary>
    [Test, CancelAfter(60_000)]
    public async Task Heartbeat_SilentPeerClosed_AnsweringClientStaysOpen(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.WsHeartbeatS = 2; // short for the test, long enough for a loaded machine to answer pings in time
        }, ct);
        await using var normal = await host.ConnectAsync("ws", ct);
        using var silent = await Lifecycle.RawWebSocket.ConnectAsync(new Uri(host.WsBase, "ws"), ct);

        // The first frame the silent peer gets is a ping (opcode 9); it never answers, so the server
        // ends the connection (it aborts: a reset or a FIN, no close handshake needed).
        var (opcode, _) = await silent.ReadFrameAsync(ct);
        var (ending, _) = await silent.ReadToEndAsync(ct);
        var tracker = host.Services.GetRequiredService<Mkio.AspNetCore.WebSockets.MkioConnectionTracker>();
        await Eventually.WaitUntilAsync(() => tracker.Count == 1, "the silent connection is released", ct);

        // By now at least two ping intervals have passed: the answering client is still served.
        var reply = await normal.RequestAsync(Insert, ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(opcode, Is.EqualTo(9), "a ping");
            Assert.That(ending, Is.AnyOf(Lifecycle.RawWebSocket.Ending.Fin, Lifecycle.RawWebSocket.Ending.Reset));
            Assert.That(normal.State, Is.EqualTo(WebSocketState.Open));
            Assert.That(reply.GetRawText(), Is.EqualTo(Ok));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task MaxConnections_ExtraConnection_Refused503BeforeUpgrade(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.MaxConnections = 1;
        }, ct);
        await using var first = await host.ConnectAsync("ws", ct);
        var firstReply = await first.RequestAsync(Insert, ct); // the first connection is registered by now

        var extra = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), _ => { }, ct);
        var stillWorks = await first.RequestAsync("""{"service":"add_order","type":"check","ref":"h1"}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(firstReply.GetRawText(), Is.EqualTo(Ok));
            Assert.That(extra, Is.EqualTo(503), "refused with an HTTP status before the WebSocket opens");
            Assert.That(stillWorks.GetRawText(), Is.EqualTo(Ok), "the admitted connection is unaffected");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task MaxConnections_Zero_Unlimited(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.MaxConnections = 0;
        }, ct);
        var sockets = new List<TestSocket>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                sockets.Add(await host.ConnectAsync("ws", ct));
            }

            var replies = new List<string>();
            for (var i = 0; i < sockets.Count; i++)
            {
                var r = await sockets[i].RequestAsync($$"""{"service":"add_order","type":"check","ref":"none{{i}}"}""", ct);
                replies.Add(r.GetProperty("type").GetString()!);
            }

            Assert.That(replies, Has.All.EqualTo("result"));
        }
        finally
        {
            foreach (var s in sockets)
            {
                await s.DisposeAsync();
            }
        }
    }
}
