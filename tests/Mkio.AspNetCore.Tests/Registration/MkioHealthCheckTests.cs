using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Http.HttpTestSupport;

namespace Mkio.AspNetCore.Tests.Registration;

/// <summary><c>AddHealthChecks().AddMkio()</c>: healthy while the engine runs, unhealthy once it stopped.</summary>
public sealed class MkioHealthCheckTests
{
    [Test, CancelAfter(30_000)]
    public async Task Health_WhileRunning_Healthy(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        using var http = host.CreateHttpClient();
        var (response, body) = await GetAsync(http, "health", ct);
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(body, Is.EqualTo("Healthy"));
            Assert.That(report.Entries.Keys, Is.EqualTo(new[] { "mkio" }));
            Assert.That(report.Entries["mkio"].Status, Is.EqualTo(HealthStatus.Healthy));
            Assert.That(report.Entries["mkio"].Description, Is.EqualTo("mkio is running."));
            Assert.That(report.Entries["mkio"].Data["services"], Is.EqualTo(6));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task Health_AfterShutdown_Unhealthy(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        await host.StopAsync();
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(ct);
        Assert.That(report.Entries["mkio"].Status, Is.EqualTo(HealthStatus.Unhealthy));
    }
}
