using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>
/// Graceful shutdown with requests in flight (SERVICES.md §14 with fix F19; CONFORMANCE items 131
/// and 151 without resume-by-ref): every accepted request is answered exactly once, the database
/// holds exactly the committed ones, sockets close with 1001, WAL is checkpointed and the same file
/// restarts with its data.
/// </summary>
public class MkioHostedServiceTests
{
    private const string Stopping = "Writer is stopping, no new submissions accepted";
    private const int Sockets = 8;
    private const int PerSocket = 200;

    private static void Orders(MkioOptions o)
    {
        o.DbPath = "shutdown.db";

        o.BatchMaxWaitMs = 60_000;
        o.BatchMaxSize = 100_000;
        o.WalCheckpointIntervalS = 0;
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "symbol", "qty"]));
    }

    private static string Insert(string id, int qty) =>
        $$$"""{"service":"add_order","ref":"{{{id}}}","data":{"id":"{{{id}}}","symbol":"S","qty":{{{qty}}}}}""";

    [Test, CancelAfter(180_000)]
    public async Task StoppingAsync_RequestsQueuedInWriter_AnswersEachOnceAndPersistsExactlyTheCommitted(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var dbPath = dir.File("shutdown.db");
        var sockets = new List<TestSocket>();
        TestSocket? late = null;
        var lateSent = new List<string>();
        IDisposable? hold = null;
        var host = await MkioTestHost.StartAsync(Orders, ct, directory: dir);
        try
        {
            using var messagesIn = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.service.messages");
            for (var s = 0; s < Sockets; s++)
            {
                sockets.Add(await host.ConnectAsync("ws", ct));
            }

            late = await host.ConnectAsync("ws", ct);

            // Pipeline every request; none can commit while the writer is held, so they are still queued when the host stops.
            hold = await host.HoldWriterAsync(ct);
            await Task.WhenAll(sockets.Select(async (ws, s) =>
            {
                for (var k = 0; k < PerSocket; k++)
                {
                    await ws.SendAsync(Insert($"s{s}-{k}", k), cancellationToken: ct);
                }
            }));

            // Every request has reached the dispatcher (counted as it is dispatched) before the stop begins.
            await messagesIn.WaitForMeasurementsAsync(Sockets * PerSocket, ct);
            await host.WaitForQueuedWritesAsync(Sockets * PerSocket, ct);
            Assert.That(sockets.Sum(s => s.Pending), Is.Zero, "nothing may be answered while the writer is held");

            // A late client keeps sending while the host stops: it must see results, then the stopping error, never silence mid-stream.
            var lateSender = Task.Run(async () =>
            {
                for (var k = 0; k < 100_000 && late.State == WebSocketState.Open; k++)
                {
                    var id = $"late-{k}";
                    lateSent.Add(id);
                    try
                    {
                        await late.SendAsync(Insert(id, k), cancellationToken: ct);
                    }
                    catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException
                        || (ex is OperationCanceledException && !ct.IsCancellationRequested))
                    {
                        // The server closed (or reset) the connection while this client was still sending.
                        break;
                    }
                }
            }, ct);

            var stop = host.StopAsync();
            var writer = host.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().Engine.Writer;
            await Eventually.WaitUntilAsync(() => writer.IsStopping, "the writer is stopping", ct);
            hold.Dispose();

            // The server closes every socket after answering; the clients then go away (abort), as a browser does.
            await Task.WhenAll(sockets.Select(s => s.Closed)).WaitAsync(ct);
            await late.Closed.WaitAsync(ct);
            await lateSender.WaitAsync(ct);
            var replies = new List<List<JsonElement>>();
            foreach (var ws in sockets)
            {
                replies.Add(await LifecycleSupport.ReadAllAfterCloseAsync(ws, ct));
            }

            var lateReplies = await LifecycleSupport.ReadAllAfterCloseAsync(late, ct);
            var closes = sockets.Select(s => s.CloseStatus).Append(late.CloseStatus).ToList();
            foreach (var ws in sockets)
            {
                await ws.DisposeAsync();
            }

            await late.DisposeAsync();
            sockets.Clear();
            late = null;
            await stop.WaitAsync(ct);

            var ok = new HashSet<string>(StringComparer.Ordinal);
            var stopped = 0;
            void Classify(string expectedRef, JsonElement reply)
            {
                var text = reply.GetRawText();
                if (text == $$"""{"type":"result","service":"add_order","ref":"{{expectedRef}}","ok":true}""")
                {
                    ok.Add(expectedRef);
                }
                else if (text == $$"""{"type":"error","message":"{{Stopping}}","ref":"{{expectedRef}}"}""")
                {
                    stopped++;
                }
                else
                {
                    Assert.Fail($"Unexpected reply for {expectedRef}: {text}");
                }
            }

            using (Assert.EnterMultipleScope())
            {
                Assert.That(closes, Has.All.EqualTo(WebSocketCloseStatus.EndpointUnavailable), "every socket is closed with 1001");
                for (var s = 0; s < Sockets; s++)
                {
                    Assert.That(replies[s], Has.Count.EqualTo(PerSocket), $"socket {s}: one reply per request");
                }

                // The late socket's replies are a prefix of its requests, in order: whatever it sent after the close went unread.
                Assert.That(lateReplies, Has.Count.LessThanOrEqualTo(lateSent.Count));
            }

            for (var s = 0; s < Sockets; s++)
            {
                for (var k = 0; k < PerSocket; k++)
                {
                    Classify($"s{s}-{k}", replies[s][k]);
                }
            }

            for (var k = 0; k < lateReplies.Count; k++)
            {
                Classify(lateSent[k], lateReplies[k]);
            }

            await TestContext.Out.WriteLineAsync($"ok {ok.Count}, stopping errors {stopped}, late socket sent {lateSent.Count}, answered {lateReplies.Count}");

            // Item 131: WAL checkpointed and the database closed.
            Assert.That(LifecycleSupport.WalFiles(dbPath), Is.Empty);

            // None lost, none extra: the file holds exactly the requests answered ok, each stamped with its ref.
            var rows = LifecycleSupport.QueryFile(dbPath, "SELECT id, _mkio_ref FROM orders");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(rows.Select(r => (string)r[0]!), Is.EquivalentTo(ok));
                Assert.That(rows.Where(r => !Equals(r[0], r[1])), Is.Empty, "_mkio_ref is the request's ref");
                Assert.That(ok.Count + stopped, Is.EqualTo(Sockets * PerSocket + lateReplies.Count));
                Assert.That(ok.Count(id => id.StartsWith('s')), Is.EqualTo(Sockets * PerSocket), "requests queued before the stop are drained and committed");
            }

            // The same file restarts in a new host with its data.
            await using (var again = await MkioTestHost.StartAsync(o => { Orders(o); o.BatchMaxWaitMs = 1; }, ct, directory: dir))
            {
                await using var ws = await again.ConnectAsync("ws", ct);
                var dup = await ws.RequestAsync(Insert("s0-0", 0), ct);
                var fresh = await ws.RequestAsync(Insert("after-restart", 1), ct);
                using (Assert.EnterMultipleScope())
                {
                    Assert.That(dup.GetRawText(), Is.EqualTo("""{"type":"error","message":"UNIQUE constraint failed: orders.id","ref":"s0-0"}"""));
                    Assert.That(fresh.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"after-restart","ok":true}"""));
                }

                await ws.CloseAsync();
            }

            Assert.That(LifecycleSupport.WalFiles(dbPath), Is.Empty);
            var count = LifecycleSupport.QueryFile(dbPath, "SELECT COUNT(*) FROM orders");
            Assert.That(count[0][0], Is.EqualTo((long)(ok.Count + 1)));
        }
        finally
        {
            hold?.Dispose();
            foreach (var ws in sockets)
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
    /// Item 151's other branch: the queue cannot be drained within <c>shutdown_timeout</c>. The batch being
    /// committed is held (its commit hook blocks) until the drain has timed out; it then commits and is
    /// answered ok, every request still queued gets the stopping error — each exactly once, before the 1001.
    /// </summary>
    [Test, CancelAfter(60_000)]
    public async Task StoppingAsync_DrainOutlastsShutdownTimeout_QueuedRequestsGetTheStoppingErrorBefore1001(CancellationToken ct)
    {
        const int Requests = 10;
        using var dir = new TempDirectory();
        var host = await MkioTestHost.StartAsync(
            o =>
            {
                Orders(o);
                o.BatchMaxSize = 1;
                o.BatchMaxWaitMs = 1;
                o.ShutdownTimeout = 1;
            },
            ct,
            directory: dir);
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        TestSocket? ws = null;
        try
        {
            using var messagesIn = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.service.messages");
            var writer = host.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().Engine.Writer;
            var journal = writer.BeforeCommit;
            writer.BeforeCommit = (handle, events) =>
            {
                if (!entered.IsSet)
                {
                    entered.Set();
                    release.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
                }

                journal?.Invoke(handle, events);
            };

            ws = await host.ConnectAsync("ws", ct);
            for (var k = 0; k < Requests; k++)
            {
                await ws.SendAsync(Insert($"q{k}", k), cancellationToken: ct);
            }

            Assert.That(entered.Wait(TimeSpan.FromSeconds(20), ct), Is.True, "the first batch never reached its commit");
            await messagesIn.WaitForMeasurementsAsync(Requests, ct);

            var stop = host.StopAsync();
            await Eventually.WaitUntilAsync(() => writer.Abandoned, "the drain has timed out", ct);
            release.Set();

            var replies = await LifecycleSupport.ReadAllAfterCloseAsync(ws, ct);
            await stop.WaitAsync(ct);
            var expected = new[] { """{"type":"result","service":"add_order","ref":"q0","ok":true}""" }
                .Concat(Enumerable.Range(1, Requests - 1).Select(k => $$$"""{"type":"error","message":"{{{Stopping}}}","ref":"q{{{k}}}"}"""));
            using (Assert.EnterMultipleScope())
            {
                Assert.That(ws.CloseStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
                Assert.That(replies.Select(r => r.GetRawText()), Is.EqualTo(expected));
                Assert.That(LifecycleSupport.QueryFile(dir.File("shutdown.db"), "SELECT id FROM orders"), Is.EqualTo(new[] { new object?[] { "q0" } }));
                Assert.That(LifecycleSupport.WalFiles(dir.File("shutdown.db")), Is.Empty);
            }
        }
        finally
        {
            release.Set();
            if (ws is not null)
            {
                await ws.DisposeAsync();
            }

            await host.DisposeAsync();
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task StoppingAsync_IdleConnection_ClosesWith1001AndCheckpointsWal(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var host = await MkioTestHost.StartAsync(o => { Orders(o); o.BatchMaxWaitMs = 1; }, ct, directory: dir);
        TestSocket? ws = null;
        try
        {
            ws = await host.ConnectAsync("ws", ct);
            var reply = await ws.RequestAsync(Insert("a", 1), ct);
            Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True);

            var stop = host.StopAsync();
            await ws.Closed.WaitAsync(ct);
            Assert.That(ws.CloseStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));

            // The client goes away once closed; the host then finishes stopping.
            var closed = ws;
            ws = null;
            await closed.DisposeAsync();
            await stop.WaitAsync(ct);

            Assert.That(LifecycleSupport.WalFiles(dir.File("shutdown.db")), Is.Empty);
            Assert.That(LifecycleSupport.QueryFile(dir.File("shutdown.db"), "SELECT id, qty FROM orders"), Is.EqualTo(new[] { new object?[] { "a", 1L } }));
        }
        finally
        {
            if (ws is not null)
            {
                await ws.DisposeAsync();
            }

            await host.DisposeAsync();
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task StoppingAsync_MessageStillBeingDispatched_IsAnsweredBeforeThe1001(CancellationToken ct)
    {
        // A subscribe whose snapshot read is held open while the shutdown reaches the socket-closing
        // step: the connection must let that dispatch finish and send its reply before the close frame.
        using var dir = new TempDirectory();
        var host = await MkioTestHost.StartAsync(o => { Orders(o); o.BatchMaxWaitMs = 1; o.Query("all_orders", q => q.From("orders")); }, ct, directory: dir);
        var entered = new ManualResetEventSlim();
        var release = new ManualResetEventSlim();
        try
        {
            var engineHost = host.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>();
            Assert.That(engineHost.Engine.TryGetService("all_orders", out var service), Is.True);
            ((Mkio.Services.Listeners.QueryService)service!).SnapshotPositionRead = () =>
            {
                entered.Set();
                release.Wait(TimeSpan.FromSeconds(20));
            };

            await using var ws = await ManualSocket.ConnectAsync(new Uri(host.WsBase, "ws"), 64 * 1024, ct);
            await ws.SendAsync(Insert("a", 1), ct);
            Assert.That((await ws.ReceiveAsync(ct)).GetProperty("ok").GetBoolean(), Is.True);
            await ws.SendAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
            Assert.That(entered.Wait(TimeSpan.FromSeconds(20), ct), Is.True, "the snapshot read never started");

            var stop = host.StopAsync();

            // Give the shutdown time to drain the writer and reach the sockets (before the fix, the
            // connection's queue was completed there and the snapshot below was dropped).
            await Eventually.WaitUntilAsync(() => engineHost.Stopping, "the host is stopping", ct);

            await Task.Delay(300, ct);
            release.Set();

            var messages = await ws.ReadUntilClosedAsync(ct);
            Assert.That(messages.Select(m => m.GetProperty("type").GetString()), Is.EqualTo(new[] { "snapshot" }));
            Assert.That(messages[0].GetProperty("rows").GetArrayLength(), Is.EqualTo(1));
            Assert.That(ws.CloseStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
            await stop.WaitAsync(ct);
        }
        finally
        {
            release.Set();
            await host.DisposeAsync();
        }
    }

    [Test, CancelAfter(20_000)]
    public async Task StoppingAsync_PeerNeverAnswersTheCloseFrame_HostStillStopsAndCheckpoints(CancellationToken ct)
    {
        // SERVICES.md §14: the host's shutdown timeout (30 s here) must not be spent waiting for a
        // socket that was already closed. This client stops reading, so it never answers the close frame.
        using var dir = new TempDirectory();
        var host = await MkioTestHost.StartAsync(o => { Orders(o); o.BatchMaxWaitMs = 1; }, ct, directory: dir);
        try
        {
            await using var silent = await ManualSocket.ConnectAsync(new Uri(host.WsBase, "ws"), 64 * 1024, ct);
            await silent.SendAsync(Insert("a", 1), ct);
            Assert.That((await silent.ReceiveAsync(ct)).GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"a","ok":true}"""));

            await host.StopAsync().WaitAsync(ct);

            Assert.That(LifecycleSupport.WalFiles(dir.File("shutdown.db")), Is.Empty);
            Assert.That(LifecycleSupport.QueryFile(dir.File("shutdown.db"), "SELECT id FROM orders"), Is.EqualTo(new[] { new object?[] { "a" } }));
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task StoppingAsync_UpgradeAfterTheDrainBegan_IsRefused(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var host = await MkioTestHost.StartAsync(Orders, ct, directory: dir);
        TestSocket? ws = null;
        try
        {
            using var messagesIn = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.service.messages");

            // A peer that never answers the close frame keeps the shutdown in progress for a moment.
            await using var silent = await ManualSocket.ConnectAsync(new Uri(host.WsBase, "ws"), 64 * 1024, ct);
            ws = await host.ConnectAsync("ws", ct);
            var stop = Task.CompletedTask;
            using (await host.HoldWriterAsync(ct))
            {
                await ws.SendAsync(Insert("queued", 1), cancellationToken: ct);
                await messagesIn.WaitForMeasurementsAsync(1, ct);
                await host.WaitForQueuedWritesAsync(1, ct);
                stop = host.StopAsync();
                var writer = host.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().Engine.Writer;
                await Eventually.WaitUntilAsync(() => writer.IsStopping, "the writer is stopping", ct);
            }

            // The queued request is answered only once the shutdown has begun draining the writer.
            var reply = await ws.ReceiveAsync(ct);
            Assert.That(reply.GetProperty("ref").GetString(), Is.EqualTo("queued"));
            Assert.ThrowsAsync<WebSocketException>(async () => await (await host.ConnectAsync("ws", ct)).DisposeAsync(), "a WebSocket upgrade during the shutdown is refused");

            await ws.Closed.WaitAsync(ct);
            var closed = ws;
            ws = null;
            await closed.DisposeAsync();
            await stop.WaitAsync(ct);
        }
        finally
        {
            if (ws is not null)
            {
                await ws.DisposeAsync();
            }

            await host.DisposeAsync();
        }
    }

    [TestCase("http://0.0.0.0:8080", "http://localhost:8080/")]
    [TestCase("http://[::]:5000", "http://localhost:5000/")]
    [TestCase("http://+:80", "http://localhost:80/")]
    [TestCase("http://127.0.0.1:41234", "http://127.0.0.1:41234/")]
    public void ClickableUrl_WildcardBind_ShownAsLocalhost(string address, string expected) =>
        Assert.That(Mkio.AspNetCore.Hosting.MkioHostedService.ClickableUrl(address), Is.EqualTo(expected));
}
