namespace Mkio.Client;

/// <summary>
/// What a subscription asks for (<see cref="MkioClient.SubscribeAsync(string, MkioSubscribeOptions, CancellationToken)"/>).
/// Everything but <see cref="Filter"/> and <see cref="FromRef"/> needs <see cref="MkioProtocol.Later"/>.
/// </summary>
public sealed class MkioSubscribeOptions
{
    /// <summary>A filter expression (honoured by services with <c>filterable</c> fields); <see langword="null"/> for none.</summary>
    public string? Filter { get; set; }

    /// <summary>Resume from this ref (stream services; a 0.1.0 subscription of any service); <see langword="null"/> for a snapshot.</summary>
    public string? FromRef { get; set; }

    /// <summary>
    /// The service's protocol (<c>subpub</c>, <c>stream</c>, <c>query</c>) sent as <c>protocol</c>; the server refuses
    /// the subscription when it differs. <see langword="null"/> (default): the client asks the server's <c>_mkio</c>
    /// service once and uses the protocol it reports.
    /// </summary>
    public string? Protocol { get; set; }

    /// <summary>The subscription id sent as <c>subid</c>; <see langword="null"/> (default) for a client-made <c>_mkio_s&lt;n&gt;</c>.</summary>
    public string? SubId { get; set; }

    /// <summary>Only these columns in every row (<c>fields</c>); <see langword="null"/> for all.</summary>
    public IReadOnlyList<string>? Fields { get; set; }

    /// <summary>
    /// Page the snapshot of a query service: at most this many rows per page (<c>maxcount</c>). The client asks for
    /// the next page (<c>getmore</c>) each time the consumer has taken a page with <see cref="MkioEvent.HasMore"/>, so
    /// the server keeps the rest until it is read; updates made meanwhile follow the last page.
    /// <see langword="null"/> (default): one snapshot.
    /// </summary>
    public int? MaxCount { get; set; }

    /// <summary>Send a snapshot first (<c>snapshot</c>, query services). Default <see langword="true"/>.</summary>
    public bool Snapshot { get; set; } = true;

    /// <summary>Send live updates (<c>updates</c>, query services); <see langword="false"/> for the snapshot only. Default <see langword="true"/>.</summary>
    public bool Updates { get; set; } = true;

    /// <summary>The topics of a topic-keyed subpub service (<c>topic</c>); <see langword="null"/> for none.</summary>
    public IReadOnlyList<string>? Topics { get; set; }

    internal bool IsLaterOnly =>
        Protocol is not null || SubId is not null || Fields is not null || MaxCount is not null || !Snapshot || !Updates || Topics is not null;

    internal void Validate()
    {
        if (MaxCount is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCount), MaxCount, $"{nameof(MkioSubscribeOptions)}.{nameof(MaxCount)} must be positive or null; got {MaxCount}.");
        }

        if (SubId is { Length: 0 })
        {
            throw new ArgumentException($"{nameof(MkioSubscribeOptions)}.{nameof(SubId)} must be null or non-empty.", nameof(SubId));
        }

        if (Topics is { Count: 0 })
        {
            throw new ArgumentException($"{nameof(MkioSubscribeOptions)}.{nameof(Topics)} must be null or hold at least one topic.", nameof(Topics));
        }
    }
}
