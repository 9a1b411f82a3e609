using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mkio.Client;

/// <summary>
/// A client for an mkio server: one WebSocket shared by concurrent callers, transactions and
/// checks correlated with their replies, subscriptions that survive reconnects without gaps or
/// duplicates (CLIENTS.md §5).
/// </summary>
/// <remarks>
/// <para>
/// Create it with the server's WebSocket URL (normally <c>ws://host:port/ws</c>), call
/// <see cref="ConnectAsync"/> once, then use it from any thread. When the connection drops the
/// client reconnects with exponential backoff (<see cref="MkioClientOptions.Reconnect"/>),
/// resubscribes every subscription from its last ref and raises <see cref="Connected"/> again.
/// Requests that were waiting for a reply on the lost connection fail with
/// <see cref="MkioConnectionLostException"/>; requests made while reconnecting wait for the new
/// connection.
/// </para>
/// <para>
/// <see cref="Connected"/> and <see cref="Disconnected"/> are raised one at a time, in order, on
/// the client's connection task; handlers must not block on requests of this client.
/// </para>
/// </remarks>
public sealed partial class MkioClient : IAsyncDisposable
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);
    private readonly Uri _uri;
    private readonly MkioClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MkioRefGenerator _refs;
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    private TaskCompletionSource<Connection> _open = NewOpenSignal();
    private Connection? _connection;
    private MkioConnectionState _state = MkioConnectionState.Closed;
    private bool _started;
    private bool _connecting;
    private Task? _supervisor;
    private volatile bool _disposed;

    /// <summary>Creates a client for the mkio server at <paramref name="url"/>; nothing is opened until <see cref="ConnectAsync"/>.</summary>
    /// <param name="url">The WebSocket URL, e.g. <c>ws://localhost:8080/ws</c> (scheme <c>ws</c> or <c>wss</c>).</param>
    /// <param name="options">Settings; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="url"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="url"/> is relative or its scheme is not <c>ws</c>/<c>wss</c>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public MkioClient(Uri url, MkioClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri)
        {
            throw new ArgumentException($"The mkio URL must be absolute, e.g. ws://localhost:8080/ws; got '{url.OriginalString}'.", nameof(url));
        }

        if (url.Scheme != Uri.UriSchemeWs && url.Scheme != Uri.UriSchemeWss)
        {
            throw new ArgumentException($"The mkio URL must use the ws or wss scheme, e.g. ws://localhost:8080/ws; got '{url.Scheme}' in '{url.OriginalString}'.", nameof(url));
        }

        _options = options?.Clone() ?? new MkioClientOptions();
        _options.Validate();
        _uri = url;
        _time = _options.TimeProvider;
#pragma warning disable CS0618 // the obsolete Logger keeps working until 1.0
        _logger = _options.LoggerFactory?.CreateLogger<MkioClient>() ?? _options.Logger ?? NullLogger.Instance;
#pragma warning restore CS0618
        _refs = new MkioRefGenerator(_time);
    }

    /// <summary>
    /// Raised after every successful connect and reconnect, once the subscriptions have been sent
    /// again (the JavaScript client's <c>onConnect</c>).
    /// </summary>
    public event EventHandler? Connected;

    /// <summary>Raised on every loss of the connection (not on disposal).</summary>
    public event EventHandler<MkioDisconnectedEventArgs>? Disconnected;

    /// <summary>The server URL.</summary>
    public Uri Url => _uri;

    /// <summary>The connection state.</summary>
    public MkioConnectionState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>
    /// Opens the connection. Subscriptions started while connecting are sent once it is open.
    /// Call it once: afterwards the client reconnects by itself.
    /// </summary>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>A task that completes when the connection is open.</returns>
    /// <exception cref="MkioConnectionException">The server refused or did not answer within <see cref="MkioClientOptions.ConnectTimeout"/>, or the upgrade failed.</exception>
    /// <exception cref="MkioLoginRefusedException">The login (<see cref="MkioClientOptions.UserName"/>) or the upgrade (401/403) was refused.</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConnectAsync"/> was already called successfully or is in progress.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started || _connecting)
            {
                throw new InvalidOperationException("ConnectAsync was already called; the client connects once and then reconnects by itself.");
            }

            _connecting = true;
            _state = MkioConnectionState.Connecting;
        }

        Connection? conn = null;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
            conn = await OpenAsync(linked.Token).ConfigureAwait(false);
            await LogInAsync(conn, linked.Token).ConfigureAwait(false);
            if (!await ActivateAsync(conn, linked.Token).ConfigureAwait(false))
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                throw new MkioConnectionException($"The connection to {_uri} was lost while it was being set up.", conn.AbortReason);
            }
        }
        catch (Exception ex)
        {
            conn?.Dispose();
            lock (_lock)
            {
                _connecting = false;
                if (!_disposed)
                {
                    _state = MkioConnectionState.Closed;
                    var failed = _open;
                    _open = NewOpenSignal();
                    Fail(failed, ex);
                }
            }

            if (_disposed && ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new ObjectDisposedException(nameof(MkioClient), "The mkio client was disposed while connecting.");
            }

            throw;
        }

        RaiseConnected();
        lock (_lock)
        {
            _connecting = false;
            _started = true;
            if (!_disposed)
            {
                // The receive loop starts after Connected, so events are raised in order.
                _supervisor = Task.Run(() => RunAsync(conn), CancellationToken.None);
            }
        }
    }

    /// <summary>Sends a transaction whose data is a JSON object and waits for its reply.</summary>
    /// <param name="service">The transaction service.</param>
    /// <param name="data">The field values (a JSON object).</param>
    /// <param name="op">The named op set, when the service has several.</param>
    /// <param name="ref">
    /// The transaction's ref; <see langword="null"/> to let the server assign one in commit order
    /// (or to generate one when <see cref="MkioClientOptions.ClientRefs"/> is on).
    /// </param>
    /// <param name="msgId">An opaque value the server echoes (any JSON value; a string converts implicitly).</param>
    /// <param name="cancellationToken">Stops waiting. The transaction may still commit.</param>
    /// <returns>The result, with the transaction's ref.</returns>
    /// <exception cref="MkioServerException">The server answered with an error (its message text is the exception's message).</exception>
    /// <exception cref="MkioConnectionLostException">The connection was lost before the reply arrived; the transaction may have committed.</exception>
    /// <exception cref="TimeoutException">No reply within <see cref="MkioClientOptions.RequestTimeout"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="data"/> is not a JSON object, or <paramref name="service"/> or <paramref name="ref"/> is empty.</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConnectAsync"/> was not called.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public Task<MkioResult> SendAsync(string service, JsonElement data, string? op = null, string? @ref = null, JsonNode? msgId = null, CancellationToken cancellationToken = default)
    {
        if (data.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"The transaction data must be a JSON object; got {data.ValueKind}.", nameof(data));
        }

        return SendCoreAsync(service, data, static (w, d) => d.WriteTo(w), op, @ref, msgId, cancellationToken);
    }

    /// <summary>Sends a transaction whose data is a <see cref="JsonObject"/> and waits for its reply.</summary>
    /// <param name="service">The transaction service.</param>
    /// <param name="data">The field values.</param>
    /// <param name="op">The named op set, when the service has several.</param>
    /// <param name="ref">The transaction's ref; <see langword="null"/> for a server-assigned one (see <see cref="MkioClientOptions.ClientRefs"/>).</param>
    /// <param name="msgId">An opaque value the server echoes.</param>
    /// <param name="cancellationToken">Stops waiting. The transaction may still commit.</param>
    /// <returns>The result, with the transaction's ref.</returns>
    /// <exception cref="MkioServerException">The server answered with an error.</exception>
    /// <exception cref="MkioConnectionLostException">The connection was lost before the reply arrived.</exception>
    /// <exception cref="TimeoutException">No reply within <see cref="MkioClientOptions.RequestTimeout"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="service"/> or <paramref name="ref"/> is empty.</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConnectAsync"/> was not called.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public Task<MkioResult> SendAsync(string service, JsonObject data, string? op = null, string? @ref = null, JsonNode? msgId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return SendCoreAsync(service, data, static (w, d) => d.WriteTo(w), op, @ref, msgId, cancellationToken);
    }

    /// <summary>Sends a transaction whose data is serialized with <paramref name="dataTypeInfo"/> (trimming-safe) and waits for its reply.</summary>
    /// <typeparam name="T">The data type; it must serialize to a JSON object.</typeparam>
    /// <param name="service">The transaction service.</param>
    /// <param name="data">The field values.</param>
    /// <param name="dataTypeInfo">Serialization metadata, e.g. from a source-generated <see cref="System.Text.Json.Serialization.JsonSerializerContext"/>.</param>
    /// <param name="op">The named op set, when the service has several.</param>
    /// <param name="ref">The transaction's ref; <see langword="null"/> for a server-assigned one (see <see cref="MkioClientOptions.ClientRefs"/>).</param>
    /// <param name="msgId">An opaque value the server echoes.</param>
    /// <param name="cancellationToken">Stops waiting. The transaction may still commit.</param>
    /// <returns>The result, with the transaction's ref.</returns>
    /// <exception cref="MkioServerException">The server answered with an error.</exception>
    /// <exception cref="MkioConnectionLostException">The connection was lost before the reply arrived.</exception>
    /// <exception cref="TimeoutException">No reply within <see cref="MkioClientOptions.RequestTimeout"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="service"/> or <paramref name="ref"/> is empty.</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConnectAsync"/> was not called.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public Task<MkioResult> SendAsync<T>(string service, T data, JsonTypeInfo<T> dataTypeInfo, string? op = null, string? @ref = null, JsonNode? msgId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataTypeInfo);
        return SendCoreAsync(service, (data, dataTypeInfo), static (w, s) => JsonSerializer.Serialize(w, s.data, s.dataTypeInfo), op, @ref, msgId, cancellationToken);
    }

    /// <summary>
    /// Sends a transaction whose data is any object (an anonymous object, a dictionary, a POCO),
    /// serialized by reflection with <see cref="MkioClientOptions.SerializerOptions"/>, and waits for its reply.
    /// </summary>
    /// <param name="service">The transaction service.</param>
    /// <param name="data">The field values; property names become the field names as serialized.</param>
    /// <param name="op">The named op set, when the service has several.</param>
    /// <param name="ref">The transaction's ref; <see langword="null"/> for a server-assigned one (see <see cref="MkioClientOptions.ClientRefs"/>).</param>
    /// <param name="msgId">An opaque value the server echoes.</param>
    /// <param name="cancellationToken">Stops waiting. The transaction may still commit.</param>
    /// <returns>The result, with the transaction's ref.</returns>
    /// <exception cref="MkioServerException">The server answered with an error.</exception>
    /// <exception cref="MkioConnectionLostException">The connection was lost before the reply arrived.</exception>
    /// <exception cref="TimeoutException">No reply within <see cref="MkioClientOptions.RequestTimeout"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="service"/> or <paramref name="ref"/> is empty.</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConnectAsync"/> was not called.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    [RequiresUnreferencedCode("Serializes data by reflection; use the overload that takes a JsonTypeInfo<T> when trimming.")]
    [RequiresDynamicCode("Serializes data by reflection; use the overload that takes a JsonTypeInfo<T> for native AOT.")]
    public Task<MkioResult> SendAsync(string service, object data, string? op = null, string? @ref = null, JsonNode? msgId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var options = _options.SerializerOptions ?? JsonSerializerOptions.Default;
        return SendCoreAsync(service, (data, options), static (w, s) => JsonSerializer.Serialize(w, s.data, s.data.GetType(), s.options), op, @ref, msgId, cancellationToken);
    }

    /// <summary>
    /// Asks a transaction service whether the transaction with <paramref name="ref"/> committed
    /// (PROTOCOL.md §6.6), e.g. after <see cref="MkioConnectionLostException"/>.
    /// </summary>
    /// <param name="service">The transaction service the transaction was sent to.</param>
    /// <param name="ref">The transaction's ref.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The result: <see cref="MkioResult.IsKnown"/> is <see langword="false"/> (status <c>unknown</c>) when the server has no record of the ref.</returns>
    /// <exception cref="MkioServerException">The server answered with an error (e.g. the service is not a transaction service).</exception>
    /// <exception cref="MkioConnectionLostException">The connection was lost before the reply arrived.</exception>
    /// <exception cref="TimeoutException">No reply within <see cref="MkioClientOptions.RequestTimeout"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="service"/> or <paramref name="ref"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConnectAsync"/> was not called.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public async Task<MkioResult> CheckAsync(string service, string @ref, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(@ref);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var reply = await ExchangeAsync(service, @ref, MkioMessages.Check(service, @ref), cancellationToken).ConfigureAwait(false);
        return ToResult(service, reply);
    }

    /// <summary>
    /// Closes the connection and stops reconnecting. Requests still waiting for a reply fail with
    /// <see cref="ObjectDisposedException"/>, and every subscription enumeration ends with it.
    /// </summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        Connection? conn;
        Task? supervisor;
        List<PendingRequest> pending = [];
        Subscription[] subs;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            conn = _connection;
            supervisor = _supervisor;
            _connection = null;
            _state = MkioConnectionState.Closed;
            if (conn is not null)
            {
                conn.Lost = true;
                conn.TakeAllPending(pending);
            }

            subs = [.. _subscriptions.Values];
            _subscriptions.Clear();
            if (_open.Task.IsCompleted)
            {
                _open = NewOpenSignal();
            }

            Fail(_open, Disposed());
        }

        conn?.MarkLossHandled();
        foreach (var p in pending)
        {
            p.Fail(Disposed());
        }

        foreach (var s in subs)
        {
            s.Complete(Disposed());
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        if (conn is not null)
        {
            await CloseOutputAsync(conn).ConfigureAwait(false);
        }

        if (supervisor is not null)
        {
            try
            {
                await supervisor.WaitAsync(CloseTimeout, _time).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                conn?.Abort(null);
                try
                {
                    await supervisor.WaitAsync(CloseTimeout, _time).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Disposed from a Connected/Disconnected handler, which runs on the connection task.
                }
            }
        }

        conn?.Dispose();
    }

    private static ObjectDisposedException Disposed() => new(nameof(MkioClient), "The mkio client was disposed.");

    private Task<MkioResult> SendCoreAsync<TState>(string service, TState data, Action<Utf8JsonWriter, TState> writeData, string? op, string? @ref, JsonNode? msgId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        if (@ref is { Length: 0 })
        {
            throw new ArgumentException("The ref must be null (assigned by the server or by ClientRefs) or a non-empty string.", nameof(@ref));
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        @ref ??= _options.ClientRefs ? _refs.Next() : null;
        var payload = _options.Protocol == MkioProtocol.Later
            ? MkioMessages.Send(service, data, writeData, op, null, @ref, NextTxnId(msgId))
            : MkioMessages.Send(service, data, writeData, op, msgId, @ref);
        return SendPayloadAsync(service, @ref, payload, cancellationToken);
    }

    private async Task<MkioResult> SendPayloadAsync(string service, string? @ref, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var reply = await ExchangeAsync(service, @ref, payload, cancellationToken).ConfigureAwait(false);
        return ToResult(service, reply);
    }

    /// <summary>Sends a request frame and waits for its <c>result</c>/<c>error</c>, across reconnects until it is sent.</summary>
    private async Task<JsonElement> ExchangeAsync(string service, string? @ref, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var limit = _options.RequestTimeout;
        using var timeout = limit is { } l && l != Timeout.InfiniteTimeSpan ? new CancellationTokenSource(l, _time) : null;
        using var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked?.Token ?? cancellationToken;
        try
        {
            while (true)
            {
                var conn = await GetOpenConnectionAsync(token).ConfigureAwait(false);
                var pending = new PendingRequest(service, @ref);
                var sent = await SendFrameAsync(conn, (pending, payload), static (c, s) =>
                {
                    c.Register(s.pending);
                    return s.payload;
                }, token).ConfigureAwait(false);
                if (sent)
                {
                    // A cancelled wait leaves the entry registered: its reply must still be consumed
                    // by it, or FIFO correlation would hand it to the next request.
                    return await pending.Task.WaitAsync(token).ConfigureAwait(false);
                }

                // Not sent: the connection is going away; try the next one once this one is gone.
                await conn.LossHandled.WaitAsync(token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (timeout is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No reply from service '{service}' within the request timeout of {Seconds(limit!.Value)}{(@ref is null ? string.Empty : $" (ref {@ref})")}.");
        }
    }

    private Task<Connection> GetOpenConnectionAsync(CancellationToken cancellationToken)
    {
        Task<Connection> open;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_state == MkioConnectionState.Open && _connection is { } c)
            {
                return Task.FromResult(c);
            }

            if (!_started && !_connecting)
            {
                throw new InvalidOperationException("The mkio client is not connected: call ConnectAsync first.");
            }

            open = _open.Task;
        }

        return open.WaitAsync(cancellationToken);
    }

    private static MkioResult ToResult(string service, JsonElement reply)
    {
        ThrowIfError(service, reply);
        return new MkioResult(service, reply);
    }

    internal static string? GetString(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string Seconds(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.###} s");

    private static TaskCompletionSource<Connection> NewOpenSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void Fail<T>(TaskCompletionSource<T> tcs, Exception exception)
    {
        if (tcs.TrySetException(exception))
        {
            // Observed here: nobody may be waiting for this signal.
            _ = tcs.Task.Exception;
        }
    }

    private void RaiseConnected()
    {
        try
        {
            Connected?.Invoke(this, EventArgs.Empty);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, nameof(Connected), ex);
        }
    }

    private void RaiseDisconnected(MkioDisconnectedEventArgs args)
    {
        try
        {
            Disconnected?.Invoke(this, args);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, nameof(Disconnected), ex);
        }
    }
}
