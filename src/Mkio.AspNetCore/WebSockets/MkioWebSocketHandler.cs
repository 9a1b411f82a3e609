using System.Buffers;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mkio.AspNetCore.Hosting;
using Mkio.Diagnostics;

namespace Mkio.AspNetCore.WebSockets;

/// <summary>
/// Serves <c>/ws</c> and <c>/ws/{service}</c> (PROTOCOL.md §1.6): accepts the upgrade, then runs a
/// receive loop (text and binary frames, reassembled, refused with 1009 at the size limit without
/// buffering more) feeding the connection's protocol session, and a separate send loop.
/// </summary>
internal sealed partial class MkioWebSocketHandler(
    MkioEngineHost host,
    MkioConnectionTracker tracker,
    IOptions<MkioOptions> options,
    ILogger<MkioWebSocketHandler> logger)
{
    private const int InitialBuffer = 4096;

    /// <summary>
    /// Completes the upgrade. An HTTP/1.1 upgrade is answered here (the RFC 6455 handshake, no subprotocol, no
    /// compression, as the ASP.NET Core middleware answers it) so that the server's WebSocket runs over a
    /// <see cref="CoalescingStream"/>: the send loop then writes several queued frames with one socket write.
    /// Other requests (HTTP/2, test servers) go through the middleware's accept.
    /// </summary>
    internal static async Task<(WebSocket Socket, CoalescingStream? Stream)> AcceptAsync(HttpContext context, TimeSpan keepAlive, TimeSpan keepAliveTimeout)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var key = context.Request.Headers.SecWebSocketKey.ToString();
        if (upgrade is not { IsUpgradableRequest: true } || string.IsNullOrEmpty(key))
        {
            var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = keepAlive, KeepAliveTimeout = keepAliveTimeout }).ConfigureAwait(false);
            return (socket, null);
        }

        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        context.Response.Headers.Connection = "Upgrade";
        context.Response.Headers.Upgrade = "websocket";
#pragma warning disable CA5350 // RFC 6455 §4.2.2 defines the accept value as SHA-1 of the key: a protocol checksum, not security.
        context.Response.Headers.SecWebSocketAccept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        var stream = new CoalescingStream(await upgrade.UpgradeAsync().ConfigureAwait(false), context.Abort);
        var created = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = keepAlive, KeepAliveTimeout = keepAliveTimeout });
        stream.Owner = created;
        return (created, stream);
    }

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("Expected a WebSocket upgrade request.", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        if (host.Stopping || host.TryGetEngine() is not { IsStarted: true } engine)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return;
        }

        var o = options.Value;
        if (!OriginPolicy.IsAllowed(context.Request, o.AllowedOrigins))
        {
            Log.OriginRefused(logger, context.Request.Headers.Origin.ToString());
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync("Origin not allowed (same-origin or AllowedOrigins / allowed_origins only).", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        if (o.MaxConnections > 0 && tracker.Count >= o.MaxConnections)
        {
            // Refused before the upgrade: a clear HTTP status the client can retry on.
            Log.ConnectionLimit(logger, o.MaxConnections);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "5";
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync($"Connection limit reached ({o.MaxConnections} WebSocket connections); retry later.", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var urlService = context.Request.RouteValues.TryGetValue("service", out var s) ? s as string : null;

        // Heartbeat: a ping every ws_heartbeat_s; a peer whose pong has not arrived one more
        // interval later is aborted (the receive loop then ends with a WebSocketException).
        var heartbeat = o.WsHeartbeatS > 0 ? TimeSpan.FromSeconds(o.WsHeartbeatS) : TimeSpan.Zero;
        var keepAliveTimeout = heartbeat > TimeSpan.Zero ? heartbeat : Timeout.InfiniteTimeSpan;
        var (socket, stream) = await AcceptAsync(context, heartbeat, keepAliveTimeout).ConfigureAwait(false);
        using var ownedSocket = socket;
        await ServeAsync(engine, socket, stream, urlService, Security.HostAuthorizer.IdentityOf(context), o, tracker, logger, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs one accepted WebSocket: registers its connection, opens its protocol session, feeds it every message
    /// until the peer leaves or the server closes, then answers what is pending and closes. Also used by the
    /// start-up warm-up (<see cref="Hosting.MkioWarmUp"/>) on its private server, with its own engine, tracker and logger.
    /// </summary>
    internal static async Task ServeAsync(MkioEngine engine, WebSocket socket, CoalescingStream? stream, string? urlService, Mkio.Security.MkioIdentity identity, MkioOptions o, MkioConnectionTracker tracker, ILogger logger, CancellationToken aborted)
    {
        var metrics = engine.Metrics;
        using var connection = new MkioConnection(socket, o.MaxSendQueueBytes, metrics, logger, stream);
        if (!tracker.TryAdd(connection, o.MaxConnections))
        {
            // Upgrades that raced past the check above.
            Log.ConnectionLimit(logger, o.MaxConnections);
            await connection.CloseNowAsync(WebSocketCloseStatus.PolicyViolation, "connection limit reached").ConfigureAwait(false);
            return;
        }

        metrics.ConnectionOpened();
        var session = engine.OpenSession(connection, string.IsNullOrEmpty(urlService) ? null : urlService);
        session.Identity = identity;
        connection.Session = session;
        try
        {
            await ReceiveLoopAsync(socket, connection, session, o.MaxMessageBytes, metrics, logger, aborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ConnectionAbortedException)
        {
            // The peer went away.
        }
        finally
        {
            // Every accepted request is answered before the socket closes (replies drain first).
            await engine.CloseSessionAsync(session).ConfigureAwait(false);
            if (socket.State == WebSocketState.CloseReceived)
            {
                await connection.CloseAsync(WebSocketCloseStatus.NormalClosure, string.Empty).ConfigureAwait(false);
            }
            else
            {
                connection.PeerClosed();
                await connection.SendLoop.ConfigureAwait(false);
            }

            tracker.Remove(connection);
            metrics.ConnectionClosed();
        }
    }

    private static async Task ReceiveLoopAsync(WebSocket socket, MkioConnection connection, Mkio.Sessions.MkioSession session, int maxBytes, MkioMetrics metrics, ILogger logger, CancellationToken aborted)
    {
        byte[]? buffer = null;
        var count = 0;
        try
        {
            // CloseSent: the send loop has sent the server's close frame (the connection is closing).
            while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                if (connection.IsClosing)
                {
                    await DiscardUntilCloseAsync(socket, aborted).ConfigureAwait(false);
                    return;
                }

                if (buffer is null)
                {
                    // Wait for data before renting a buffer: idle connections hold no memory.
                    var probe = await socket.ReceiveAsync(Memory<byte>.Empty, aborted).ConfigureAwait(false);
                    if (probe.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    if (probe.EndOfMessage)
                    {
                        // An empty message: answered like any other invalid JSON.
                        await DispatchAsync(connection, session, ReadOnlyMemory<byte>.Empty, aborted).ConfigureAwait(false);
                        continue;
                    }

                    buffer = ArrayPool<byte>.Shared.Rent(Math.Min(InitialBuffer, maxBytes));
                }

                if (count == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes));
                    buffer.AsSpan(0, count).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                var room = Math.Min(buffer.Length, maxBytes) - count;
                var result = await socket.ReceiveAsync(buffer.AsMemory(count, room), aborted).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                count += result.Count;
                if (count >= maxBytes)
                {
                    // PROTOCOL.md §1.6: close with 1009 as soon as the message reaches the limit.
                    metrics.OversizedMessage();
                    Log.MessageTooBig(logger, maxBytes);
                    _ = connection.CloseNowAsync(WebSocketCloseStatus.MessageTooBig, $"message too big (limit {maxBytes} bytes)");
                    continue;
                }

                if (!result.EndOfMessage)
                {
                    continue;
                }

                var message = buffer.AsMemory(0, count).ToArray();
                count = 0;

                // Back to the pool after every message: a connection waiting for its next message holds no buffer
                // (10,000 idle subscribers would otherwise keep 40 MB of them).
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;

                await DispatchAsync(connection, session, message, aborted).ConfigureAwait(false);
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// Once the server has decided to close (shutdown 1001, slow consumer 1013, oversized message 1009),
    /// what the peer still sends is read and dropped until its close frame arrives (RFC 6455 §7.1.1).
    /// Leaving it unread would make the kernel answer the socket's close with a reset, which can destroy
    /// the close frame (and the last replies) before the client reads them. The connection aborts the
    /// socket if the peer never answers (<see cref="MkioConnection.CloseHandshakeTimeout"/>).
    /// </summary>
    private static async Task DiscardUntilCloseAsync(WebSocket socket, CancellationToken aborted)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(InitialBuffer);
        try
        {
            while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var result = await socket.ReceiveAsync(scratch.AsMemory(), aborted).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Hands one message to the session unless shutdown has stopped dispatching (then the 1001 close follows).</summary>
    private static async ValueTask DispatchAsync(MkioConnection connection, Mkio.Sessions.MkioSession session, ReadOnlyMemory<byte> message, CancellationToken aborted)
    {
        if (!connection.TryBeginDispatch())
        {
            return;
        }

        try
        {
            await session.HandleAsync(message, aborted).ConfigureAwait(false);
        }
        finally
        {
            connection.EndDispatch();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Closing a connection with 1009: a message reached the {Limit} byte limit.")]
        public static partial void MessageTooBig(ILogger logger, int limit);

        [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Refused a WebSocket from origin {Origin}: neither same-origin nor in AllowedOrigins (allowed_origins).")]
        public static partial void OriginRefused(ILogger logger, string origin);

        [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "Refused a WebSocket: the limit of {Limit} connections is reached.")]
        public static partial void ConnectionLimit(ILogger logger, int limit);
    }
}
