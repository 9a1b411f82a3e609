namespace Mkio.Sessions;

/// <summary>
/// The outbound side of one client connection, implemented by the transport (the WebSocket
/// handler). <see cref="TrySend(ReadOnlyMemory{byte})"/> only enqueues into the connection's bounded queue and never
/// waits on the network; it returns false when the connection is closed or its queue overflowed
/// (in which case the transport closes it with 1013).
/// </summary>
internal interface IMkioTransport
{
    bool TrySend(ReadOnlyMemory<byte> frame);

    /// <summary>
    /// Enqueues several frames at once, in order, as one entry of the queue (one bound check, one wake-up of the
    /// sender). The transport owns <paramref name="batch"/> from the call on and returns its array to the pool,
    /// also when it refuses the frames (false: closed, or the queue would overflow — then closed with 1013).
    /// </summary>
    bool TrySend(FrameBatch batch);

    /// <summary>The bound of the connection's outbound queue, in bytes.</summary>
    long MaxQueuedBytes { get; }

    /// <summary>
    /// Closes the connection as a slow consumer (1013, counted and logged like a queue overflow): used when
    /// frames held for it elsewhere (a subscriber whose reply is being built) would exceed <see cref="MaxQueuedBytes"/>.
    /// </summary>
    void CloseSlowConsumer(long wouldBe);
}
