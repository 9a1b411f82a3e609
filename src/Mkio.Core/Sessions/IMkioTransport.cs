namespace Mkio.Sessions;

/// <summary>
/// The outbound side of one client connection, implemented by the transport (the WebSocket
/// handler). <see cref="TrySend"/> only enqueues into the connection's bounded queue and never
/// waits on the network; it returns false when the connection is closed or its queue overflowed
/// (in which case the transport closes it with 1013).
/// </summary>
internal interface IMkioTransport
{
    bool TrySend(ReadOnlyMemory<byte> frame);

    /// <summary>The bound of the connection's outbound queue, in bytes.</summary>
    long MaxQueuedBytes { get; }

    /// <summary>
    /// Closes the connection as a slow consumer (1013, counted and logged like a queue overflow): used when
    /// frames held for it elsewhere (a subscriber whose reply is being built) would exceed <see cref="MaxQueuedBytes"/>.
    /// </summary>
    void CloseSlowConsumer(long wouldBe);
}
