using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Mkio.TestUtilities;

namespace Mkio.Browser.Tests.Support;

/// <summary>
/// Mirrors <see cref="MkioTestHost"/> (real Kestrel on 127.0.0.1, mkio from TOML and/or code, the
/// database and static folders in a temp folder) on a FIXED port, so that a server stopped and
/// started again with the same port and folder comes back where clients reconnect to, with the
/// same database file.
/// </summary>
internal sealed class FixedPortHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;
    private bool _disposed;

    private FixedPortHost(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>http://127.0.0.1:port/</summary>
    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");

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

    /// <summary>
    /// Starts mkio on 127.0.0.1:<paramref name="port"/> with its content root in <paramref name="directory"/>:
    /// the TOML file (when given) then <paramref name="configure"/>; relative database and static paths
    /// are resolved inside <paramref name="directory"/>, as <see cref="MkioTestHost"/> does.
    /// </summary>
    public static async Task<FixedPortHost> StartAsync(
        int port,
        TempDirectory directory,
        Action<MkioOptions> configure,
        string? tomlPath = null,
        CancellationToken cancellationToken = default)
    {
        var b = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = directory.Path, Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        b.Logging.ClearProviders();
        b.Logging.SetMinimumLevel(LogLevel.Warning);
        b.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        void Configure(MkioOptions o)
        {
            configure(o);
            if (o.DbPath != ":memory:" && !Path.IsPathRooted(o.DbPath))
            {
                o.DbPath = Path.Combine(directory.Path, o.DbPath);
            }

            for (var i = 0; i < o.Static.Count; i++)
            {
                var s = o.Static[i];
                if (!Path.IsPathRooted(s.Directory))
                {
                    o.Static[i] = s with { Directory = Path.Combine(directory.Path, s.Directory) };
                }
            }
        }

        _ = tomlPath is null ? b.Services.AddMkio(Configure) : b.Services.AddMkio(tomlPath, Configure);
        b.Services.AddHealthChecks().AddMkio();
        var app = b.Build();
        app.MapMkio();
        app.MapHealthChecks("/health");
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new FixedPortHost(app, port);
    }

    /// <summary>Opens a raw WebSocket to <c>/ws</c>.</summary>
    public Task<TestSocket> ConnectAsync(CancellationToken cancellationToken = default) =>
        TestSocket.ConnectAsync(WsUrl, cancellationToken);

    /// <summary>Graceful shutdown (as on SIGTERM): sockets are closed with 1001.</summary>
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
        if (_disposed)
        {
            return;
        }

        _disposed = true;
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
