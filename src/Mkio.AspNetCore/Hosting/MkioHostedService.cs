using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Mkio.AspNetCore.WebSockets;

namespace Mkio.AspNetCore.Hosting;

/// <summary>
/// Starts the engine before the server accepts traffic, and runs the shutdown sequence of
/// SERVICES.md §14 with fix F19 in the host's <em>stopping</em> phase, before Kestrel stops:
/// refuse new connections, answer every queued write, close sockets with 1001, stop services,
/// checkpoint and close the database.
/// </summary>
internal sealed partial class MkioHostedService(MkioEngineHost host, MkioConnectionTracker connections, ILogger<MkioHostedService> logger) : IHostedLifecycleService
{
    /// <summary>How long peers get to answer the shutdown close frame before their sockets are aborted.</summary>
    internal static readonly TimeSpan CloseHandshakeGrace = TimeSpan.FromSeconds(1);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var engine = host.Create();
        await engine.StartAsync(cancellationToken).ConfigureAwait(false);
        foreach (var w in engine.Model.Warnings)
        {
            Log.ConfigWarning(logger, w.ToString());
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        host.Stopping = true;
        var engine = host.TryGetEngine();
        if (engine is null)
        {
            return;
        }

        try
        {
            await engine.DrainWritesAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ShutdownFailed(logger, ex);
        }

        try
        {
            var drainTimeout = TimeSpan.FromSeconds(Math.Max(1, engine.Model.Options.ShutdownTimeout));
            await connections.CloseAllAsync(System.Net.WebSockets.WebSocketCloseStatus.EndpointUnavailable, "server shutting down", CloseHandshakeGrace, drainTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ShutdownFailed(logger, ex);
        }

        await engine.DisposeAsync().ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "mkio config: {Warning}")]
        public static partial void ConfigWarning(ILogger logger, string warning);

        [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "A shutdown step failed; shutdown continues.")]
        public static partial void ShutdownFailed(ILogger logger, Exception exception);
    }
}
