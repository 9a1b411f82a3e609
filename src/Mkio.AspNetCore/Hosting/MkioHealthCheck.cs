using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Mkio.AspNetCore.Hosting;

/// <summary>Healthy while the engine runs, its writer accepts requests and the database answers a read.</summary>
internal sealed class MkioHealthCheck(MkioEngineHost host) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var engine = host.TryGetEngine();
        if (engine is null || !engine.IsStarted)
        {
            return HealthCheckResult.Unhealthy("mkio is not running.");
        }

        if (engine.Writer.IsStopping)
        {
            return HealthCheckResult.Unhealthy("mkio is shutting down.");
        }

        try
        {
            await engine.Database.ReadAsync(static c =>
            {
                using var cmd = c.CreateCommand();
                cmd.CommandText = "SELECT 1";
                return cmd.ExecuteScalar();
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("The mkio database does not answer.", ex);
        }

        return HealthCheckResult.Healthy("mkio is running.", new Dictionary<string, object>
        {
            ["connections"] = engine.SessionCount,
            ["write_queue"] = engine.Writer.QueueLength,
            ["services"] = engine.Model.Services.Length,
        });
    }
}
