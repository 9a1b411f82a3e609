using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Mkio.AspNetCore.WebSockets;
using Mkio.Diagnostics;
using Mkio.Sessions;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>
/// Frames queued to one connection while its socket is busy go out together as one socket write
/// (<see cref="CoalescingStream"/> under the send loop), in order and byte-exact; outside a batch writes pass straight through.
/// </summary>
public class CoalescingStreamTests
{
    [Test, CancelAfter(30_000)]
    public async Task WriteMessages_FramesEverySizeExactly_GatheredUnderTheBound_LargeOnesFromTheirOwnMemoryInSlices(CancellationToken ct)
    {
        var inner = new RecordingStream();
        await using var stream = new CoalescingStream(inner);

        // Lengths around each header form (7-bit, 16-bit, 64-bit) and two messages larger than the gathering buffer.
        const int large = (CoalescingStream.BatchBytes * 5 / 2) + 7;
        byte[][] messages = [.. new[] { 0, 1, 125, 126, 127, 65_535, 65_536, 200, CoalescingStream.BatchBytes + 10, 3, large, 5 }
            .Select((n, i) => Enumerable.Range(0, n).Select(b => (byte)(b + i)).ToArray())];
        await stream.WriteMessagesAsync([.. messages.Select(m => (ReadOnlyMemory<byte>)m)], ct);

        // No write exceeds the bound: a large message goes out from its own memory in slices of the bound (the output
        // pipe under the stream copies what one write hands it before it flushes).
        var writes = inner.Writes;
        Assert.That(writes.Max(w => w.Length), Is.EqualTo(CoalescingStream.BatchBytes));
        Assert.That(writes.Count(w => w.Length == CoalescingStream.BatchBytes), Is.GreaterThanOrEqualTo(1 + 2), "the two large messages' full slices");
        Assert.That(writes, Has.Some.Length.EqualTo(10), "the first large message's last slice");
        Assert.That(writes, Has.Some.Length.EqualTo(large - (2 * CoalescingStream.BatchBytes)), "the second's");
        Assert.That(writes, Has.Count.LessThan(messages.Length + 3));
        Assert.That(stream.InnerWrites, Is.EqualTo(writes.Count));

        // A client reading those bytes sees each message whole, binary, in order.
        using var client = WebSocket.CreateFromStream(new MemoryStream([.. writes.SelectMany(w => w)]), new WebSocketCreationOptions { IsServer = false });
        var buffer = new byte[CoalescingStream.BatchBytes * 3];
        foreach (var expected in messages)
        {
            var r = await client.ReceiveAsync(buffer, ct);
            Assert.That(r.MessageType, Is.EqualTo(WebSocketMessageType.Binary));
            Assert.That(r.EndOfMessage, Is.True);
            Assert.That(buffer.AsSpan(0, r.Count).SequenceEqual(expected), Is.True, $"message of {expected.Length} bytes");
        }

        // The WebSocket's own writes (pongs, the close frame) pass straight through.
        var before = writes.Count;
        await stream.WriteAsync("ef"u8.ToArray(), ct);
        Assert.That(inner.Writes, Has.Count.EqualTo(before + 1));
        Assert.That(inner.Writes[^1], Is.EqualTo("ef"u8.ToArray()));
    }

    [Test, CancelAfter(30_000)]
    public async Task WriteMessages_AfterTheCloseFrame_Refused(CancellationToken ct)
    {
        var inner = new RecordingStream();
        var stream = new CoalescingStream(inner);
        using var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        stream.Owner = socket;
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, string.Empty, ct);
        var writes = inner.Writes.Count;
        Assert.ThrowsAsync<WebSocketException>(async () => await stream.WriteMessagesAsync(["x"u8.ToArray()], ct));
        Assert.That(inner.Writes, Has.Count.EqualTo(writes), "no data frame after the close frame");
    }

    [Test, CancelAfter(30_000)]
    public async Task SendLoop_FramesQueuedWhileTheSocketIsBusy_OneWriteInOrder(CancellationToken ct)
    {
        using var held = new HeldConnection(1 << 20);
        var (inner, stream, connection) = (held.Inner, held.Stream, held.Connection);

        Assert.That(connection.TrySend("""{"n":0}"""u8.ToArray()), Is.True);
        await inner.FirstWriteStarted.Task.WaitAsync(ct);
        for (var i = 1; i <= 5; i++)
        {
            Assert.That(connection.TrySend(Encoding.ASCII.GetBytes($$"""{"n":{{i}}}""")), Is.True);
        }

        held.ReleaseFirstWrite();
        await Eventually.WaitUntilAsync(() => inner.Writes.Count == 2 && connection.QueuedBytes == 0, "the held frame, then the five queued ones in one write", ct);
        Assert.That(stream.InnerWrites, Is.EqualTo(2));

        // A client reading those bytes sees six messages, in order.
        using var client = WebSocket.CreateFromStream(new MemoryStream([.. inner.Writes.SelectMany(w => w)]), new WebSocketCreationOptions { IsServer = false });
        var buffer = new byte[256];
        for (var i = 0; i <= 5; i++)
        {
            var r = await client.ReceiveAsync(buffer, ct);
            Assert.That(r.EndOfMessage, Is.True);
            Assert.That(Encoding.ASCII.GetString(buffer, 0, r.Count), Is.EqualTo($$"""{"n":{{i}}}"""));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SendLoop_BatchesBetweenSingleFrames_EachFrameAMessageInOrder_BatchArraysReturnedCleared(CancellationToken ct)
    {
        using var held = new HeldConnection(1 << 20);
        var (inner, connection) = (held.Inner, held.Connection);

        Assert.That(connection.TrySend(Message(0)), Is.True);
        await inner.FirstWriteStarted.Task.WaitAsync(ct);
        var (first, firstArray) = Batch(1, 5);
        var (second, secondArray) = Batch(7, 3);
        Assert.That(connection.TrySend(first), Is.True);
        Assert.That(connection.TrySend(Message(6)), Is.True);
        Assert.That(connection.TrySend(second), Is.True);
        Assert.That(connection.QueuedBytes, Is.EqualTo(first.Bytes + Message(6).Length + second.Bytes), "a batch counts against the bound with all its bytes");

        held.ReleaseFirstWrite();
        await Eventually.WaitUntilAsync(() => inner.Writes.Count == 2 && connection.QueuedBytes == 0, "the held frame, then the two batches and the frame between them in one write", ct);
        await AssertMessagesAsync(inner.Writes, 10, ct);

        // The connection gave each batch's array back to the pool, cleared: it keeps no frame alive.
        Assert.That(firstArray.All(m => m.IsEmpty) && secondArray.All(m => m.IsEmpty), Is.True);
    }

    [Test, CancelAfter(30_000)]
    public async Task SendLoop_WithoutTheCoalescingStream_BatchFramesSentOneMessageEach(CancellationToken ct)
    {
        // HTTP/2 and test servers: the WebSocket sends each message itself.
        var inner = new RecordingStream();
        using var socket = WebSocket.CreateFromStream(inner, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        using var connection = new MkioConnection(socket, 1 << 20, new MkioMetrics(), NullLogger.Instance);

        var (batch, array) = Batch(1, 4);
        Assert.That(connection.TrySend(Message(0)), Is.True);
        Assert.That(connection.TrySend(batch), Is.True);
        await Eventually.WaitUntilAsync(() => inner.Writes.Count == 5 && connection.QueuedBytes == 0, "five messages, one write each", ct);
        await AssertMessagesAsync(inner.Writes, 5, ct);
        Assert.That(array.All(m => m.IsEmpty), Is.True, "the batch's array went back to the pool");
    }

    [Test, CancelAfter(30_000)]
    public async Task TrySend_BatchWouldPassTheBound_RefusedWholeAndTheConnectionClosesWith1013(CancellationToken ct)
    {
        using var held = new HeldConnection(40);
        var (inner, connection) = (held.Inner, held.Connection);

        // A batch larger than the bound is taken into an empty queue whole, as a single large frame is.
        Assert.That(connection.TrySend(Message(0)), Is.True);
        await inner.FirstWriteStarted.Task.WaitAsync(ct);
        var (large, largeArray) = Batch(1, 6);
        Assert.That(large.Bytes, Is.GreaterThan(40));
        Assert.That(connection.TrySend(large), Is.True);

        // Behind it, a batch that would take the queue past the bound is refused as a whole and closes the connection.
        var (refused, refusedArray) = Batch(7, 2);
        Assert.That(connection.TrySend(refused), Is.False);
        Assert.That(refusedArray.All(m => m.IsEmpty), Is.True, "a refused batch's array goes back to the pool too");
        Assert.That(connection.IsClosing, Is.True);
        var (late, lateArray) = Batch(9, 1);
        Assert.That(connection.TrySend(late), Is.False, "nothing is queued once the connection closes");
        Assert.That(lateArray.All(m => m.IsEmpty), Is.True);

        held.ReleaseFirstWrite();
        await connection.SendLoop.WaitAsync(ct);
        var bytes = inner.Writes.SelectMany(w => w).ToArray();
        Assert.That(Encoding.ASCII.GetString(bytes), Does.Not.Contain("\"n\":1}"), "the queued batch was dropped with the overflow");
        Assert.That(largeArray.All(m => m.IsEmpty), Is.True, "a dropped batch's array goes back to the pool");
        Assert.That(connection.QueuedBytes, Is.Zero);

        // The last write is the close frame: 1013.
        var close = inner.Writes[^1];
        Assert.That(close[0], Is.EqualTo(0x88));
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(close.AsSpan(2)), Is.EqualTo(1013));
    }

    private static byte[] Message(int n) => Encoding.ASCII.GetBytes($$"""{"n":{{n}}}""");

    /// <summary>A batch of <paramref name="count"/> messages numbered from <paramref name="first"/>, in an array rented from the batches' pool.</summary>
    private static (FrameBatch Batch, ReadOnlyMemory<byte>[] Array) Batch(int first, int count)
    {
        var array = FrameBatch.Pool.Rent(count);
        long bytes = 0;
        for (var i = 0; i < count; i++)
        {
            array[i] = Message(first + i);
            bytes += array[i].Length;
        }

        return (new FrameBatch(array, count, bytes), array);
    }

    /// <summary>Reads the written bytes as a client: messages {"n":0} … {"n":count-1}, each whole, in order.</summary>
    private static async Task AssertMessagesAsync(List<byte[]> writes, int count, CancellationToken ct)
    {
        using var client = WebSocket.CreateFromStream(new MemoryStream([.. writes.SelectMany(w => w)]), new WebSocketCreationOptions { IsServer = false });
        var buffer = new byte[256];
        for (var i = 0; i < count; i++)
        {
            var r = await client.ReceiveAsync(buffer, ct);
            Assert.That(r.EndOfMessage, Is.True);
            Assert.That(Encoding.ASCII.GetString(buffer, 0, r.Count), Is.EqualTo($$"""{"n":{{i}}}"""));
        }
    }

    /// <summary>A connection over a <see cref="CoalescingStream"/> on a recording stream that holds its first write until released.</summary>
    private sealed class HeldConnection : IDisposable
    {
        private readonly WebSocket _socket;

        public HeldConnection(long maxQueuedBytes)
        {
            Stream = new CoalescingStream(Inner);
            _socket = WebSocket.CreateFromStream(Stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
            Stream.Owner = _socket;
            Connection = new MkioConnection(_socket, maxQueuedBytes, new MkioMetrics(), NullLogger.Instance, Stream);
        }

        public RecordingStream Inner { get; } = new() { HoldFirstWrite = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };

        public CoalescingStream Stream { get; }

        public MkioConnection Connection { get; }

        public void ReleaseFirstWrite() => Inner.HoldFirstWrite!.SetResult();

        public void Dispose()
        {
            Connection.Dispose();
            _socket.Dispose();
        }
    }

    /// <summary>Records each write; optionally holds the first one until released.</summary>
    private sealed class RecordingStream : Stream
    {
        private readonly Lock _lock = new();
        private readonly List<byte[]> _writes = [];

        public TaskCompletionSource? HoldFirstWrite { get; init; }

        public TaskCompletionSource FirstWriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<byte[]> Writes
        {
            get
            {
                lock (_lock)
                {
                    return [.. _writes];
                }
            }
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var copy = buffer.ToArray();
            bool first;
            lock (_lock)
            {
                first = _writes.Count == 0;
                _writes.Add(copy);
            }

            if (first && HoldFirstWrite is { } hold)
            {
                FirstWriteStarted.TrySetResult();
                await hold.Task.WaitAsync(cancellationToken);
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
