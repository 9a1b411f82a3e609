using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.AspNetCore.Tests.Transactions;
using Mkio.Diagnostics;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.WriteBatcher;

/// <summary>
/// Another connection (an operator's sqlite3 shell, a script) holds the database's write lock. A batch
/// waits for it once (busy_timeout), then fails with SQLite's error — and so does everything queued behind
/// it, instead of each queued write waiting for the lock in turn. Nothing is written or published for
/// them, the server stays up (its health check reports Degraded meanwhile), and writes go through again once
/// the lock is released.
/// </summary>
public class ExternalWriteLockTests
{
    [Test, CancelAfter(120_000)]
    public async Task WriteLockHeldElsewhere_QueuedWritesFailTogetherWithTheLockError_ThenWritesResume(CancellationToken ct)
    {
        const int Writes = 10;
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            TxTest.FixtureAOnFile(o);

            // One write per batch: without the fix each of them would wait for the lock on its own.
            o.BatchMaxSize = 1;
            o.BatchMaxWaitMs = 1;
        }, ct);
        var meter = host.Services.GetRequiredService<MkioMetrics>().Meter;
        using var beginFailures = new MetricCollector<long>(meter, "mkio.writer.begin_failures");
        using var failed = new MetricCollector<long>(meter, "mkio.writer.transactions.failed");
        using var events = new EventRecorder(TxTest.Engine(host).Bus);
        await using var ws = await host.ConnectAsync("ws", ct);
        await using var other = await host.ConnectAsync("ws", ct);

        var outside = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = host.Directory.File(TxTest.DbFile), Pooling = false }.ToString());
        await using (outside)
        {
            await outside.OpenAsync(ct);
            await using (var begin = outside.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE";
                await begin.ExecuteNonQueryAsync(ct);
            }

            var replies = await TxTest.PipelineAsync(
                ws,
                [.. Enumerable.Range(0, Writes).Select(i => $$$"""{"service":"add_order","ref":"l{{{i}}}","data":{"id":"l{{{i}}}","symbol":"S","qty":{{{i}}}}}""")],
                ct);

            // Reads are not blocked by the lock (WAL), and other connections are served meanwhile.
            var check = await other.RequestAsync("""{"service":"add_order","type":"check"}""", ct);
            var health = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(ct)).Entries["mkio"];
            using (Assert.EnterMultipleScope())
            {
                for (var i = 0; i < Writes; i++)
                {
                    Assert.That(replies[i].Text, Is.EqualTo($$$"""{"type":"error","message":"database is locked","ref":"l{{{i}}}"}"""));
                }

                Assert.That(beginFailures.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1), "one wait for the lock, not one per queued write");
                Assert.That(failed.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(Writes));
                Assert.That(check.GetProperty("type").GetString(), Is.EqualTo("result"), check.GetRawText());
                Assert.That(health.Status, Is.EqualTo(HealthStatus.Degraded), "writes cannot begin: the health check says so");
                Assert.That(health.Description, Does.StartWith("mkio cannot write: database is locked"));
            }

            await using var rollback = outside.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync(ct);
        }

        // The lock is gone: writes go through again; nothing of the failed ones was stored or published.
        var ok = await ws.RequestAsync("""{"service":"add_order","ref":"after","data":{"id":"after","symbol":"S","qty":1}}""", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ok.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"after","ok":true}"""));
            Assert.That(TxTest.Column(host, "SELECT id FROM orders"), Is.EqualTo(new object[] { "after" }));
            Assert.That(events.Events.Select(e => e.Ref), Is.EqualTo(new[] { "after" }));
            Assert.That((await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(ct)).Entries["mkio"].Status, Is.EqualTo(HealthStatus.Healthy), "healthy again once a batch began");
        }
    }
}
