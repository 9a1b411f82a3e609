using System.Net.WebSockets;
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
    public async Task AllowedOrigins_Empty_AcceptsAnyOrigin(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        var status = await HandshakeStatusAsync(new Uri(host.WsBase, "ws"), o => o.SetRequestHeader("Origin", "http://anything.example"), ct);
        Assert.That(status, Is.EqualTo(101));
    }

    [Test, CancelAfter(30_000)]
    public async Task MaxConnections_ExtraConnection_ClosedWithPolicyViolation(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.MaxConnections = 1;
        }, ct);
        await using var first = await host.ConnectAsync("ws", ct);
        var firstReply = await first.RequestAsync(Insert, ct); // the first connection is registered by now

        await using var extra = await host.ConnectAsync("ws", ct);
        await extra.Closed.WaitAsync(ct);
        var stillWorks = await first.RequestAsync("""{"service":"add_order","type":"check","ref":"h1"}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(firstReply.GetRawText(), Is.EqualTo(Ok));
            Assert.That(extra.CloseStatus, Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
            Assert.That(extra.CloseStatusDescription, Is.EqualTo("connection limit reached"));
            Assert.That(extra.Pending, Is.Zero, "the refused connection gets no message");
            Assert.That(stillWorks.GetRawText(), Is.EqualTo(Ok), "the admitted connection is unaffected");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task MaxConnections_Zero_Unlimited(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
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
