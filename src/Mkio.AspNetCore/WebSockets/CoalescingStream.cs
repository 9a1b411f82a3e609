namespace Mkio.AspNetCore.WebSockets;

/// <summary>
/// The upgraded connection's stream under the server's WebSocket. The send loop hands it every message queued
/// for the connection at once (<see cref="WriteMessagesAsync"/>): it frames them itself (RFC 6455 §5.2: FIN,
/// binary, unmasked, as the server's WebSocket frames them) into one buffer and writes that with one socket write,
/// so several queued messages cost one write, one lock round trip and one copy each, not a trip through the
/// WebSocket's send lock, its frame buffer and a write per message. A message too large for the buffer is written
/// from its own memory after its header, without a copy, in slices of the buffer's bound (no write is larger). The WebSocket's own writes (pongs, pings, the close frame)
/// pass straight through; every write is serialised, so frames never interleave.
/// Disposing it while its <see cref="Owner"/> is not cleanly closed (an abort, a keep-alive timeout) runs
/// <paramref name="aborted"/> first, the HTTP connection's abort: disposing an upgraded stream alone does not end a
/// read pending on it. After a clean close handshake the connection ends normally (FIN).
/// </summary>
internal sealed class CoalescingStream(Stream inner, Action? aborted = null) : Stream
{
    /// <summary>Gathered messages are written out once they hold this many bytes; a larger message is written from its own memory, this many bytes at a time.</summary>
    internal const int BatchBytes = 64 * 1024;

    /// <summary>The smallest buffer rented (the shared pool's smallest useful bucket for a batch of updates).</summary>
    private const int MinimumBytes = 1024;

    /// <summary>The longest frame header a server writes: 2 bytes + 8 bytes of length (no mask).</summary>
    private const int MaxHeader = 10;

    private readonly SemaphoreSlim _gate = new(1, 1);
    /// <summary>The gathering buffer, rented from the shared pool for one <see cref="WriteMessagesAsync"/> call (an idle connection holds none).</summary>
    private byte[]? _buffer;
    private int _count;

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
    /// Writes <paramref name="messages"/> as binary WebSocket messages, one unfragmented frame each, in order: gathered
    /// into as few socket writes as the buffer's bound allows (one for a typical batch of updates).
    /// </summary>
    /// <exception cref="System.Net.WebSockets.WebSocketException">The WebSocket can no longer send data (closed or aborted).</exception>
    public async ValueTask WriteMessagesAsync(IReadOnlyList<ReadOnlyMemory<byte>> messages, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Under the gate, so a close frame the WebSocket wrote is seen: no data may follow it.
            if (Owner is { State: not (System.Net.WebSockets.WebSocketState.Open or System.Net.WebSockets.WebSocketState.CloseReceived) })
            {
                throw new System.Net.WebSockets.WebSocketException(System.Net.WebSockets.WebSocketError.InvalidState);
            }

            // One buffer of the size this call needs (at most BatchBytes), so gathering never regrows it.
            var needed = 0;
            for (var i = 0; i < messages.Count && needed < BatchBytes; i++)
            {
                var length = messages[i].Length;
                needed += MaxHeader + (length <= BatchBytes ? length : 0);
            }

            Reserve(Math.Min(needed, BatchBytes));
            foreach (var message in messages)
            {
                if (_count + MaxHeader > BatchBytes)
                {
                    await WriteOutAsync(cancellationToken).ConfigureAwait(false);
                }

                Reserve(MaxHeader);
                _count += WriteHeader(_buffer.AsSpan(_count), message.Length);
                if (_count + message.Length <= BatchBytes)
                {
                    Reserve(message.Length);
                    message.Span.CopyTo(_buffer.AsSpan(_count));
                    _count += message.Length;
                    continue;
                }

                // Too large to gather: the header (and what came before it) goes first, then the message itself from its
                // own memory, in slices of the bound. The server's output pipe copies what it is given before it flushes:
                // an 11 MB snapshot written at once would take 11 MB of fresh pipe blocks (page faults, memory held per
                // connection while the client reads); a slice at a time keeps a few blocks in use, recycled.
                await WriteOutAsync(cancellationToken).ConfigureAwait(false);
                for (var offset = 0; offset < message.Length; offset += BatchBytes)
                {
                    InnerWrites++;
                    await inner.WriteAsync(message.Slice(offset, Math.Min(BatchBytes, message.Length - offset)), cancellationToken).ConfigureAwait(false);
                }
            }

            await WriteOutAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (_buffer is { } rented)
            {
                _buffer = null;
                _count = 0;
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }

            _gate.Release();
        }
    }

    /// <summary>Writes the header of an unmasked, final, binary frame of <paramref name="length"/> bytes; returns its size.</summary>
    internal static int WriteHeader(Span<byte> destination, int length)
    {
        destination[0] = 0x82;
        if (length <= 125)
        {
            destination[1] = (byte)length;
            return 2;
        }

        if (length <= ushort.MaxValue)
        {
            destination[1] = 126;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)length);
            return 4;
        }

        destination[1] = 127;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)length);
        return 10;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
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

    /// <summary>Makes room for <paramref name="bytes"/> more in the buffer (never beyond <see cref="BatchBytes"/>).</summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(_buffer))]
    private void Reserve(int bytes)
    {
        if (_buffer is null)
        {
            _buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(MinimumBytes, _count + bytes));
        }
        else if (_count + bytes > _buffer.Length)
        {
            var bigger = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(BatchBytes, Math.Max(_buffer.Length * 2, _count + bytes)));
            _buffer.AsSpan(0, _count).CopyTo(bigger);
            System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
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
        await inner.WriteAsync(_buffer!.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
    }
}
