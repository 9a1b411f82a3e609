using System.Diagnostics.Metrics;
using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.AspNetCore.Hosting;
using Mkio.AspNetCore.Tests.Lifecycle;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// Graceful shutdown of a PostgreSQL-backed node, as on SQLite: every accepted request is answered (the batch being
/// committed with its outcome, everything still queued when the drain times out with the stopping error, a request
/// arriving after the stop began at once with it), the table and the journal hold exactly the requests answered ok,
/// <c>/health</c> reports the shutdown while it drains, and no SQLite file is ever created.
/// </summary>
public sealed class PostgresShutdownTests
{
    private const string Stopping = "Writer is stopping, no new submissions accepted";

    private static Action<MkioOptions> Orders(string? postgres) => o =>
    {
        if (postgres is null)
        {
            o.DbPath = "shutdown.db";
        }
        else
        {
            o.Postgres = postgres;
        }

        o.BatchMaxWaitMs = 1;
        o.WalCheckpointIntervalS = 0;
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "symbol", "qty"]))
            .Query("all_orders", q => q.From("orders"));
    };

    private static string Insert(string id, int qty) =>
        $$$"""{"service":"add_order","ref":"{{{id}}}","data":{"id":"{{{id}}}","symbol":"S","qty":{{{qty}}}}}""";

    private static MkioEngine Engine(MkioTestHost host) => host.Services.GetRequiredService<MkioEngineHost>().Engine;

    /// <summary>
    /// The drain outlasts <c>shutdown_timeout</c>: the batch being committed is held (the writer's BeforeCommit hook)
    /// until the drain has timed out; it then commits and is answered ok, every request still queued gets the stopping
    /// error, and a request sent after the stop began gets it at once — each exactly once, before the 1001.
    /// </summary>
    [Test, CancelAfter(120_000)]
    public async Task A_drain_outlasting_the_shutdown_timeout_answers_every_request_and_the_database_holds_the_oks(CancellationToken ct)
    {
        const int Requests = 10;
        var cs = await (await PostgresServer.SharedAsync()).CreateDatabaseAsync(cancellationToken: ct);
        using var dir = new TempDirectory();
        var host = await MkioTestHost.StartAsync(
            o =>
            {
                Orders(cs)(o);
                o.BatchMaxSize = 1;
                o.ShutdownTimeout = 1;
            },
            ct,
            directory: dir);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TestSocket? ws = null;
        TestSocket? late = null;
        try
        {
            using var messagesIn = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.service.messages");
            var writer = Engine(host).PostgresWriter!;
            writer.BeforeCommit = async () =>
            {
                if (entered.TrySetResult())
                {
                    await release.Task.ConfigureAwait(false);
                }
            };

            ws = await host.ConnectAsync("ws", ct);
            late = await host.ConnectAsync("ws", ct);
            for (var k = 0; k < Requests; k++)
            {
                await ws.SendAsync(Insert($"q{k}", k), cancellationToken: ct);
            }

            await entered.Task.WaitAsync(ct);
            await messagesIn.WaitForMeasurementsAsync(Requests, ct);
            await host.WaitForQueuedWritesAsync(Requests - 1, ct);
            Assert.That(writer.InFlight, Is.EqualTo(1), "q0's batch is being committed, the rest queued");

            var stop = host.StopAsync();
            await Eventually.WaitUntilAsync(() => writer.Abandoned, "the drain has timed out", ct);
            Assert.That(ws.Pending, Is.Zero, "nothing is answered before the held batch commits");

            // The sockets are closed only after the drain: a request sent now reaches the stopped writer.
            var lateReply = await late.RequestAsync(Insert("late", 99), ct);
            release.TrySetResult();

            var replies = await LifecycleSupport.ReadAllAfterCloseAsync(ws, ct);
            await late.Closed.WaitAsync(ct);
            await stop.WaitAsync(ct);
            var expected = new[] { """{"type":"result","service":"add_order","ref":"q0","ok":true}""" }
                .Concat(Enumerable.Range(1, Requests - 1).Select(k => $$$"""{"type":"error","message":"{{{Stopping}}}","ref":"q{{{k}}}"}"""));
            using (Assert.EnterMultipleScope())
            {
                Assert.That(lateReply.GetRawText(), Is.EqualTo($$"""{"type":"error","message":"{{Stopping}}","ref":"late"}"""));
                Assert.That(ws.CloseStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
                Assert.That(replies.Select(r => r.GetRawText()), Is.EqualTo(expected));
                Assert.That(writer.QueueLength, Is.Zero);
                Assert.That(writer.InFlight, Is.Zero);
                Assert.That(PostgresQuery.Rows(cs, "SELECT id, _mkio_ref FROM orders").Select(r => $"{r[0].Value}:{r[1].Value}"), Is.EqualTo(new[] { "q0:q0" }));
                Assert.That(PostgresQuery.Rows(cs, "SELECT seq, ref FROM _mkio_journal ORDER BY seq").Select(r => $"{r[0].Value}:{r[1].Value}"), Is.EqualTo(new[] { "1:q0" }));
                Assert.That(Directory.GetFiles(dir.Path, "*.db*", SearchOption.AllDirectories), Is.Empty, "no SQLite file");
            }
        }
        finally
        {
            release.TrySetResult();
            if (ws is not null)
            {
                await ws.DisposeAsync();
            }

            if (late is not null)
            {
                await late.DisposeAsync();
            }

            await host.DisposeAsync();
        }
    }

    /// <summary>
    /// During a shutdown's drain (a queued write behind a held writer), <c>/health</c> reports Unhealthy "mkio is
    /// shutting down." on both stores; on PostgreSQL that state is the PostgreSQL writer's (the SQLite writer is never
    /// started or stopped), no SQLite file is created in the host's folder and the SQLite database refuses to open.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]
    [CancelAfter(120_000)]
    public async Task Health_reports_the_shutdown_while_the_writes_drain_and_postgres_never_touches_sqlite(bool postgres, CancellationToken ct)
    {
        var cs = postgres ? await (await PostgresServer.SharedAsync()).CreateDatabaseAsync(cancellationToken: ct) : null;
        using var dir = new TempDirectory();
        var host = await MkioTestHost.StartAsync(Orders(cs), ct, directory: dir);
        TestSocket? ws = null;
        IDisposable? hold = null;
        try
        {
            var engine = Engine(host);
            var health = host.Services.GetRequiredService<HealthCheckService>();
            using var http = host.CreateHttpClient();
            ws = await host.ConnectAsync("ws", ct);
            Assert.That((await ws.RequestAsync(Insert("a", 1), ct)).GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"a","ok":true}"""));
            var snapshot = await ws.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
            Assert.That(snapshot.GetProperty("rows").GetArrayLength(), Is.EqualTo(1), snapshot.GetRawText());
            var running = await http.GetAsync(new Uri("health", UriKind.Relative), ct);
            Assert.That(running.StatusCode, Is.EqualTo(HttpStatusCode.OK));

            hold = await host.HoldWriterAsync(ct);
            await ws.SendAsync(Insert("b", 2), cancellationToken: ct);
            await host.WaitForQueuedWritesAsync(1, ct);
            var stop = host.StopAsync();
            await Eventually.WaitUntilAsync(() => engine.IsWriterStopping, "the writer is stopping", ct);
            var during = (await health.CheckHealthAsync(ct)).Entries["mkio"];
            var duringHttp = await http.GetAsync(new Uri("health", UriKind.Relative), ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(during.Status, Is.EqualTo(HealthStatus.Unhealthy));
                Assert.That(during.Description, Is.EqualTo("mkio is shutting down."));
                Assert.That(duringHttp.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
                Assert.That(engine.Writer.IsStopping, Is.EqualTo(!postgres), "on PostgreSQL the SQLite writer is not touched");
            }

            hold.Dispose();
            hold = null;
            var replies = await LifecycleSupport.ReadAllAfterCloseAsync(ws, ct);
            Assert.That(replies.Select(r => r.GetRawText()), Does.Contain("""{"type":"result","service":"add_order","ref":"b","ok":true}"""), "the queued write is drained and committed");
            await stop.WaitAsync(ct);

            var files = Directory.GetFiles(dir.Path, "*.db*", SearchOption.AllDirectories).Select(Path.GetFileName);
            if (postgres)
            {
                using (Assert.EnterMultipleScope())
                {
                    Assert.That(files, Is.Empty, "no SQLite file is created in PostgreSQL mode");
                    Assert.That(engine.Database.FilePath, Is.Null, "no SQLite file is named in PostgreSQL mode");
                    var refused = Assert.Throws<InvalidOperationException>(() => engine.Database.OpenConnection().Dispose())!;
                    Assert.That(refused.Message, Does.Contain("PostgreSQL"));
                    Assert.That(PostgresQuery.Rows(cs!, "SELECT id FROM orders ORDER BY id").Select(r => r[0].Value), Is.EqualTo(new[] { "a", "b" }));
                }
            }
            else
            {
                Assert.That(files, Does.Contain("shutdown.db"), "the SQLite run uses its file (the check above can fail)");
            }
        }
        finally
        {
            hold?.Dispose();
            if (ws is not null)
            {
                await ws.DisposeAsync();
            }

            await host.DisposeAsync();
        }
    }
}
