using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Mkio.AspNetCore.WebSockets;
using Mkio.Diagnostics;
using Mkio.Model;

namespace Mkio.AspNetCore.Hosting;

/// <summary>
/// The start-up warm-up (<see cref="MkioOptions.WarmUp"/>): before the host accepts clients, one subscribe, a few
/// pipelined writes, a live resume by ref and a full snapshot, then a resume after a restart run through the same code a client's
/// requests take — Kestrel's sockets and WebSocket upgrade, the receive loop, the session's dispatch, the writer and
/// its journal, fan-out, snapshot and delta encoding, the send loop and its framing — so the first clients of a freshly
/// started process do not pay for compiling and loading it.
/// </summary>
/// <remarks>
/// It runs on a <em>private</em> engine over a small table in a temporary SQLite file, served by a private Kestrel
/// server on a loopback port of its own with no middleware: nothing of it reaches the host's pipeline, database,
/// sessions, monitors, access control, logs (null loggers), metrics (a meter named <see cref="MeterName"/>, not
/// <c>Mkio</c>) or traces (<see cref="MkioTelemetry.Suppressed"/>). It is bounded by <see cref="Timeout"/>, and a
/// failure only costs the warm-up: the host starts all the same.
/// </remarks>
internal static partial class MkioWarmUp
{
    /// <summary>The private engine's meter name.</summary>
    internal const string MeterName = "Mkio.WarmUp";

    /// <summary>Writes before the resumes: each resume's delta holds this many changes.</summary>
    internal const int Writes = 64;

    /// <summary>The whole warm-up's bound.</summary>
    internal static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Test seam: called with the private server's WebSocket URI once it listens.</summary>
    internal static Action<Uri>? ServerListening { get; set; }

    private const string Table = "warmup_items";
    private const string WriteService = "warmup_add";
    private const string QueryService = "warmup_items";

    /// <summary>Runs the warm-up; the result says how far it got (logged at Debug by the caller).</summary>
    /// <param name="cancellationToken">The host's start-up token.</param>
    public static Task<WarmUpResult> RunAsync(CancellationToken cancellationToken) =>
        // Its own execution context: the suppression flag and the private engine's tasks never reach the caller's.
        Task.Run(() => RunCoreAsync(cancellationToken), CancellationToken.None);

    private static async Task<WarmUpResult> RunCoreAsync(CancellationToken cancellationToken)
    {
        MkioTelemetry.Suppressed.Value = true;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var directory = Path.Combine(Path.GetTempPath(), "mkio-warmup-" + Guid.NewGuid().ToString("N"));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(Timeout);
        var ct = cts.Token;
        try
        {
            Directory.CreateDirectory(directory);
            var options = new MkioOptions { DbPath = Path.Combine(directory, "warmup.db"), MaxConnections = 0, WarmUp = false };
            options.Table(Table, t => t
                    .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                    .Column("name", "TEXT NOT NULL")
                    .Column("qty", "INTEGER")
                    .Column("price", "REAL")
                    .Column("note", "TEXT"))
                .Transaction(WriteService, tx => tx.Insert(Table, ["name", "qty", "price", "note"]))
                .Query(QueryService, q => q.From(Table).Filterable("name"));
            var model = ModelCompiler.Compile(options);
            using var metrics = new MkioMetrics(MeterName);
            var app = new Application(options);
            using var server = await StartServerAsync(app, ct).ConfigureAwait(false);
            try
            {
                var uri = new Uri(server.Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("http://", "ws://", StringComparison.Ordinal) + "/ws");
                ServerListening?.Invoke(uri);

                // A subscriber takes the snapshot and keeps its ref; a writer then adds rows the subscriber gets as
                // updates; a second subscriber resumes from the ref and gets them as one delta (larger than one
                // coalesced write); after a restart of the engine, a third resumes from the change log seeded from the journal.
                string? snapshotRef = null;
                var snapshotRows = 0;
                var (results, updates) = await WithEngineAsync(app, model, metrics, () => WithClientAsync(uri, async subscriber =>
                {
                    // A first row, so that the snapshot's ref is one a resume can start from (an empty table's is "").
                    await WithClientAsync(uri, writer => WriteAsync(writer, 1, ct), ct).ConfigureAwait(false);
                    using (var snapshot = await RequestAsync(subscriber, $$"""{"service":"{{QueryService}}","type":"subscribe"}""", ct).ConfigureAwait(false))
                    {
                        snapshotRef = snapshot.RootElement.GetProperty("ref").GetString();
                    }

                    var ok = await WithClientAsync(uri, writer => WriteAsync(writer, Writes, ct), ct).ConfigureAwait(false);
                    var seen = 0;
                    for (var i = 0; i < ok; i++)
                    {
                        using var update = await ReceiveAsync(subscriber, ct).ConfigureAwait(false);
                        seen += update.RootElement.GetProperty("type").ValueEquals("update"u8) ? 1 : 0;
                    }

                    await SubscribeAsync(uri, snapshotRef, ct).ConfigureAwait(false);

                    // A full snapshot of every row (~140 KB: sent in slices): the snapshot encoder's per-value calls run
                    // often enough here for the JIT to optimise them before a client's first large snapshot.
                    snapshotRows = await SubscribeAsync(uri, null, ct).ConfigureAwait(false);
                    return (ok, seen);
                }, ct), ct).ConfigureAwait(false);

                var deltaChanges = await WithEngineAsync(app, model, metrics, () => SubscribeAsync(uri, snapshotRef, ct), ct).ConfigureAwait(false);
                return new WarmUpResult(results == Writes && updates == Writes && deltaChanges == Writes && snapshotRows == Writes + 1, results, updates, deltaChanges, snapshotRows, System.Diagnostics.Stopwatch.GetElapsedTime(started), directory, null);
            }
            finally
            {
                // Bounded: a connection still open after a second (nothing of the warm-up's own) is aborted.
                using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await server.StopAsync(stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            return new WarmUpResult(false, 0, 0, 0, 0, System.Diagnostics.Stopwatch.GetElapsedTime(started), directory, ex);
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A leftover temporary folder is harmless.
            }
        }
    }

    /// <summary>A Kestrel server of its own on a free loopback port, with the sockets transport the host's Kestrel uses by default.</summary>
    private static async Task<KestrelServer> StartServerAsync(Application app, CancellationToken ct)
    {
        var kestrel = new KestrelServerOptions { ApplicationServices = new ServiceCollection().BuildServiceProvider(), AddServerHeader = false };
        kestrel.Listen(IPAddress.Loopback, 0);
        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), NullLoggerFactory.Instance);
        var server = new KestrelServer(Options.Create(kestrel), transport, NullLoggerFactory.Instance);
        try
        {
            await server.StartAsync(app, ct).ConfigureAwait(false);
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>Starts a private engine on <paramref name="model"/> behind <paramref name="app"/>, runs <paramref name="body"/>, then drains and disposes it.</summary>
    private static async Task<T> WithEngineAsync<T>(Application app, MkioModel model, MkioMetrics metrics, Func<Task<T>> body, CancellationToken ct)
    {
        var engine = new MkioEngine(model, NullLoggerFactory.Instance, metrics, TimeProvider.System);
        await using (engine.ConfigureAwait(false))
        {
            await engine.StartAsync(ct).ConfigureAwait(false);
            app.Engine = engine;
            var result = await body().ConfigureAwait(false);
            await engine.DrainWritesAsync().ConfigureAwait(false);
            await app.Connections.CloseAllAsync(WebSocketCloseStatus.EndpointUnavailable, "warm-up done", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            app.Engine = null;
            return result;
        }
    }

    /// <summary>Sends <paramref name="count"/> pipelined transactions; returns how many were answered with a result.</summary>
    private static async Task<int> WriteAsync(WebSocket writer, int count, CancellationToken ct)
    {
        // Rows of ~2 KiB: a resume's delta is larger than one coalesced write (CoalescingStream.BatchBytes).
        var note = new string('x', 2048);
        for (var i = 0; i < count; i++)
        {
            var message = $$$"""{"service":"{{{WriteService}}}","data":{"name":"w{{{i}}}","qty":{{{i}}},"price":{{{i}}}.5,"note":"{{{note}}}"}}""";
            await writer.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
        }

        var ok = 0;
        for (var i = 0; i < count; i++)
        {
            using var reply = await ReceiveAsync(writer, ct).ConfigureAwait(false);
            ok += reply.RootElement.GetProperty("type").ValueEquals("result"u8) ? 1 : 0;
        }

        return ok;
    }

    /// <summary>
    /// Subscribes on a new connection, resuming from <paramref name="resumeRef"/> when given; returns the delta's number
    /// of changes for a resume, the snapshot's number of rows otherwise (-1: the reply was not the one expected).
    /// </summary>
    private static Task<int> SubscribeAsync(Uri uri, string? resumeRef, CancellationToken ct) =>
        WithClientAsync(uri, async ws =>
        {
            var (message, type, items) = resumeRef is null
                ? ($$"""{"service":"{{QueryService}}","type":"subscribe"}""", "snapshot", "rows")
                : ($$"""{"service":"{{QueryService}}","type":"subscribe","ref":"{{resumeRef}}"}""", "delta", "changes");
            using var reply = await RequestAsync(ws, message, ct).ConfigureAwait(false);
            var root = reply.RootElement;
            return root.GetProperty("type").ValueEquals(type) ? root.GetProperty(items).GetArrayLength() : -1;
        }, ct);

    /// <summary>
    /// Connects a WebSocket client to <paramref name="uri"/>, runs <paramref name="client"/>, then closes it. The client
    /// does its own RFC 6455 handshake over a plain socket rather than use <see cref="ClientWebSocket"/>, whose HTTP
    /// stack would report the warm-up's connections in the host's <c>System.Net.Http</c> traces and metrics.
    /// </summary>
    private static async Task<T> WithClientAsync<T>(Uri uri, Func<WebSocket, Task<T>> client, CancellationToken ct)
    {
        using var tcp = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, uri.Port, ct).ConfigureAwait(false);
        var stream = new System.Net.Sockets.NetworkStream(tcp, ownsSocket: false);
        await using (stream.ConfigureAwait(false))
        {
            var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
            var request = $"GET {uri.AbsolutePath} HTTP/1.1\r\nHost: 127.0.0.1:{uri.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), ct).ConfigureAwait(false);

            // The response head, byte by byte up to its blank line: nothing may be read past it (the WebSocket's first frame).
            var head = new List<byte>(256);
            var one = new byte[1];
            while (head.Count < 4096 && !(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
            {
                if (await stream.ReadAsync(one, ct).ConfigureAwait(false) == 0)
                {
                    throw new IOException("The warm-up server closed the connection during the handshake.");
                }

                head.Add(one[0]);
            }

            var status = Encoding.ASCII.GetString([.. head]);
            if (!status.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
            {
                throw new IOException("The warm-up server refused the WebSocket: " + status.Split('\r')[0]);
            }

            using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
            var result = await client(socket).ConfigureAwait(false);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, ct).ConfigureAwait(false);
            return result;
        }
    }

    private static async Task<JsonDocument> RequestAsync(WebSocket ws, string message, CancellationToken ct)
    {
        await ws.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
        return await ReceiveAsync(ws, ct).ConfigureAwait(false);
    }

    private static async Task<JsonDocument> ReceiveAsync(WebSocket ws, CancellationToken ct)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        ValueWebSocketReceiveResult r;
        do
        {
            r = await ws.ReceiveAsync(buffer.GetMemory(16 * 1024), ct).ConfigureAwait(false);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely);
            }

            buffer.Advance(r.Count);
        }
        while (!r.EndOfMessage);
        return JsonDocument.Parse(buffer.WrittenMemory);
    }

    /// <summary>The private server's only endpoint: every request is a WebSocket served by the current private engine.</summary>
    private sealed class Application(MkioOptions options) : IHttpApplication<HttpContext>
    {
        public MkioEngine? Engine { get; set; }

        public MkioConnectionTracker Connections { get; } = new();

        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

        public async Task ProcessRequestAsync(HttpContext context)
        {
            // Kestrel runs requests without the warm-up's execution context (its transport does not flow it).
            MkioTelemetry.Suppressed.Value = true;
            if (Engine is not { } engine || context.Features.Get<IHttpUpgradeFeature>() is not { IsUpgradableRequest: true })
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return;
            }

            var (socket, stream) = await MkioWebSocketHandler.AcceptAsync(context, TimeSpan.Zero, System.Threading.Timeout.InfiniteTimeSpan).ConfigureAwait(false);
            using (socket)
            {
                await MkioWebSocketHandler.ServeAsync(engine, socket, stream, null, Mkio.Security.MkioIdentity.Anonymous, options, Connections, NullLogger.Instance, context.RequestAborted).ConfigureAwait(false);
            }
        }

        public void DisposeContext(HttpContext context, Exception? exception)
        {
        }
    }
}

/// <summary>What the start-up warm-up did.</summary>
/// <param name="Complete">Every write was acknowledged and seen live, the full snapshot held every row, and the resume after the restart returned a delta of all of them.</param>
/// <param name="Results">Writes acknowledged with a result.</param>
/// <param name="Updates">Updates the live subscriber received.</param>
/// <param name="DeltaChanges">Changes in the delta of the resume after the restart (-1: the reply was no delta).</param>
/// <param name="SnapshotRows">Rows in the full snapshot taken after the writes.</param>
/// <param name="Elapsed">How long it took.</param>
/// <param name="Folder">The temporary folder of its database (deleted when it ends).</param>
/// <param name="Error">Why it stopped early, if it did.</param>
internal sealed record WarmUpResult(bool Complete, int Results, int Updates, int DeltaChanges, int SnapshotRows, TimeSpan Elapsed, string Folder, Exception? Error);
