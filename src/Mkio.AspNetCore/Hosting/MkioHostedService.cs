using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mkio.AspNetCore.WebSockets;

namespace Mkio.AspNetCore.Hosting;

/// <summary>
/// Starts the engine before the server accepts traffic, and runs the shutdown sequence of
/// SERVICES.md §14 with fix F19 in the host's <em>stopping</em> phase, before Kestrel stops:
/// refuse new connections, answer every queued write, close sockets with 1001, stop services,
/// checkpoint and close the database.
/// </summary>
/// <remarks>
/// A start-up failure (invalid or missing config, database owned by another process, refused
/// migration…) is logged as one critical line (category <see cref="StartupCategory"/>, no stack
/// trace for these expected errors), <see cref="Environment.ExitCode"/> is set to 1 and the
/// application is stopped once the host has started: <c>app.Run()</c> then returns and the process
/// exits with 1. Throwing instead would make the host log the exception and <c>app.Run()</c> end the
/// process as an unhandled exception (a stack trace and exit code 134). The failure stays available
/// as <see cref="MkioEngineHost.StartupFailure"/>; while stopping, mkio's endpoints answer 503.
/// </remarks>
internal sealed partial class MkioHostedService(
    MkioEngineHost host,
    MkioConnectionTracker connections,
    IHostApplicationLifetime lifetime,
    IServiceProvider services,
    ILoggerFactory loggerFactory,
    ILogger<MkioHostedService> logger) : IHostedLifecycleService
{
    /// <summary>The log category of the start-up summary, the URL and a start-up failure.</summary>
    public const string StartupCategory = "Mkio.Startup";

    /// <summary>How long peers get to answer the shutdown close frame before their sockets are aborted.</summary>
    internal static readonly TimeSpan CloseHandshakeGrace = TimeSpan.FromSeconds(1);

    private readonly ILogger _startup = loggerFactory.CreateLogger(StartupCategory);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        try
        {
            var engine = host.Create();
            await engine.StartAsync(cancellationToken).ConfigureAwait(false);
            foreach (var w in engine.Model.Warnings)
            {
                Log.ConfigWarning(logger, w.ToString());
            }

            if (engine.Model.Options.WarmUp)
            {
                var warm = await MkioWarmUp.RunAsync(cancellationToken).ConfigureAwait(false);

                // The start (change logs seeded with up to change_log_size rows per service) and the warm-up leave a young
                // heap full of long-lived objects: one collection now promotes them, so the first client's request does
                // not pay for a collection that has to trace them (measured: the first resume after a restart 3.3–7.0 ms without it, 2.7–4.1 with it).
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                if (warm.Complete)
                {
                    Log.WarmedUp(logger, warm.Elapsed.TotalMilliseconds);
                }
                else
                {
                    Log.WarmUpIncomplete(logger, warm.Elapsed.TotalMilliseconds, warm.Results, warm.Updates, warm.DeltaChanges, warm.Error?.Message ?? "-");
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            host.StartupFailure = ex;
            Environment.ExitCode = 1;
            var reason = OneLine(ex);
            if (IsExpected(ex))
            {
                Log.StartFailed(_startup, reason);
            }
            else
            {
                Log.StartFailedUnexpected(_startup, ex, reason);
            }

            // Release the database (and its ownership lock) at once.
            await host.DisposeAsync().ConfigureAwait(false);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        if (host.StartupFailure is not null)
        {
            // Only now: stopping during StartingAsync would cancel Kestrel's bind with an exception.
            lifetime.StopApplication();
            return Task.CompletedTask;
        }

        var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses is { Count: > 0 })
        {
            var urls = string.Join(", ", addresses.Select(ClickableUrl));
            Log.Listening(_startup, urls);
        }

        return Task.CompletedTask;
    }

    /// <summary>A URL a browser can open: a wildcard bind (<c>0.0.0.0</c>, <c>[::]</c>, <c>+</c>, <c>*</c>) becomes <c>localhost</c>; with a trailing slash.</summary>
    internal static string ClickableUrl(string address)
    {
        var a = address.Replace("://0.0.0.0:", "://localhost:", StringComparison.Ordinal)
            .Replace("://[::]:", "://localhost:", StringComparison.Ordinal)
            .Replace("://+:", "://localhost:", StringComparison.Ordinal)
            .Replace("://*:", "://localhost:", StringComparison.Ordinal);
        return a.EndsWith('/') ? a : a + "/";
    }

    /// <summary>Errors a user can fix from the message alone: reported without a stack trace.</summary>
    internal static bool IsExpected(Exception ex) =>
        ex is MkioConfigurationException or MkioDatabaseInUseException or OptionsValidationException or SqliteException or IOException or UnauthorizedAccessException;

    /// <summary>The failure as one line (a multi-error config report keeps its error lines).</summary>
    internal static string OneLine(Exception ex) => ex switch
    {
        OptionsValidationException o => string.Join(Environment.NewLine, o.Failures),
        _ => ex.Message,
    };

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        host.Stopping = true;
        var engine = host.TryGetEngine();
        if (engine is null || host.StartupFailure is not null)
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

        [LoggerMessage(EventId = 3010, Level = LogLevel.Critical, Message = "mkio cannot start: {Reason}")]
        public static partial void StartFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 3011, Level = LogLevel.Critical, Message = "mkio cannot start: {Reason}")]
        public static partial void StartFailedUnexpected(ILogger logger, Exception exception, string reason);

        [LoggerMessage(EventId = 4011, Level = LogLevel.Debug, Message = "Start-up warm-up done in {Ms:0} ms.")]
        public static partial void WarmedUp(ILogger logger, double ms);

        [LoggerMessage(EventId = 4012, Level = LogLevel.Debug, Message = "Start-up warm-up stopped early after {Ms:0} ms ({Results} results, {Updates} updates, {DeltaChanges} delta changes): {Reason}. Start-up continues.")]
        public static partial void WarmUpIncomplete(ILogger logger, double ms, int results, int updates, int deltaChanges, string reason);

        [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "mkio is listening on {Urls}")]
        public static partial void Listening(ILogger logger, string urls);

        [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "A shutdown step failed; shutdown continues.")]
        public static partial void ShutdownFailed(ILogger logger, Exception exception);
    }
}
