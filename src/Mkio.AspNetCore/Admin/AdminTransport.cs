using System.Runtime.InteropServices;
using System.Threading.Channels;
using Mkio.Sessions;

namespace Mkio.AspNetCore.Admin;

/// <summary>
/// The transport of a session the admin page opens itself (a monitor tap streamed as server-sent
/// events, or one message sent from the form): frames go to a bounded channel read by the HTTP
/// response. Over <see cref="MaxQueuedBytes"/> or <see cref="MaxFrames"/> the transport overflows:
/// it refuses further frames (a monitor is then dropped by its service) and completes the channel,
/// so a slow browser costs at most that much memory.
/// </summary>
internal sealed class AdminTransport : IMkioTransport
{
    /// <summary>Frames queued at most.</summary>
    public const int MaxFrames = 1024;

    private readonly Channel<byte[]> _frames = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(MaxFrames) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private long _queuedBytes;
    private int _overflowed;

    public AdminTransport(long maxQueuedBytes) => MaxQueuedBytes = maxQueuedBytes;

    public long MaxQueuedBytes { get; }

    /// <summary>Bytes queued and not yet read by the response.</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    /// <summary>True once a frame was refused because the queue was full.</summary>
    public bool Overflowed => Volatile.Read(ref _overflowed) != 0;

    public bool TrySend(ReadOnlyMemory<byte> message)
    {
        if (Overflowed)
        {
            return false;
        }

        // Admin readers take whole arrays; a frame cut from a larger buffer (a snapshot) is copied.
        var frame = MemoryMarshal.TryGetArray(message, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : message.ToArray();

        var total = Interlocked.Add(ref _queuedBytes, frame.Length);
        if ((total > MaxQueuedBytes && total != frame.Length) || !_frames.Writer.TryWrite(frame))
        {
            Interlocked.Add(ref _queuedBytes, -frame.Length);
            CloseSlowConsumer(total);
            return false;
        }

        return true;
    }

    public bool TrySend(FrameBatch batch)
    {
        try
        {
            foreach (var frame in batch.Span)
            {
                if (!TrySend(frame))
                {
                    return false;
                }
            }

            return true;
        }
        finally
        {
            batch.Return();
        }
    }

    public void CloseSlowConsumer(long wouldBe)
    {
        Volatile.Write(ref _overflowed, 1);
        _frames.Writer.TryComplete();
    }

    /// <summary>Ends the stream of frames (the session is closing).</summary>
    public void Complete() => _frames.Writer.TryComplete();

    /// <summary>Waits for the next frame; null when the transport was completed.</summary>
    public async ValueTask<byte[]?> ReadAsync(CancellationToken cancellationToken)
    {
        while (await _frames.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_frames.Reader.TryRead(out var frame))
            {
                Interlocked.Add(ref _queuedBytes, -frame.Length);
                return frame;
            }
        }

        return null;
    }
}
