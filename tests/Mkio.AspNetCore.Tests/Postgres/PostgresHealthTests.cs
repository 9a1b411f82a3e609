using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Mkio.AspNetCore.Hosting;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// Health on PostgreSQL names what failed: a node whose journal tail stopped following the journal (here: entries
/// pruned past its position, a gap it must not skip) reports Unhealthy as a journal-tail fault, not as a writer fault.
/// </summary>
public class PostgresHealthTests
{
    [Test, CancelAfter(120_000)]
    public async Task A_journal_gap_makes_health_name_the_journal_tail(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.ResetDbPath();
            o.Postgres = cs;
        }, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var ok = await ws.RequestAsync("""{"service":"add_order","ref":"a","data":{"id":"a","symbol":"S","qty":1}}""", ct);
        Assert.That(ok.GetProperty("ok").GetBoolean(), Is.True, ok.GetRawText());
        var healthService = host.Services.GetRequiredService<HealthCheckService>();
        Assert.That((await healthService.CheckHealthAsync(ct)).Entries["mkio"].Status, Is.EqualTo(HealthStatus.Healthy));

        // Position 1 is followed by 3: entry 2 is gone, as if pruned before this node read it.
        PostgresQuery.Execute(cs, "INSERT INTO _mkio_journal (seq, tbl, op, ref, row) VALUES (3, 'orders', 'insert', 'z', '{\"id\":\"z\"}'); NOTIFY mkio_journal");
        var engine = host.Services.GetRequiredService<MkioEngineHost>().Engine;
        await Eventually.WaitUntilAsync(() => engine.StorageFault is not null, "the tail reports the gap", ct);

        using var http = host.CreateHttpClient();
        var response = await http.GetAsync(new Uri("health", UriKind.Relative), ct);
        var health = (await healthService.CheckHealthAsync(ct)).Entries["mkio"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(health.Status, Is.EqualTo(HealthStatus.Unhealthy));
            Assert.That(health.Description, Is.EqualTo(
                "mkio stopped following the PostgreSQL journal (journal tail): the journal entries after position 1 were pruned before this node read them (next entry: 3); restart this node."));
            Assert.That(engine.Position, Is.EqualTo(1), "nothing past the gap was published");
        }
    }
}
