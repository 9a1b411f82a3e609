namespace Mkio.AspNetCore.WebSockets;

/// <summary>
/// The upgraded connection's stream under the server's WebSocket. Between <see cref="BeginBatch"/> and
/// <see cref="EndBatchAsync"/> the socket's writes (one per WebSocket frame) are gathered into one buffer and
/// reach the connection as one write: several queued frames to one connection cost one socket write, not one
/// each. Outside a batch (pongs, pings and the close frame sent while the send loop is idle) writes pass
/// straight through. Writes, the batch's flush and pass-through writes are serialised, so frames never interleave.
/// Disposing it while its <see cref="Owner"/> is not cleanly closed (an abort, a keep-alive timeout) runs
/// <paramref name="aborted"/> first, the HTTP connection's abort: disposing an upgraded stream alone does not end a
/// read pending on it. After a clean close handshake the connection ends normally (FIN).
/// </summary>
internal sealed class CoalescingStream(Stream inner, Action? aborted = null) : Stream
{
    /// <summary>A batch is written out once it holds this many bytes; a larger frame is written on its own.</summary>
    internal const int BatchBytes = 64 * 1024;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private byte[] _buffer = new byte[4096];
    private int _count;
    private bool _batching;

    /// <summary>The WebSocket running over this stream.</summary>
    public System.Net.WebSockets.WebSocket? Owner { get; set; }

    /// <summary>Socket writes (calls to the underlying stream), for tests and diagnostics.</summary>
    public long InnerWrites { get; private set; }

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>
    /// Starts gathering writes (the send loop is about to send what is queued). Not under the gate: a write in
    /// progress (a pong to a slow peer) must not block the send loop's thread; the writes after it see the flag.
    /// </summary>
    public void BeginBatch() => Volatile.Write(ref _batching, true);

    /// <summary>Writes what was gathered as one write and stops gathering.</summary>
    public async ValueTask EndBatchAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Volatile.Write(ref _batching, false);
            await WriteOutAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _batching) && _count + buffer.Length <= BatchBytes)
            {
                if (_count + buffer.Length > _buffer.Length)
                {
                    Array.Resize(ref _buffer, Math.Min(BatchBytes, Math.Max(_buffer.Length * 2, _count + buffer.Length)));
                }

                buffer.Span.CopyTo(_buffer.AsSpan(_count));
                _count += buffer.Length;
                return;
            }

            // Outside a batch, or it would grow past its bound: what was gathered goes first, then this write.
            await WriteOutAsync(cancellationToken).ConfigureAwait(false);
            InnerWrites++;
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!Volatile.Read(ref _batching))
            {
                await WriteOutAsync(cancellationToken).ConfigureAwait(false);
            }

            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override void Flush() => FlushAsync().GetAwaiter().GetResult();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            AbortUnlessClosed();
            inner.Dispose();
            _gate.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        AbortUnlessClosed();
        await inner.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void AbortUnlessClosed()
    {
        if (Owner is not { State: System.Net.WebSockets.WebSocketState.Closed })
        {
            aborted?.Invoke();
        }
    }

    /// <summary>Writes the gathered bytes (under the gate).</summary>
    private async ValueTask WriteOutAsync(CancellationToken cancellationToken)
    {
        if (_count == 0)
        {
            return;
        }

        var n = _count;
        _count = 0;
        InnerWrites++;
        await inner.WriteAsync(_buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
    }
}
