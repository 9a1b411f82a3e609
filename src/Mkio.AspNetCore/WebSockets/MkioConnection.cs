using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Mkio.Diagnostics;
using Mkio.Sessions;

namespace Mkio.AspNetCore.WebSockets;

/// <summary>
/// The transport side of one WebSocket: a send loop fed by an outbound queue bounded in bytes
/// (fix F10). Fan-out only enqueues; a connection whose queue would exceed the bound is closed with
/// 1013 and its queued frames are dropped (the client resumes by ref after reconnecting). A frame is
/// always accepted into an empty queue, so one large snapshot never trips the bound.
/// </summary>
internal sealed partial class MkioConnection : IMkioTransport, IDisposable
{
    private readonly WebSocket _socket;
    private readonly long _maxQueuedBytes;
    private readonly MkioMetrics _metrics;
    private readonly ILogger _logger;
    /// <summary>
    /// How long a closing connection may take: the send loop's last frames and close frame, then the peer's
    /// answering close frame. After it the socket is aborted, so a stalled peer cannot hold the connection.
    /// </summary>
    internal static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Messages longer than this are sent as several WebSocket frames of this size (see <see cref="SendFrameAsync"/>).</summary>
    internal const int SendSegment = 64 * 1024;

    private readonly Channel<Outgoing> _outbox = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _queuedBytes;
    private int _closing;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string _closeReason = string.Empty;
    private bool _dropQueued;
    private readonly Lock _dispatchLock = new();
    private bool _dispatching;
    private bool _dispatchStopped;
    private TaskCompletionSource? _dispatchIdle;

    /// <summary>At most this many queued frames are taken from the queue for one coalesced write.</summary>
    internal const int MaxBatchFrames = 256;

    private readonly CoalescingStream? _stream;

    /// <param name="socket">The accepted WebSocket.</param>
    /// <param name="maxQueuedBytes">The outbound queue's bound in bytes.</param>
    /// <param name="metrics">Counters.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="stream">The stream under <paramref name="socket"/>, which frames and gathers queued messages into one write (null: the socket sends each message).</param>
    public MkioConnection(WebSocket socket, long maxQueuedBytes, MkioMetrics metrics, ILogger logger, CoalescingStream? stream = null)
    {
        _socket = socket;
        _stream = stream;
        _maxQueuedBytes = maxQueuedBytes;
        _metrics = metrics;
        _logger = logger;
        SendLoop = Task.Run(SendLoopAsync);
    }

    public Task SendLoop { get; }

    /// <summary>The protocol session fed by this connection (set by the handler once it is open).</summary>
    public MkioSession? Session { get; set; }

    /// <summary>
    /// Called by the receive loop before it hands a message to the session; false once shutdown has
    /// stopped dispatching or the connection is closing (the message arrived after the server decided to
    /// close: the close frame follows, and a reply could not be sent after it).
    /// </summary>
    public bool TryBeginDispatch()
    {
        lock (_dispatchLock)
        {
            if (_dispatchStopped || IsClosing)
            {
                return false;
            }

            _dispatching = true;
            return true;
        }
    }

    /// <summary>Called by the receive loop when the session has taken the message.</summary>
    public void EndDispatch()
    {
        lock (_dispatchLock)
        {
            _dispatching = false;
            _dispatchIdle?.TrySetResult();
        }
    }

    /// <summary>Stops dispatching new messages; completes when the message being dispatched (if any) has been taken.</summary>
    private Task StopDispatchAsync()
    {
        lock (_dispatchLock)
        {
            _dispatchStopped = true;
            if (!_dispatching)
            {
                return Task.CompletedTask;
            }

            _dispatchIdle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _dispatchIdle.Task;
        }
    }

    /// <summary>
    /// Shutdown close (SERVICES.md §14, F19): stop dispatching, let the message being dispatched finish,
    /// wait until every reply it and earlier messages produced is queued (bounded by <paramref name="drainTimeout"/>),
    /// then send what is queued and the close frame. A request the server read is never left unanswered.
    /// </summary>
    public async Task ShutdownAsync(WebSocketCloseStatus status, string reason, TimeSpan drainTimeout)
    {
        using var cts = new CancellationTokenSource(drainTimeout);
        try
        {
            await StopDispatchAsync().WaitAsync(cts.Token).ConfigureAwait(false);
            if (Session is { } session)
            {
                await session.DrainAsync(cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // Timed out or the session is already closing: close anyway.
        }

        await CloseAsync(status, reason).ConfigureAwait(false);
    }

    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    public bool IsClosing => Volatile.Read(ref _closing) != 0;

    /// <summary>Completes when the connection's handler has finished with the socket.</summary>
    public Task Ended => _ended.Task;

    internal void MarkEnded() => _ended.TrySetResult();

    /// <summary>Drops the TCP connection at once (a peer that never answers the close frame).</summary>
    public void Abort()
    {
        try
        {
            _socket.Abort();
        }
        catch (ObjectDisposedException)
        {
            // The handler already finished with the socket.
        }
    }

    public bool TrySend(ReadOnlyMemory<byte> frame) => TryEnqueue(new Outgoing(frame), frame.Length);

    public bool TrySend(FrameBatch batch)
    {
        if (TryEnqueue(new Outgoing(batch), batch.Bytes))
        {
            return true;
        }

        batch.Return();
        return false;
    }

    /// <summary>Enqueues one entry unless the connection is closing or the entry would take the queue past its bound.</summary>
    private bool TryEnqueue(Outgoing item, long bytes)
    {
        if (IsClosing)
        {
            return false;
        }

        var total = Interlocked.Add(ref _queuedBytes, bytes);
        if (total > _maxQueuedBytes && total != bytes)
        {
            Interlocked.Add(ref _queuedBytes, -bytes);
            Overflow(total);
            return false;
        }

        if (!_outbox.Writer.TryWrite(item))
        {
            Interlocked.Add(ref _queuedBytes, -bytes);
            return false;
        }

        return true;
    }

    public long MaxQueuedBytes => _maxQueuedBytes;

    public void CloseSlowConsumer(long wouldBe) => Overflow(wouldBe);

    private void Overflow(long wouldBe)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        _closeStatus = (WebSocketCloseStatus)1013;
        _closeReason = "send queue overflow: client too slow";
        _dropQueued = true;
        _metrics.SlowConsumerDisconnected();
        Log.SlowConsumer(_logger, wouldBe, _maxQueuedBytes);
        _outbox.Writer.TryComplete();

        // A stalled peer may never finish the send in progress: give it a moment, then abort.
        _abort.CancelAfter(CloseHandshakeTimeout);
    }

    /// <summary>Sends what is queued, then closes with <paramref name="status"/>.</summary>
    public Task CloseAsync(WebSocketCloseStatus status, string reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 0)
        {
            _closeStatus = status;
            _closeReason = reason;
            _outbox.Writer.TryComplete();
            _abort.CancelAfter(CloseHandshakeTimeout);
        }

        return SendLoop;
    }

    /// <summary>Closes immediately without sending what is queued (1009 for oversized messages).</summary>
    public Task CloseNowAsync(WebSocketCloseStatus status, string reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 0)
        {
            _closeStatus = status;
            _closeReason = reason;
            _dropQueued = true;
            _outbox.Writer.TryComplete();
            _abort.CancelAfter(CloseHandshakeTimeout);
        }

        return SendLoop;
    }

    /// <summary>Stops the send loop because the peer is gone.</summary>
    public void PeerClosed()
    {
        Interlocked.Exchange(ref _closing, 1);
        _dropQueued = true;
        _outbox.Writer.TryComplete();
    }

    private async Task SendLoopAsync()
    {
        var reader = _outbox.Reader;
        var token = _abort.Token;
        try
        {
            List<ReadOnlyMemory<byte>>? batch = _stream is null ? null : new(MaxBatchFrames);
            while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (batch is null)
                {
                    while (reader.TryRead(out var item))
                    {
                        Interlocked.Add(ref _queuedBytes, -item.Bytes);
                        try
                        {
                            for (var i = 0; i < item.Count && !_dropQueued; i++)
                            {
                                await SendFrameAsync(item[i], token).ConfigureAwait(false);
                            }
                        }
                        finally
                        {
                            item.Release();
                        }
                    }

                    continue;
                }

                // What is queued now goes out framed by the stream, as one socket write. Taken frames no longer count
                // against the queue's bound, so a batch stops at one buffer's worth of bytes (plus the entry that crosses it).
                long taken = 0;
                while (batch.Count < MaxBatchFrames && taken < CoalescingStream.BatchBytes && reader.TryRead(out var item))
                {
                    // A batch's frames are copied into the list (a memory is a reference and a range): its array goes back now.
                    for (var i = 0; i < item.Count; i++)
                    {
                        var frame = item[i];
                        taken += frame.Length;
                        batch.Add(frame);
                    }

                    item.Release();
                }

                Interlocked.Add(ref _queuedBytes, -taken);
                if (!_dropQueued)
                {
                    await _stream!.WriteMessagesAsync(batch, token).ConfigureAwait(false);
                }

                batch.Clear();
            }

            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(_closeStatus, _closeReason, token).ConfigureAwait(false);

                // The receive loop now drains until the peer's close frame; a peer that never sends one is
                // aborted when the close deadline passes (immediately if it already has).
                token.Register(static c => ((MkioConnection)c!).Abort(), this);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException or IOException)
        {
            _socket.Abort();
        }
        finally
        {
            while (reader.TryRead(out var item))
            {
                Interlocked.Add(ref _queuedBytes, -item.Bytes);
                item.Release();
            }
        }
    }

    /// <summary>
    /// Sends one message. A large one (a snapshot) goes out as a sequence of WebSocket frames of
    /// <see cref="SendSegment"/> bytes: the socket copies each into a small buffer instead of renting and
    /// filling one as large as the whole message; the message's bytes are unchanged.
    /// </summary>
    private async ValueTask SendFrameAsync(ReadOnlyMemory<byte> frame, CancellationToken token)
    {
        while (frame.Length > SendSegment)
        {
            await _socket.SendAsync(frame[..SendSegment], WebSocketMessageType.Binary, endOfMessage: false, token).ConfigureAwait(false);
            frame = frame[SendSegment..];
        }

        await _socket.SendAsync(frame, WebSocketMessageType.Binary, endOfMessage: true, token).ConfigureAwait(false);
    }

    public void Dispose() => _abort.Dispose();

    /// <summary>
    /// One entry of the outbound queue: a frame, or the frames of a batch enqueued at once (its array returned once
    /// taken). Kept to 32 bytes: every connection's queue allocates room for 32 entries up front.
    /// </summary>
    private readonly struct Outgoing
    {
        private readonly ReadOnlyMemory<byte> _frame;
        private readonly ReadOnlyMemory<byte>[]? _batch;

        public Outgoing(ReadOnlyMemory<byte> frame)
        {
            _frame = frame;
            Count = 1;
        }

        public Outgoing(FrameBatch batch)
        {
            _batch = batch.Frames;
            Count = batch.Count;
        }

        /// <summary>How many frames the entry holds.</summary>
        public int Count { get; }

        /// <summary>The entry's frame <paramref name="index"/>, in order.</summary>
        public ReadOnlyMemory<byte> this[int index] => _batch is null ? _frame : _batch[index];

        /// <summary>The entry's bytes (what it counted against the bound when enqueued).</summary>
        public long Bytes
        {
            get
            {
                if (_batch is null)
                {
                    return _frame.Length;
                }

                long bytes = 0;
                for (var i = 0; i < Count; i++)
                {
                    bytes += _batch[i].Length;
                }

                return bytes;
            }
        }

        /// <summary>Gives a batch's array back to the pool (once its frames are taken or dropped).</summary>
        public void Release()
        {
            if (_batch is not null)
            {
                FrameBatch.Return(_batch);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Closing a slow connection with 1013: its send queue would hold {Bytes} bytes (limit {Limit}).")]
        public static partial void SlowConsumer(ILogger logger, long bytes, long limit);
    }
}

/// <summary>Tracks open connections so shutdown can close them all with 1001.</summary>
internal sealed class MkioConnectionTracker
{
    private readonly Lock _lock = new();
    private readonly HashSet<MkioConnection> _open = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _open.Count;
            }
        }
    }

    public bool TryAdd(MkioConnection connection, int limit)
    {
        lock (_lock)
        {
            if (limit > 0 && _open.Count >= limit)
            {
                return false;
            }

            return _open.Add(connection);
        }
    }

    public void Remove(MkioConnection connection)
    {
        lock (_lock)
        {
            _open.Remove(connection);
        }

        connection.MarkEnded();
    }

    /// <summary>
    /// Stops every open connection's dispatching, waits (bounded by <paramref name="drainTimeout"/>) for
    /// the replies of what it already read, sends what is queued and a close frame with <paramref name="status"/>, then
    /// gives the peers <paramref name="grace"/> to answer it. A peer that does not is aborted, so it
    /// cannot hold up the host's shutdown (SERVICES.md §14).
    /// </summary>
    public async Task CloseAllAsync(WebSocketCloseStatus status, string reason, TimeSpan grace, TimeSpan drainTimeout, CancellationToken cancellationToken = default)
    {
        MkioConnection[] all;
        lock (_lock)
        {
            all = [.. _open];
        }

        await Task.WhenAll(all.Select(c => c.ShutdownAsync(status, reason, drainTimeout))).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(all.Select(c => c.Ended)).WaitAsync(grace, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            foreach (var c in all.Where(c => !c.Ended.IsCompleted))
            {
                c.Abort();
            }
        }
    }
}
