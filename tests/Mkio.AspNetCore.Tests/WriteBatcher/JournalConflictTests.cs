using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Mkio.AspNetCore.Tests.Lifecycle;
using Mkio.AspNetCore.Tests.Transactions;
using Mkio.Diagnostics;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.WriteBatcher;

/// <summary>
/// Another process or connection appends to the change journal behind the server's back (issue 9, item 1):
/// the writer's next commit finds the foreign sequence and fails loudly instead of wedging — the batch is
/// rolled back and answered with a clear error, one critical log line names the file and the sequence, the
/// health check reports Unhealthy, and no further write is accepted (so no sequence is ever used twice).
/// </summary>
public class JournalConflictTests
{
    [TestCase(1, TestName = "ForeignJournalRow_NextSequence_WriterStopsLoudly")]
    [TestCase(50, TestName = "ForeignJournalRow_SequenceAhead_WriterStopsLoudly")]
    [CancelAfter(60_000)]
    public async Task ForeignJournalRow_WriterStopsLoudly(int ahead, CancellationToken ct)
    {
        var logs = new CapturingLoggerProvider();
        await using var host = await MkioTestHost.StartAsync(TxTest.FixtureAOnFile, ct, builder: b => b.Logging.AddProvider(logs));
        var meter = host.Services.GetRequiredService<MkioMetrics>().Meter;
        using var conflicts = new MetricCollector<long>(meter, "mkio.writer.journal_conflicts");
        using var failed = new MetricCollector<long>(meter, "mkio.writer.transactions.failed");
        await using var ws = await host.ConnectAsync("ws", ct);
        var before = await ws.RequestAsync("""{"service":"add_order","ref":"a","data":{"id":"a","symbol":"S","qty":1}}""", ct);
        Assert.That(before.GetProperty("ok").GetBoolean(), Is.True, before.GetRawText());
        using var events = new EventRecorder(TxTest.Engine(host).Bus);

        // A second writer (another process ignoring the ownership lock, a script) appends a journal row.
        var db = host.Directory.File(TxTest.DbFile);
        long foreign;
        await using (var outside = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ToString()))
        {
            await outside.OpenAsync(ct);
            await using var cmd = outside.CreateCommand();
            // One journal record (table, one event) as another server would append it.
            cmd.CommandText = "INSERT INTO _mkio_journal_batch (last, first, tbl, n, events) SELECT s, s, 'orders', 1, json_array(json_array(s, 'insert', 'foreign', '{}')) "
                + "FROM (SELECT MAX(last) + $ahead AS s FROM _mkio_journal_batch) RETURNING last";
            cmd.Parameters.AddWithValue("$ahead", ahead);
            foreign = Convert.ToInt64(await cmd.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        }

        var conflicted = await ws.RequestAsync("""{"service":"add_order","ref":"b","data":{"id":"b","symbol":"S","qty":2}}""", ct);
        var refused = await ws.RequestAsync("""{"service":"add_order","ref":"c","data":{"id":"c","symbol":"S","qty":3}}""", ct);
        var expected = $"Writes are stopped: another process wrote to this database's change journal (sequence {foreign}); only one mkio server may use a database file, restart this one";
        await Eventually.WaitUntilAsync(() => conflicts.GetMeasurementSnapshot().Count > 0, "the conflict is counted", ct);
        using var http = host.CreateHttpClient();
        var healthResponse = await http.GetAsync(new Uri("health", UriKind.Relative), ct);
        var health = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(ct)).Entries["mkio"];
        var critical = logs.Entries.Where(e => e.Level == LogLevel.Critical).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(conflicted.GetRawText(), Is.EqualTo($$"""{"type":"error","message":"{{expected}}","ref":"b"}"""));
            Assert.That(refused.GetRawText(), Is.EqualTo($$"""{"type":"error","message":"{{expected}}","ref":"c"}"""), "later writes are refused");
            Assert.That(conflicts.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(1));
            Assert.That(failed.GetMeasurementSnapshot().Sum(m => m.Value), Is.EqualTo(2));
            Assert.That(healthResponse.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(health.Status, Is.EqualTo(HealthStatus.Unhealthy));
            Assert.That(health.Description, Is.EqualTo($"mkio stopped writing: {expected}."));
            Assert.That(critical, Has.Count.EqualTo(1), "one critical event");
            Assert.That(critical[0].Message, Does.StartWith($"Another process or connection wrote to the change journal of {db}: it holds sequence {foreign} while this server's last commit is 1."));
            Assert.That(TxTest.Column(host, "SELECT id FROM orders"), Is.EqualTo(new object[] { "a" }), "the conflicting batch was rolled back");
            Assert.That(TxTest.Column(host, "SELECT seq FROM _mkio_journal ORDER BY seq"), Is.EqualTo(new object[] { 1L, foreign }), "no sequence used twice");
            Assert.That(events.Events.Select(e => e.Ref), Is.Empty, "nothing published after the conflict");
        }
    }
}
