using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mkio.Client.Tests.Support;

/// <summary>
/// A WebSocket endpoint at <c>/ws</c> that is not mkio: each accepted socket is handed to the test,
/// which decides what the "server" sends (text frames, bare NaN tokens, garbage). Only for the
/// cases a real mkio server never produces.
/// </summary>
public sealed class FakeServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<FakePeer> _peers;

    private FakeServer(WebApplication app, Channel<FakePeer> peers, int port)
    {
        _app = app;
        _peers = peers;
        WsUrl = new Uri($"ws://127.0.0.1:{port}/ws");
    }

    public Uri WsUrl { get; }

    public static async Task<FakeServer> StartAsync(CancellationToken cancellationToken)
    {
        var b = WebApplication.CreateSlimBuilder();
        b.Logging.ClearProviders();
        b.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = b.Build();
        var peers = Channel.CreateUnbounded<FakePeer>();
        app.UseWebSockets();
        app.Map("/ws", async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }

            using var ws = await context.WebSockets.AcceptWebSocketAsync();
            var peer = new FakePeer(ws);
            await peers.Writer.WriteAsync(peer, context.RequestAborted);
            await peer.Done.Task;
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new FakeServer(app, peers, new Uri(address).Port);
    }

    /// <summary>The next client connection.</summary>
    public ValueTask<FakePeer> AcceptAsync(CancellationToken cancellationToken) => _peers.Reader.ReadAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        while (_peers.Reader.TryRead(out var p))
        {
            p.Done.TrySetResult();
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>One connection accepted by <see cref="FakeServer"/>.</summary>
public sealed class FakePeer(WebSocket socket)
{
    public WebSocket Socket => socket;

    /// <summary>Complete to end the server side of the connection.</summary>
    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The next message from the client, as text.</summary>
    public async Task<string> ReceiveAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        while (true)
        {
            var r = await socket.ReceiveAsync(buffer, cancellationToken);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                throw new InvalidOperationException("The client closed the socket.");
            }

            ms.Write(buffer, 0, r.Count);
            if (r.EndOfMessage)
            {
                return Encoding.UTF8.GetString(ms.ToArray());
            }
        }
    }

    public Task SendAsync(string text, WebSocketMessageType type, CancellationToken cancellationToken) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), type, true, cancellationToken);
}
