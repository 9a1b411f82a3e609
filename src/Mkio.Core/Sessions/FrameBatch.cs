using System.Buffers;

namespace Mkio.Sessions;

/// <summary>
/// Several frames handed to a connection at once (the updates one subscriber gets from one committed batch): the
/// first <see cref="Count"/> slots of <see cref="Frames"/>, an array rented from <see cref="Pool"/>, holding
/// <see cref="Bytes"/> bytes in all. Whoever ends up with it — the transport once it has taken the frames, or the
/// sender when they are refused — gives the array back with <see cref="Return()"/>.
/// </summary>
internal readonly struct FrameBatch(ReadOnlyMemory<byte>[] frames, int count, long bytes)
{
    /// <summary>
    /// The arrays batches are rented from. Not the shared pool: a committed batch rents one array per subscriber at
    /// once on the listener's thread and the connections return them on theirs, which the shared pool's small
    /// per-thread and per-core caches cannot keep up with (measured: most rents allocated). This one keeps up to
    /// 1,024 arrays per size, sized up to 512 frames; larger or surplus arrays come from and go to the heap.
    /// </summary>
    public static ArrayPool<ReadOnlyMemory<byte>> Pool { get; } = ArrayPool<ReadOnlyMemory<byte>>.Create(maxArrayLength: 512, maxArraysPerBucket: 1024);

    /// <summary>The rented array; its first <see cref="Count"/> slots are the frames, in order.</summary>
    public ReadOnlyMemory<byte>[] Frames { get; } = frames;

    /// <summary>How many frames the batch holds.</summary>
    public int Count { get; } = count;

    /// <summary>The frames' total length.</summary>
    public long Bytes { get; } = bytes;

    /// <summary>The frames, in order.</summary>
    public ReadOnlySpan<ReadOnlyMemory<byte>> Span => Frames.AsSpan(0, Count);

    /// <summary>Gives the array back to the pool, cleared so it keeps no frame alive.</summary>
    public void Return() => Return(Frames);

    /// <summary>Gives a batch's array back to <see cref="Pool"/>, cleared so it keeps no frame alive.</summary>
    public static void Return(ReadOnlyMemory<byte>[] frames) => Pool.Return(frames, clearArray: true);
}
