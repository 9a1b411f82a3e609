using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Mkio.TestUtilities;

namespace Mkio.Client.Tests.Support;

/// <summary>
/// Mirrors <see cref="MkioTestHost"/> (real Kestrel on 127.0.0.1, mkio from a code-first config,
/// files in a temp folder) with two additions the client tests need: a fixed port, so a restarted
/// server comes back where the client reconnects to, and <see cref="AbortConnections"/>, which drops
/// every WebSocket at the TCP level as a crash or a network failure would.
/// </summary>
public sealed class ClientTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<HttpContext, byte> _sockets;
    private bool _stopped;
    private int _upgrades;

    private ClientTestHost(WebApplication app, ConcurrentDictionary<HttpContext, byte> sockets, int port)
    {
        _app = app;
        _sockets = sockets;
        Port = port;
    }

    public int Port { get; }

    /// <summary>How many WebSocket upgrade requests reached the app (accepted or not).</summary>
    public int Upgrades => Volatile.Read(ref _upgrades);

    /// <summary>ws://127.0.0.1:port/ws</summary>
    public Uri WsUrl => new($"ws://127.0.0.1:{Port}/ws");

    /// <summary>A port nothing listens on right now (bound to port 0, read, released).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>Starts mkio configured by <paramref name="configure"/> on <paramref name="port"/> (0: any free port); relative database paths go to <paramref name="directory"/>.</summary>
    /// <param name="builder">Adds services (e.g. an authentication scheme).</param>
    /// <param name="map">Maps mkio (default <c>app.MapMkio()</c>), e.g. after <c>UseAuthentication</c>.</param>
    public static async Task<ClientTestHost> StartAsync(Action<MkioOptions> configure, TempDirectory directory, int port = 0, CancellationToken cancellationToken = default, Action<WebApplicationBuilder>? builder = null, Action<WebApplication>? map = null)
    {
        var b = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = directory.Path, Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        b.Logging.ClearProviders();
        b.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        b.Services.AddMkio(o =>
        {
            configure(o);
            if (o.DbPath != ":memory:" && !Path.IsPathRooted(o.DbPath))
            {
                o.DbPath = Path.Combine(directory.Path, o.DbPath);
            }
        });
        builder?.Invoke(b);
        var app = b.Build();
        var host = (ClientTestHost?)null;
        var sockets = new ConcurrentDictionary<HttpContext, byte>();
        app.Use(async (context, next) =>
        {
            // MapMkio enables WebSockets in its own branch: recognise the upgrade by its header.
            if (!string.Equals(context.Request.Headers.Upgrade, "websocket", StringComparison.OrdinalIgnoreCase))
            {
                await next(context);
                return;
            }

            Interlocked.Increment(ref host!._upgrades);
            sockets.TryAdd(context, 0);
            try
            {
                await next(context);
            }
            finally
            {
                sockets.TryRemove(context, out _);
            }
        });
        if (map is null)
        {
            app.MapMkio();
        }
        else
        {
            map(app);
        }

        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        host = new ClientTestHost(app, sockets, new Uri(address).Port);
        return host;
    }

    /// <summary>
    /// Drops open WebSocket connections without a close handshake: all of them, or those whose URL
    /// has the query string <c>?tag=<paramref name="tag"/></c>.
    /// </summary>
    public int AbortConnections(string? tag = null)
    {
        var n = 0;
        foreach (var context in _sockets.Keys)
        {
            if (tag is null || context.Request.Query["tag"] == tag)
            {
                context.Abort();
                n++;
            }
        }

        return n;
    }

    /// <inheritdoc cref="MkioTestHost.HoldWriterAsync(CancellationToken)"/>
    public Task<IDisposable> HoldWriterAsync(CancellationToken cancellationToken = default) => MkioTestHost.HoldWriterAsync(_app.Services, cancellationToken);

    /// <inheritdoc cref="MkioTestHost.WaitForQueuedWritesAsync(int, CancellationToken)"/>
    public Task WaitForQueuedWritesAsync(int count, CancellationToken cancellationToken) => MkioTestHost.WaitForQueuedWritesAsync(_app.Services, count, cancellationToken);

    /// <summary>Graceful shutdown: sockets are closed with a close frame.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _app.StopAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}
