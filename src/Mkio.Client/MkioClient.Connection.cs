using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;

namespace Mkio.Client;

public sealed partial class MkioClient
{
    private const int ReceiveBufferSize = 16 * 1024;
    private const int RetainedMessageCapacity = 1024 * 1024;

    /// <summary>
    /// Sends one frame on <paramref name="conn"/>. Sends are serialized by the connection's send
    /// lock, and <paramref name="register"/> runs under the client lock right before the bytes go
    /// out, so reply entries are registered in wire order. <paramref name="register"/> returns the
    /// frame, or <see langword="null"/> to send nothing. Returns <see langword="false"/> when the
    /// connection was already lost (nothing was registered or sent).
    /// </summary>
    private async Task<bool> SendFrameAsync<TState>(Connection conn, TState state, Func<Connection, TState, ReadOnlyMemory<byte>?> register, CancellationToken cancellationToken)
    {
        await conn.SendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ReadOnlyMemory<byte>? frame;
            lock (_lock)
            {
                if (conn.Lost || conn.IsAborted)
                {
                    return false;
                }

                frame = register(conn, state);
            }

            if (frame is not { } bytes)
            {
                return true;
            }

            try
            {
                // Not the caller's token: cancelling a socket write aborts the socket for everyone.
                await conn.Socket.SendAsync(bytes, WebSocketMessageType.Text, true, conn.AbortToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException or InvalidOperationException)
            {
                // The receive loop notices the abort and fails what is pending on this connection.
                Log.SendFailed(_logger, _uri, ex);
                conn.Abort(ex);
            }

            return true;
        }
        finally
        {
            conn.SendLock.Release();
        }
    }

    /// <summary>Sends a close frame (bounded by <see cref="CloseTimeout"/>); aborts the socket when that fails.</summary>
    private async Task CloseOutputAsync(Connection conn)
    {
        using var cts = new CancellationTokenSource(CloseTimeout, _time);
        try
        {
            await conn.SendLock.WaitAsync(cts.Token).ConfigureAwait(false);
            try
            {
                if (conn.Socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await conn.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, string.Empty, cts.Token).ConfigureAwait(false);
                }
            }
            finally
            {
                conn.SendLock.Release();
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            conn.Abort(null);
        }
    }

    /// <summary>Reads frames (text or binary, reassembled) and dispatches them until the connection ends.</summary>
    private async Task<LossInfo> ReceiveLoopAsync(Connection conn)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
        var message = new ArrayBufferWriter<byte>(ReceiveBufferSize);
        try
        {
            while (true)
            {
                var r = await conn.Socket.ReceiveAsync(buffer.AsMemory(), conn.AbortToken).ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    var status = conn.Socket.CloseStatus;
                    var description = conn.Socket.CloseStatusDescription;
                    await CloseOutputAsync(conn).ConfigureAwait(false);
                    return new LossInfo(conn.AbortReason, status, description);
                }

                message.Write(buffer.AsSpan(0, r.Count));
                if (!r.EndOfMessage)
                {
                    continue;
                }

                Dispatch(conn, message.WrittenSpan);
                if (message.Capacity > RetainedMessageCapacity)
                {
                    message = new ArrayBufferWriter<byte>(ReceiveBufferSize);
                }
                else
                {
                    message.ResetWrittenCount();
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            return new LossInfo(conn.AbortReason ?? ex, null, null);
        }
        catch (Exception ex)
        {
            // A protocol violation (or a bug): drop this connection; the next one starts clean.
            Log.ProtocolViolation(_logger, _uri, ex);
            conn.Abort(ex);
            return new LossInfo(ex, null, null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Routes one received message (CLIENTS.md §5 correlation rules).</summary>
    private void Dispatch(Connection conn, ReadOnlySpan<byte> utf8)
    {
        var root = Parse(utf8);
        var type = GetString(root, "type");
        switch (type)
        {
            case "result":
            case "error":
                OnReply(conn, root, type == "error");
                break;
            case "snapshot":
            case "delta":
            case "update":
            case "nack":
                OnSubscriptionMessage(conn, root, type);
                break;
            default:
                Log.MessageIgnored(_logger, type ?? "(none)");
                break;
        }
    }

    private static JsonElement Parse(ReadOnlySpan<byte> utf8)
    {
        JsonElement root;
        try
        {
            root = ParseValue(utf8);
        }
        catch (JsonException ex)
        {
            // The server writes non-finite floats as bare NaN/Infinity tokens (PROTOCOL.md §2).
            var rewritten = NonFiniteTokens.Quote(utf8);
            if (rewritten is null)
            {
                throw new MkioProtocolException($"The server sent a frame that is not JSON: {ex.Message}", ex);
            }

            try
            {
                root = ParseValue(rewritten);
            }
            catch (JsonException)
            {
                throw new MkioProtocolException($"The server sent a frame that is not JSON: {ex.Message}", ex);
            }
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new MkioProtocolException($"The server sent a JSON {root.ValueKind} where a message object was expected.");
        }

        return root;
    }

    private static JsonElement ParseValue(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 256 });
        var value = JsonElement.ParseValue(ref reader);
        if (reader.Read())
        {
            throw new JsonException("Unexpected content after the message object.");
        }

        return value;
    }

    /// <summary>
    /// A <c>result</c> or <c>error</c>: resolves the pending request with its ref, else the oldest
    /// ref-less entry of this connection (subscribe markers included, see <see cref="SubscribeMarker"/>).
    /// </summary>
    private void OnReply(Connection conn, JsonElement root, bool isError)
    {
        PendingRequest? resolved = null;
        lock (_lock)
        {
            if (conn.Lost)
            {
                return;
            }

            var @ref = GetString(root, "ref");
            if (!string.IsNullOrEmpty(@ref) && conn.TryTakeByRef(@ref, out var byRef))
            {
                resolved = byRef;
                RejectSilentMarkers(conn, byRef.Seq);
            }
            else
            {
                while (conn.Fifo.First is { } node)
                {
                    conn.Fifo.RemoveFirst();
                    if (node.Value is PendingRequest p)
                    {
                        resolved = p;
                        break;
                    }

                    var marker = (SubscribeMarker)node.Value;
                    var message = GetString(root, "message") ?? string.Empty;
                    if (isError && IsDispatcherError(message))
                    {
                        // "Unknown service: x" answers the subscribe itself.
                        OnMarkerConsumed(conn, marker);
                        Reject(marker.Subscription, message, root);
                        return;
                    }

                    RejectSilent(conn, marker);
                }
            }
        }

        if (resolved is null)
        {
            Log.ReplyDropped(_logger, isError ? "error" : "result", GetString(root, "ref") ?? string.Empty);
            return;
        }

        resolved.Complete(root);
    }

    private static bool IsDispatcherError(string message) =>
        message.StartsWith("Unknown service", StringComparison.Ordinal) || message == "Missing 'service' field";

    /// <summary>
    /// Replies come back in request order (PROTOCOL.md §10), so subscribe markers older than a
    /// request that has been answered got no reply at all: the service does not accept subscriptions.
    /// </summary>
    private void RejectSilentMarkers(Connection conn, long answeredSeq)
    {
        while (conn.Fifo.First is { Value: SubscribeMarker marker } && marker.Seq < answeredSeq)
        {
            conn.Fifo.RemoveFirst();
            RejectSilent(conn, marker);
        }
    }

    private void RejectSilent(Connection conn, SubscribeMarker marker)
    {
        OnMarkerConsumed(conn, marker);
        var service = marker.Subscription.Service;
        Reject(marker.Subscription, $"Service '{service}' did not answer the subscribe with a snapshot or delta: it is not a subpub, stream or query service.", null);
    }

    private static void OnMarkerConsumed(Connection conn, SubscribeMarker marker)
    {
        if (ReferenceEquals(marker.Subscription.SentOn, conn))
        {
            marker.Subscription.AwaitingInitial = false;
        }
    }

    /// <summary>Ends <paramref name="sub"/> with a rejection if it is still the service's subscription. Under <see cref="_lock"/>.</summary>
    private void Reject(Subscription sub, string message, JsonElement? reply)
    {
        if (!IsCurrent(sub))
        {
            return;
        }

        _subscriptions.Remove(sub.Service);
        Log.SubscriptionRejected(_logger, sub.Service, message);
        sub.Complete(new MkioSubscriptionRejectedException(message, sub.Service, reply));
    }

    /// <summary>
    /// snapshot/delta/nack answer the oldest subscribe for their service on this connection;
    /// updates go to the service's subscription once its snapshot/delta has arrived.
    /// </summary>
    private void OnSubscriptionMessage(Connection conn, JsonElement root, string type)
    {
        var service = GetString(root, "service");
        if (string.IsNullOrEmpty(service))
        {
            Log.MessageIgnored(_logger, type);
            return;
        }

        lock (_lock)
        {
            if (conn.Lost)
            {
                return;
            }

            _subscriptions.TryGetValue(service, out var current);
            Subscription? target = null;
            var marker = type == "update" ? null : conn.TakeMarker(service);
            if (marker is not null)
            {
                OnMarkerConsumed(conn, marker);

                // A reply to a subscribe that was replaced since belongs to nobody.
                target = ReferenceEquals(marker.Subscription, current) ? current : null;
            }
            else if (current is { AwaitingInitial: false } && ReferenceEquals(current.SentOn, conn))
            {
                target = current;
            }

            if (target is null)
            {
                Log.SubscriptionMessageDropped(_logger, type, service);
                return;
            }

            if (type == "nack")
            {
                Reject(target, GetString(root, "message") ?? "The server rejected the subscription.", root);
                return;
            }

            var e = new MkioEvent(type switch { "snapshot" => MkioEventType.Snapshot, "delta" => MkioEventType.Delta, _ => MkioEventType.Update }, service, root);
            if (e.Ref is not null)
            {
                target.Cursor = e.Ref;
            }

            target.Events.Writer.TryWrite(e);
        }
    }

    private readonly record struct LossInfo(Exception? Error, WebSocketCloseStatus? CloseStatus, string? CloseStatusDescription);

    /// <summary>Something waiting for a reply on one connection.</summary>
    private abstract class ReplyEntry
    {
        /// <summary>Position in the connection's send order.</summary>
        public long Seq { get; set; }
    }

    /// <summary>A transaction or check waiting for its <c>result</c>/<c>error</c>.</summary>
    private sealed class PendingRequest(string service, string? @ref) : ReplyEntry
    {
        private readonly TaskCompletionSource<JsonElement> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Service => service;

        public string? Ref => @ref;

        public Task<JsonElement> Task => _tcs.Task;

        public void Complete(JsonElement reply) => _tcs.TrySetResult(reply);

        public void Fail(Exception exception) => MkioClient.Fail(_tcs, exception);
    }

    /// <summary>
    /// A subscribe waiting for its snapshot/delta/nack. It also sits in the ref-less FIFO: a
    /// subscribe to an unknown service is answered with a ref-less <c>error</c>, which must not be
    /// taken as the reply to a later ref-less transaction.
    /// </summary>
    private sealed class SubscribeMarker(Subscription subscription) : ReplyEntry
    {
        public Subscription Subscription => subscription;
    }

    /// <summary>One WebSocket and the requests waiting for replies on it (all state under the client lock).</summary>
    private sealed class Connection(ClientWebSocket socket) : IDisposable
    {
        private readonly CancellationTokenSource _abort = new();
        private readonly Dictionary<string, Queue<PendingRequest>> _byRef = new(StringComparer.Ordinal);
        private long _nextSeq;

        public ClientWebSocket Socket => socket;

        /// <summary>Serializes writes to the socket.</summary>
        public SemaphoreSlim SendLock { get; } = new(1, 1);

        /// <summary>Ref-less requests and subscribe markers in send order.</summary>
        public LinkedList<ReplyEntry> Fifo { get; } = new();

        /// <summary>Set once the loss was handled (or the client disposed): nothing registers or resolves any more.</summary>
        public bool Lost { get; set; }

        public Exception? AbortReason { get; private set; }

        public CancellationToken AbortToken => _abort.Token;

        public bool IsAborted => _abort.IsCancellationRequested;

        public void Register(PendingRequest request)
        {
            request.Seq = ++_nextSeq;
            if (request.Ref is null)
            {
                Fifo.AddLast(request);
                return;
            }

            if (!_byRef.TryGetValue(request.Ref, out var queue))
            {
                queue = new Queue<PendingRequest>(1);
                _byRef.Add(request.Ref, queue);
            }

            queue.Enqueue(request);
        }

        public void Register(SubscribeMarker marker)
        {
            marker.Seq = ++_nextSeq;
            Fifo.AddLast(marker);
        }

        public bool TryTakeByRef(string @ref, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PendingRequest? request)
        {
            if (!_byRef.TryGetValue(@ref, out var queue))
            {
                request = null;
                return false;
            }

            request = queue.Dequeue();
            if (queue.Count == 0)
            {
                _byRef.Remove(@ref);
            }

            return true;
        }

        /// <summary>Removes the oldest subscribe marker for <paramref name="service"/>.</summary>
        public SubscribeMarker? TakeMarker(string service)
        {
            for (var node = Fifo.First; node is not null; node = node.Next)
            {
                if (node.Value is SubscribeMarker m && string.Equals(m.Subscription.Service, service, StringComparison.Ordinal))
                {
                    Fifo.Remove(node);
                    return m;
                }
            }

            return null;
        }

        public void TakeAllPending(List<PendingRequest> into)
        {
            foreach (var queue in _byRef.Values)
            {
                into.AddRange(queue);
            }

            _byRef.Clear();
            foreach (var entry in Fifo)
            {
                if (entry is PendingRequest p)
                {
                    into.Add(p);
                }
            }

            Fifo.Clear();
        }

        public void Abort(Exception? reason)
        {
            AbortReason ??= reason;
            try
            {
                _abort.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            socket.Abort();
        }

        public void Dispose()
        {
            socket.Dispose();
            _abort.Dispose();
        }
    }
}
