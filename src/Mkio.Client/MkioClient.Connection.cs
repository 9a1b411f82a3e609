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
    private sealed class SubscribeMarker(Subscription subscription, string? resumeRef) : ReplyEntry
    {
        public Subscription Subscription => subscription;

        /// <summary>The cursor the subscribe carried.</summary>
        public string? ResumeRef => resumeRef;
    }

    /// <summary>One WebSocket and the requests waiting for replies on it (all state under the client lock).</summary>
    private sealed class Connection(ClientWebSocket socket) : IDisposable
    {
        private readonly CancellationTokenSource _abort = new();
        private readonly TaskCompletionSource _lossHandled = new(TaskCreationOptions.RunContinuationsAsynchronously);
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

        /// <summary>Completes once the loss of this connection was handled (or the client disposed).</summary>
        public Task LossHandled => _lossHandled.Task;

        public void MarkLossHandled() => _lossHandled.TrySetResult();

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

        /// <summary>Removes the oldest subscribe marker for the subscription <paramref name="key"/> (subid or service).</summary>
        public SubscribeMarker? TakeMarker(string key)
        {
            var node = FindMarker(key);
            if (node is not null)
            {
                Fifo.Remove(node);
                return (SubscribeMarker)node.Value;
            }

            return null;
        }

        /// <summary>The oldest subscribe marker for the subscription <paramref name="key"/> (subid or service).</summary>
        public LinkedListNode<ReplyEntry>? FindMarker(string key)
        {
            for (var node = Fifo.First; node is not null; node = node.Next)
            {
                if (node.Value is SubscribeMarker m && string.Equals(m.Subscription.Key, key, StringComparison.Ordinal))
                {
                    return node;
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
