using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Http.HttpTestSupport;

namespace Mkio.AspNetCore.Tests.Registration;

/// <summary><c>AddHealthChecks().AddMkio()</c>: healthy while the engine runs, degraded while write batches fail, unhealthy once it stopped.</summary>
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

    /// <summary>
    /// A batch whose COMMIT fails (here the commit hook raises SQLite's disk-full error, as a full disk does when
    /// the WAL is written) fails every request of the batch; the health check reports Degraded with the error
    /// until a batch commits again.
    /// </summary>
    [Test, CancelAfter(30_000)]
    public async Task Health_WhileBatchesFailToCommit_DegradedWithTheErrorThenHealthyAgain(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct);
        var writer = host.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().Engine.Writer;
        var journal = writer.BeforeCommit;
        var failing = true;
        writer.BeforeCommit = (handle, events) =>
        {
            if (Volatile.Read(ref failing))
            {
                throw new Mkio.Storage.MkioWriteException("database or disk is full");
            }

            journal?.Invoke(handle, events);
        };
        var health = host.Services.GetRequiredService<HealthCheckService>();
        await using var ws = await host.ConnectAsync("ws", ct);

        var failed = await ws.RequestAsync("""{"service":"add_order","ref":"f1","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        var degraded = (await health.CheckHealthAsync(ct)).Entries["mkio"];
        Volatile.Write(ref failing, false);
        var ok = await ws.RequestAsync("""{"service":"add_order","ref":"f2","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        var healthy = (await health.CheckHealthAsync(ct)).Entries["mkio"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(failed.GetRawText(), Is.EqualTo("""{"type":"error","message":"database or disk is full","ref":"f1"}"""));
            Assert.That(degraded.Status, Is.EqualTo(HealthStatus.Degraded));
            Assert.That(degraded.Description, Is.EqualTo("mkio cannot write: database or disk is full. Reads and subscriptions still work."));
            Assert.That(ok.GetProperty("ok").GetBoolean(), Is.True, ok.GetRawText());
            Assert.That(healthy.Status, Is.EqualTo(HealthStatus.Healthy));
        }
    }
}
