using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Mkio.AspNetCore.Hosting;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>
/// The start-up warm-up (issue 10, catch-up after a restart): it runs a subscribe, writes, a live resume and a resume
/// after a restart on a private engine behind a private loopback Kestrel, before the host listens, and leaves nothing
/// of itself in the host's meter, traces, logs or files.
/// </summary>
public sealed class WarmUpTests
{
    [Test, CancelAfter(60_000)]
    public async Task RunAsync_WritesSeesUpdatesAndResumesAfterARestart_ThenRemovesItsFolder(CancellationToken ct)
    {
        var result = await MkioWarmUp.RunAsync(ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(result.Error, Is.Null);
            Assert.That(result.Results, Is.EqualTo(MkioWarmUp.Writes), "every write answered with a result");
            Assert.That(result.Updates, Is.EqualTo(MkioWarmUp.Writes), "the live subscriber saw every write");
            Assert.That(result.DeltaChanges, Is.EqualTo(MkioWarmUp.Writes), "the resume after the restart got them all as one delta");
            Assert.That(result.SnapshotRows, Is.EqualTo(MkioWarmUp.Writes + 1), "a full snapshot held every row");
            Assert.That(result.Complete, Is.True);
            Assert.That(Directory.Exists(result.Folder), Is.False, "its temporary database folder is gone");
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task Host_WarmsUpBeforeListening_AndItsOwnMetricsStartAtZero(CancellationToken ct)
    {
        var logs = new CapturingLoggerProvider();
        await using var host = await MkioTestHost.StartAsync(Fixtures.FixtureA, ct, builder: b => b.Logging.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));

        var entries = logs.Entries;
        var warmed = entries.ToList().FindIndex(e => e.Message.StartsWith("Start-up warm-up done in ", StringComparison.Ordinal));
        var listening = entries.ToList().FindIndex(e => e.Message.StartsWith("mkio is listening on ", StringComparison.Ordinal));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(warmed, Is.GreaterThanOrEqualTo(0), "the warm-up ran and completed: " + string.Join(" | ", entries.Where(e => e.Message.Contains("warm-up", StringComparison.Ordinal)).Select(e => e.Message)));
            Assert.That(listening, Is.GreaterThan(warmed), "before the host listens");
            Assert.That(host.Services.GetRequiredService<MkioEngineHost>().Engine.SessionCount, Is.Zero, "no session of the warm-up on the host's engine");
            Assert.That(entries.Where(e => e.Message.Contains("warmup_", StringComparison.Ordinal)), Is.Empty, "nothing of the private engine in the host's logs");
        }

        await using var ws = await host.ConnectAsync("ws", ct);
        var snapshot = await ws.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
        Assert.That(snapshot.GetProperty("rows").GetArrayLength(), Is.Zero, "the host's database holds none of the warm-up's rows");
    }

    [TestCase(true)]
    [TestCase(false)]
    [CancelAfter(60_000)]
    public async Task WarmUpOff_CodeFirstOrConfiguration_NoWarmUp(bool fromConfiguration, CancellationToken ct)
    {
        var logs = new CapturingLoggerProvider();
        await using var host = await MkioTestHost.StartAsync(
            o =>
            {
                Fixtures.FixtureA(o);
                if (!fromConfiguration)
                {
                    o.WarmUp = false;
                }
            },
            ct,
            builder: b =>
            {
                b.Logging.AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
                if (fromConfiguration)
                {
                    b.Configuration["Mkio:WarmUp"] = "false";
                }
            });

        Assert.That(logs.Entries.Where(e => e.Message.Contains("warm-up", StringComparison.Ordinal)), Is.Empty);
    }
}

/// <summary>
/// The warm-up against process-wide state — the <c>Mkio</c> meter and activity source, its server's test seam: not run in
/// parallel with other tests, so that any measurement, span or private server seen while it runs is its own.
/// </summary>
[NonParallelizable]
public sealed class WarmUpIsolationTests
{
    [Test, CancelAfter(60_000)]
    public async Task RunAsync_AStrayClientOnItsPort_IsCutOffAndDoesNotHoldIt(CancellationToken ct)
    {
        // A local process that connects to the private server's port and never finishes its request headers.
        using var stray = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        var port = 0;
        MkioWarmUp.ServerListening = uri =>
        {
            port = uri.Port;
            stray.Connect(System.Net.IPAddress.Loopback, uri.Port);
            stray.Send("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"u8);
        };
        WarmUpResult result;
        try
        {
            // WaitAsync: a warm-up held by the stray client fails the test at its time limit instead of hanging it.
            result = await MkioWarmUp.RunAsync(ct).WaitAsync(ct);
        }
        finally
        {
            MkioWarmUp.ServerListening = null;
        }

        Assert.That(port, Is.GreaterThan(0), "the stray client connected");
        Assert.That(result.Complete, Is.True, result.Error?.ToString());

        // The server cut it off when it stopped: the stray client reads to the end of its connection (a hang here
        // would end the test at its time limit).
        var buffer = new byte[256];
        try
        {
            while (await stray.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, ct) > 0)
            {
            }
        }
        catch (System.Net.Sockets.SocketException)
        {
            // Reset: closed as well.
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task RunAsync_NoSpanOfAnySourceAndNoMeasurementOfAnyOtherMeter(CancellationToken ct)
    {
        // Not only mkio's: the warm-up's own clients and server stay out of the host's HTTP telemetry too.
        var measured = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name != MkioWarmUp.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, _, _, _) => measured.Enqueue(instrument.Meter.Name + "/" + instrument.Name));
        meters.SetMeasurementEventCallback<int>((instrument, _, _, _) => measured.Enqueue(instrument.Meter.Name + "/" + instrument.Name));
        meters.SetMeasurementEventCallback<double>((instrument, _, _, _) => measured.Enqueue(instrument.Meter.Name + "/" + instrument.Name));
        meters.Start();
        var spans = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var activities = new ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = a => spans.Enqueue(a.Source.Name + "/" + a.OperationName),
        };
        ActivitySource.AddActivityListener(activities);

        var result = await MkioWarmUp.RunAsync(ct);

        // What it cannot keep to itself (docs/observability.md): its private Kestrel's connections on Kestrel's meter,
        // the cancelled accept of that server in dotnet.exceptions, its client sockets' connects on the experimental
        // sockets source.
        string[] allowedMeters = ["Microsoft.AspNetCore.Server.Kestrel", "System.Runtime"];
        Assert.That(result.Complete, Is.True, result.Error?.ToString());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(spans.Where(s => !s.StartsWith("Experimental.", StringComparison.Ordinal)), Is.Empty, "no spans (no HTTP client, no mkio)");
            Assert.That(measured.Distinct().Where(m => !allowedMeters.Contains(m[..m.IndexOf('/', StringComparison.Ordinal)])), Is.Empty, "no measurements on other meters (no HTTP client, no mkio)");
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task RunAsync_RecordsNothingOnTheMkioMeterOrActivitySource(CancellationToken ct)
    {
        long onMkio = 0;
        long onWarmUpMeter = 0;
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name is MkioTelemetry.MeterName or MkioWarmUp.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, _, _, _) =>
            Interlocked.Increment(ref instrument.Meter.Name == MkioTelemetry.MeterName ? ref onMkio : ref onWarmUpMeter));
        meters.Start();

        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var activities = new ActivityListener
        {
            ShouldListenTo = s => s.Name == MkioTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(activities);

        var result = await MkioWarmUp.RunAsync(ct);

        Assert.That(result.Complete, Is.True, result.Error?.ToString());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Interlocked.Read(ref onWarmUpMeter), Is.GreaterThan(0), "the warm-up's own meter saw its messages (the listener works)");
            Assert.That(Interlocked.Read(ref onMkio), Is.Zero, "nothing on the Mkio meter");
            Assert.That(spans.Select(a => a.OperationName), Is.Empty, "no mkio spans (requests, batches, fan-outs)");
        }
    }
}
