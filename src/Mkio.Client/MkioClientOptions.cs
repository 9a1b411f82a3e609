using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Mkio.Client;

/// <summary>Settings of an <see cref="MkioClient"/> (CLIENTS.md §5).</summary>
public sealed class MkioClientOptions
{
    /// <summary>
    /// Reconnect automatically after an unexpected close, with exponential backoff, and resubscribe
    /// every subscription from its last ref. Default <see langword="true"/>. When off, a lost
    /// connection leaves the client <see cref="MkioConnectionState.Closed"/>.
    /// </summary>
    public bool Reconnect { get; set; } = true;

    /// <summary>First reconnect delay; the delay doubles after each failed attempt and resets after a successful open. Default 100 ms.</summary>
    public TimeSpan BackoffBase { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Ceiling of the reconnect delay. Default 30 s.</summary>
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Limit for one <c>SendAsync</c>/<c>CheckAsync</c> call, including any wait for a reconnect;
    /// a call that takes longer throws <see cref="TimeoutException"/>. Default <see langword="null"/>: no limit.
    /// </summary>
    public TimeSpan? RequestTimeout { get; set; }

    /// <summary>
    /// Limit for opening the WebSocket (TCP connect and upgrade), for <see cref="MkioClient.ConnectAsync"/>
    /// and for every reconnect attempt. Default 10 s.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <see langword="false"/> (default): transactions sent without an explicit ref are ref-less, the
    /// server assigns refs in commit order and replies are correlated first-in first-out.
    /// <see langword="true"/>: every transaction carries a client-generated ref (the JavaScript
    /// client's behaviour), so it can be checked after a lost connection.
    /// </summary>
    public bool ClientRefs { get; set; }

    /// <summary>
    /// Which protocol generation the client speaks. Default <see cref="MkioProtocol.Later"/>: subscribes carry the
    /// service's <c>protocol</c> and a client-made <c>subid</c> (several subscriptions per service), transactions carry a
    /// <c>txnid</c>, and paging, <see cref="MkioClient.RequestAsync(string, System.Text.Json.Nodes.JsonObject?, CancellationToken)"/>
    /// and <see cref="MkioClient.IdentifyAsync"/> are available. <see cref="MkioProtocol.V010"/> sends exactly what an
    /// mkio 0.1.0 client sends (one subscription per service, deltas on resume).
    /// </summary>
    public MkioProtocol Protocol { get; set; } = MkioProtocol.Later;

    /// <summary>Clock for backoff delays, timeouts and client refs. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// The server's WebSocket URL, e.g. <c>ws://localhost:8080/ws</c>, for clients made by
    /// <see cref="MkioClientBuilder"/> and <see cref="IMkioClientFactory"/> (<c>services.AddMkioClient(o =&gt; o.Url = …)</c>).
    /// The <see cref="MkioClient(Uri, MkioClientOptions?)"/> constructor takes its URL as an argument instead.
    /// </summary>
    public Uri? Url { get; set; }

    /// <summary>
    /// Creates the client's logger (category <c>Mkio.Client.MkioClient</c>): connection losses, reconnect attempts and
    /// dropped messages. Default: no logging; clients from <see cref="IMkioClientFactory"/> use the container's factory.
    /// </summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Where the client logs. Superseded by <see cref="LoggerFactory"/>, which wins when both are set.</summary>
    [Obsolete("Set LoggerFactory instead; Logger keeps working until 1.0.")]
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Serializer options for the <c>SendAsync</c> overload that takes any object. Default
    /// <see cref="JsonSerializerOptions.Default"/>. The other overloads use the given
    /// <see cref="System.Text.Json.Serialization.Metadata.JsonTypeInfo{T}"/> or write JSON as is.
    /// </summary>
    public JsonSerializerOptions? SerializerOptions { get; set; }

    /// <summary>
    /// Adjusts each WebSocket before it connects (headers, proxy, certificates, keep-alive). The
    /// client sets <see cref="ClientWebSocketOptions.KeepAliveInterval"/> and
    /// <see cref="ClientWebSocketOptions.KeepAliveTimeout"/> to 15 s first, so a dead peer is noticed.
    /// </summary>
    public Action<ClientWebSocketOptions>? ConfigureWebSocket { get; set; }

    /// <summary>
    /// The user to log in as with the mkio login (the <c>auth</c> message and the server's users table or authenticator).
    /// When set, the client logs in right after opening every connection — the first and every reconnect — before it
    /// sends anything else, so subscriptions are resumed as that user. Requires <see cref="Password"/>.
    /// Default <see langword="null"/>: no login message.
    /// </summary>
    public string? UserName { get; set; }

    /// <summary>The password for <see cref="UserName"/>. It is sent only in the <c>auth</c> message and never logged.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// Supplies a bearer token for the host's ASP.NET Core authentication (e.g. JWT bearer), like SignalR's
    /// <c>AccessTokenProvider</c>. It is called before every connection attempt (so an expired token can be renewed),
    /// and a non-empty result is sent as the <c>Authorization: Bearer …</c> header of the WebSocket upgrade (not in
    /// the URL, where proxies and server logs would record it). Default <see langword="null"/>: no header.
    /// </summary>
    public Func<CancellationToken, ValueTask<string?>>? AccessTokenProvider { get; set; }

    /// <summary>A copy, so changes to the caller's instance after a client was created do not reach it.</summary>
    internal MkioClientOptions Clone() => (MkioClientOptions)MemberwiseClone();

    internal void Validate()
    {
        if (BackoffBase <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(BackoffBase), BackoffBase, $"{nameof(MkioClientOptions)}.{nameof(BackoffBase)} must be positive; got {BackoffBase}.");
        }

        if (BackoffMax < BackoffBase)
        {
            throw new ArgumentOutOfRangeException(nameof(BackoffMax), BackoffMax, $"{nameof(MkioClientOptions)}.{nameof(BackoffMax)} must be at least {nameof(BackoffBase)} ({BackoffBase}); got {BackoffMax}.");
        }

        if (RequestTimeout is { } t && t <= TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), t, $"{nameof(MkioClientOptions)}.{nameof(RequestTimeout)} must be positive or null; got {t}.");
        }

        if (ConnectTimeout <= TimeSpan.Zero && ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, $"{nameof(MkioClientOptions)}.{nameof(ConnectTimeout)} must be positive or Timeout.InfiniteTimeSpan; got {ConnectTimeout}.");
        }

        if (!Enum.IsDefined(Protocol))
        {
            throw new ArgumentOutOfRangeException(nameof(Protocol), Protocol, $"{nameof(MkioClientOptions)}.{nameof(Protocol)} must be {nameof(MkioProtocol.Later)} or {nameof(MkioProtocol.V010)}; got {(int)Protocol}.");
        }

        if (string.IsNullOrEmpty(UserName) != string.IsNullOrEmpty(Password))
        {
            throw new ArgumentException($"{nameof(MkioClientOptions)}.{nameof(UserName)} and {nameof(Password)} must be set together (both non-empty) or not at all.", string.IsNullOrEmpty(UserName) ? nameof(UserName) : nameof(Password));
        }

        if (TimeProvider is null)
        {
            throw new ArgumentNullException(nameof(TimeProvider), $"{nameof(MkioClientOptions)}.{nameof(TimeProvider)} must not be null.");
        }
    }
}

/// <summary>The protocol generation an <see cref="MkioClient"/> speaks (<see cref="MkioClientOptions.Protocol"/>).</summary>
public enum MkioProtocol
{
    /// <summary>
    /// The later protocol (mkio 0.1.x–1.x clients): <c>protocol</c> and <c>subid</c> on every subscribe, <c>txnid</c>
    /// on transactions, query paging, <c>reqrep</c> requests and the <c>_mkio</c> identity service.
    /// </summary>
    Later,

    /// <summary>Exactly the messages of an mkio 0.1.0 client.</summary>
    V010,
}

/// <summary>The state of an <see cref="MkioClient"/>'s connection.</summary>
public enum MkioConnectionState
{
    /// <summary>Not connected: before <see cref="MkioClient.ConnectAsync"/>, after a lost connection with reconnect off, or after disposal.</summary>
    Closed,

    /// <summary><see cref="MkioClient.ConnectAsync"/> is opening the first connection.</summary>
    Connecting,

    /// <summary>Connected; requests are sent at once.</summary>
    Open,

    /// <summary>The connection was lost; the client is reconnecting with backoff. Requests wait for it.</summary>
    Reconnecting,
}

/// <summary>Details of a lost connection (<see cref="MkioClient.Disconnected"/>).</summary>
public sealed class MkioDisconnectedEventArgs : EventArgs
{
    internal MkioDisconnectedEventArgs(Exception? exception, WebSocketCloseStatus? closeStatus, string? closeStatusDescription, bool willReconnect)
    {
        Exception = exception;
        CloseStatus = closeStatus;
        CloseStatusDescription = closeStatusDescription;
        WillReconnect = willReconnect;
    }

    /// <summary>Why the connection failed; <see langword="null"/> when the server closed it with a close frame.</summary>
    public Exception? Exception { get; }

    /// <summary>The server's close status (e.g. 1001 at shutdown), when it sent one.</summary>
    public WebSocketCloseStatus? CloseStatus { get; }

    /// <summary>The server's close reason text, when it sent one.</summary>
    public string? CloseStatusDescription { get; }

    /// <summary><see langword="true"/> when the client will reconnect (<see cref="MkioClientOptions.Reconnect"/>).</summary>
    public bool WillReconnect { get; }
}
