namespace Mkio.Storage;

/// <summary>
/// Where transaction services send their requests: the SQLite <see cref="WriteBatcher"/> or the PostgreSQL
/// writer (<see cref="Postgres.PostgresWriter"/>). A request completes after its batch committed and its
/// changes were handed to the <see cref="Changes.ChangeBus"/>.
/// </summary>
internal interface IWriteQueue
{
    /// <summary>Queues <paramref name="request"/> (waiting when the queue is full); a stopping writer fails it at once.</summary>
    ValueTask SubmitAsync(WriteRequest request, CancellationToken cancellationToken = default);

    /// <summary>Requests waiting in the queue.</summary>
    int QueueLength { get; }

    /// <summary>True once <see cref="StopAsync"/> began: new requests fail with <see cref="WriteBatcher.StoppingMessage"/>.</summary>
    bool IsStopping { get; }

    /// <summary>Stops accepting requests, drains within <paramref name="timeout"/>, answers what is left with the stopping error.</summary>
    Task StopAsync(TimeSpan timeout);

    /// <summary>Test hook: parks the writer between batches until the returned handle is disposed.</summary>
    Task<IDisposable> HoldAsync(CancellationToken cancellationToken = default);
}
