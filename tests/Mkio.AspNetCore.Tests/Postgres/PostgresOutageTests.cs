using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// A node whose PostgreSQL goes away (stopped at once, as a crash): <c>/health</c> reports Unhealthy, writes fail with
/// a clear error, and when the database returns the node reports healthy again by itself — with no write needed to
/// find out — and its subscribers carry on without a gap; what was committed before the crash is still there.
/// </summary>
public sealed class PostgresOutageTests
{
    private static string Insert(string id) =>
        $$$"""{"service":"add_order","ref":"{{{id}}}","data":{"id":"{{{id}}}","symbol":"S","qty":1}}""";

    [Test, CancelAfter(180_000)]
    public async Task A_node_that_loses_its_database_reports_it_fails_writes_clearly_and_recovers_by_itself_without_gaps(CancellationToken ct)
    {
        await using var server = await PostgresServer.StartNewAsync(ct);
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Fixtures.FixtureA(o);
            o.ResetDbPath();
            o.Postgres = cs;
        }, ct);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        using var http = host.CreateHttpClient();
        await using var writer = await host.ConnectAsync("ws", ct);
        await using var subscriber = await host.ConnectAsync("ws", ct);
        var snapshot = await subscriber.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct);
        Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"), snapshot.GetRawText());

        var before = await writer.RequestAsync(Insert("a1"), ct);
        Assert.That(before.GetProperty("ok").GetBoolean(), Is.True, before.GetRawText());
        Assert.That(await UpdateIdAsync(subscriber, ct), Is.EqualTo("a1"));

        await server.StopAsync(immediate: true, ct);
        var during = await writer.RequestAsync(Insert("b1"), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(during.GetProperty("type").GetString(), Is.EqualTo("error"), during.GetRawText());
            Assert.That(during.GetProperty("message").GetString(), Does.StartWith("database unavailable: "), during.GetRawText());
        }

        var down = (await health.CheckHealthAsync(ct)).Entries["mkio"];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(down.Status, Is.EqualTo(HealthStatus.Unhealthy));
            Assert.That(down.Description, Does.StartWith("mkio stopped writing: database unavailable: "));
            Assert.That((await http.GetAsync(new Uri("health", UriKind.Relative), ct)).StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        }

        // The database returns; nothing is written: the node finds out by itself.
        await server.StartAsync(ct);
        await Eventually.WaitUntilAsync(
            () => health.CheckHealthAsync(ct).GetAwaiter().GetResult().Entries["mkio"].Status == HealthStatus.Healthy,
            "the node reports healthy again without a write", ct, TimeSpan.FromSeconds(60));
        Assert.That((await http.GetAsync(new Uri("health", UriKind.Relative), ct)).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var after = await writer.RequestAsync(Insert("c1"), ct);
        Assert.That(after.GetProperty("ok").GetBoolean(), Is.True, after.GetRawText());
        Assert.That(await UpdateIdAsync(subscriber, ct), Is.EqualTo("c1"), "the subscription carries on: the next change after a1 is c1 (b1 failed)");

        // The crash lost nothing committed: a new subscriber's snapshot holds a1 and c1, not b1.
        await using var late = await host.ConnectAsync("ws", ct);
        var rows = (await late.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct)).GetProperty("rows").EnumerateArray()
            .Select(r => r.GetProperty("id").GetString()).Order(StringComparer.Ordinal).ToArray();
        Assert.That(rows, Is.EqualTo(new[] { "a1", "c1" }));
    }

    private static async Task<string?> UpdateIdAsync(TestSocket subscriber, CancellationToken ct)
    {
        var update = await subscriber.ReceiveUntilAsync(m => m.GetProperty("type").GetString() == "update", ct);
        return update.GetProperty("row").GetProperty("id").GetString();
    }
}
