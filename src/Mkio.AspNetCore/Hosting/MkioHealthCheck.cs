using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Mkio.AspNetCore.Hosting;

/// <summary>
/// Healthy while the engine runs, its writer accepts requests and the database answers a read; degraded while
/// write batches fail as a whole (cannot begin: another connection holds the write lock; cannot commit: e.g. the
/// disk is full) until one commits again; unhealthy when stopped or unreadable, and once the writer stopped after
/// another process wrote to its change journal; on PostgreSQL also while the node's journal tail cannot follow the
/// journal (the description names the tail).
/// </summary>
internal sealed class MkioHealthCheck(MkioEngineHost host) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var engine = host.TryGetEngine();
        if (engine is not null && engine.IsShuttingDown)
        {
            return HealthCheckResult.Unhealthy("mkio is shutting down.");
        }

        if (engine is null || !engine.IsStarted)
        {
            return HealthCheckResult.Unhealthy("mkio is not running.");
        }

        if (engine.StorageFaultDescription is { } fault)
        {
            return HealthCheckResult.Unhealthy(fault);
        }

        try
        {
            await engine.PingAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("The mkio database does not answer.", ex);
        }

        var data = new Dictionary<string, object>
        {
            ["connections"] = engine.SessionCount,
            ["write_queue"] = engine.WriteQueueLength,
            ["services"] = engine.Model.Services.Length,
        };
        if (engine.WriterBatchError is { } error)
        {
            var hint = error.Contains("locked", StringComparison.OrdinalIgnoreCase) ? " (is another connection holding the database's write lock?)" : string.Empty;
            return HealthCheckResult.Degraded($"mkio cannot write: {error}{hint}. Reads and subscriptions still work.", data: data);
        }

        return HealthCheckResult.Healthy("mkio is running.", data);
    }
}
