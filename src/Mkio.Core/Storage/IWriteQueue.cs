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
}
