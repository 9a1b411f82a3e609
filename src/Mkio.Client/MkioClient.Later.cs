using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Mkio.Client;

/// <summary>The calls of the later protocol generation: subscribe options, paged queries, reqrep requests, <c>_mkio</c>.</summary>
public sealed partial class MkioClient
{
    private const string IdentityService = "_mkio";
    private long _nextSubId;
    private long _nextTxnId;
    private IReadOnlyDictionary<string, string>? _serviceProtocols;
    private bool _noIdentity;

    /// <summary>
    /// Subscribes with later-protocol options (<c>fields</c>, paging, snapshot/updates flags, topics, an own subid)
    /// and yields the subscription's messages, across reconnects, until the enumeration is stopped.
    /// </summary>
    /// <param name="service">The service to subscribe to. Each later subscription has its own subid, so several may share a service.</param>
    /// <param name="options">What to ask for.</param>
    /// <param name="cancellationToken">Stops the enumeration (and unsubscribes this subid).</param>
    /// <returns>
    /// The messages in arrival order: a <see cref="MkioEventType.Snapshot"/>, with a paged snapshot followed by
    /// <see cref="MkioEventType.Page"/> events (the client asks for each next page once the consumer has taken the
    /// previous one), then <see cref="MkioEventType.Update"/> events. A row that stops matching the filter arrives as
    /// an update with op <c>delete</c>; <see cref="MkioEvent.RowKey"/> names the row.
    /// </returns>
    /// <remarks>
    /// After a lost connection the subscription is sent again: a query or subpub service answers with a new snapshot
    /// (replace your state), a stream service with the rows after the last ref.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="service"/> is null or empty, or an option is invalid.</exception>
    /// <exception cref="InvalidOperationException">A later option was given to a client set to <see cref="MkioProtocol.V010"/>.</exception>
    public IAsyncEnumerable<MkioEvent> SubscribeAsync(string service, MkioSubscribeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        var copy = CopyOf(options);
        return SubscribeCoreAsync(service, copy.Filter, copy.FromRef, cancellationToken, copy);
    }

    /// <summary>
    /// Subscribes like <see cref="SubscribeAsync(string, MkioSubscribeOptions, CancellationToken)"/>, deserializing
    /// rows to <typeparamref name="T"/> with <paramref name="rowTypeInfo"/> (trimming-safe).
    /// </summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="service">The service to subscribe to.</param>
    /// <param name="rowTypeInfo">Row metadata, e.g. from a source-generated <see cref="System.Text.Json.Serialization.JsonSerializerContext"/>.</param>
    /// <param name="options">What to ask for.</param>
    /// <param name="cancellationToken">Stops the enumeration (and unsubscribes).</param>
    /// <returns>The messages with typed rows, in arrival order.</returns>
    /// <exception cref="ArgumentException"><paramref name="service"/> is null or empty, or an option is invalid.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rowTypeInfo"/> is null.</exception>
    public IAsyncEnumerable<MkioEvent<T>> SubscribeAsync<T>(string service, JsonTypeInfo<T> rowTypeInfo, MkioSubscribeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentNullException.ThrowIfNull(rowTypeInfo);
        var copy = CopyOf(options);
        return TypedAsync(SubscribeCoreAsync(service, copy.Filter, copy.FromRef, default, copy), rowTypeInfo, cancellationToken);
    }

    /// <summary>
    /// Reads the current rows of a query service page by page (a snapshot-only subscription with <c>maxcount</c>):
    /// the next page is asked for (<c>getmore</c>) when the consumer has read the rows of the previous one.
    /// </summary>
    /// <param name="service">The query service.</param>
    /// <param name="filter">A filter expression; <see langword="null"/> for all rows.</param>
    /// <param name="pageSize">Rows per page (the server keeps the rest until they are read).</param>
    /// <param name="fields">Only these columns; <see langword="null"/> for all.</param>
    /// <param name="cancellationToken">Stops reading (and ends the query on the server).</param>
    /// <returns>The rows (each with its <c>_mkio_ref</c> and <c>_mkio_row</c> tags).</returns>
    /// <exception cref="ArgumentException"><paramref name="service"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pageSize"/> is not positive.</exception>
    /// <exception cref="InvalidOperationException">The client is set to <see cref="MkioProtocol.V010"/>, which has no paging.</exception>
    /// <remarks>The enumeration throws <see cref="MkioConnectionLostException"/> when the connection is lost mid-way (a query is not resumed).</remarks>
    public IAsyncEnumerable<JsonElement> QueryAsync(string service, string? filter = null, int pageSize = 100, IReadOnlyList<string>? fields = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        RequireLater(nameof(QueryAsync));
        var options = new MkioSubscribeOptions { Filter = filter, MaxCount = pageSize, Fields = fields is null ? null : [.. fields], Updates = false };
        return QueryCoreAsync(service, options, cancellationToken);
    }

    /// <summary>Sends a request to a <c>reqrep</c> service and waits for its reply.</summary>
    /// <param name="service">The reqrep service.</param>
    /// <param name="data">The request's data; <see langword="null"/> for <c>{}</c>.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The reply: <see cref="MkioReply.Value"/>, <see cref="MkioReply.Row"/> or <see cref="MkioReply.Rows"/>.</returns>
    /// <exception cref="MkioServerException">The server answered with an error (or a nack, e.g. an unknown service).</exception>
    /// <exception cref="MkioConnectionLostException">The connection was lost before the reply arrived.</exception>
    /// <exception cref="TimeoutException">No reply within <see cref="MkioClientOptions.RequestTimeout"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="service"/> is null or empty.</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConnectAsync"/> was not called.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public Task<MkioReply> RequestAsync(string service, JsonObject? data = null, CancellationToken cancellationToken = default) =>
        RequestCoreAsync(service, data ?? [], static (w, d) => d.WriteTo(w), cancellationToken);

    /// <summary>Sends a request whose data is a JSON object to a <c>reqrep</c> service and waits for its reply.</summary>
    /// <param name="service">The reqrep service.</param>
    /// <param name="data">The request's data (a JSON object).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The reply.</returns>
    /// <exception cref="MkioServerException">The server answered with an error (or a nack).</exception>
    /// <exception cref="MkioConnectionLostException">The connection was lost before the reply arrived.</exception>
    /// <exception cref="TimeoutException">No reply within <see cref="MkioClientOptions.RequestTimeout"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="data"/> is not a JSON object, or <paramref name="service"/> is empty.</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConnectAsync"/> was not called.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public Task<MkioReply> RequestAsync(string service, JsonElement data, CancellationToken cancellationToken = default)
    {
        if (data.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"The request data must be a JSON object; got {data.ValueKind}.", nameof(data));
        }

        return RequestCoreAsync(service, data, static (w, d) => d.WriteTo(w), cancellationToken);
    }

    /// <summary>
    /// Asks the server's built-in <c>_mkio</c> service who it is (config name and version, implementation and
    /// protocol versions, services and tables) and, when versions are given, whether it is compatible with them.
    /// </summary>
    /// <param name="version">The config version the caller was built for (e.g. <c>1.4</c>); <see langword="null"/> to skip.</param>
    /// <param name="protocol">The protocol version the caller needs (e.g. <c>1.0</c>); <see langword="null"/> to skip.</param>
    /// <param name="mkio">The server implementation version the caller needs; <see langword="null"/> to skip.</param>
    /// <param name="requireCompatible">Throw <see cref="MkioIncompatibleServerException"/> when a check fails.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The server's identity, with <see cref="MkioIdentity.Compatible"/> when versions were given.</returns>
    /// <exception cref="MkioIncompatibleServerException"><paramref name="requireCompatible"/> is set and the server failed a check.</exception>
    /// <exception cref="MkioServerException">The server has no <c>_mkio</c> service (an mkio 0.1.0 server).</exception>
    /// <exception cref="MkioConnectionLostException">The connection was lost before the reply arrived.</exception>
    /// <exception cref="InvalidOperationException"><see cref="ConnectAsync"/> was not called.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    /// <remarks>Versions compare as caret ranges: same major version and not older (for <c>0.x</c>: same minor version and not older).</remarks>
    public async Task<MkioIdentity> IdentifyAsync(string? version = null, string? protocol = null, string? mkio = null, bool requireCompatible = false, CancellationToken cancellationToken = default)
    {
        var data = new JsonObject();
        foreach (var (key, value) in (ReadOnlySpan<(string, string?)>)[("version", version), ("protocol", protocol), ("mkio", mkio)])
        {
            if (value is not null)
            {
                data[key] = value;
            }
        }

        var reply = await RequestAsync(IdentityService, data, cancellationToken).ConfigureAwait(false);
        var identity = new MkioIdentity(reply.Row);
        lock (_lock)
        {
            _serviceProtocols = identity.Services;
        }

        if (requireCompatible && identity.Compatible == false)
        {
            var failed = string.Join(", ", identity.Compatibility.Where(c => !c.Value).Select(c => c.Key));
            throw new MkioIncompatibleServerException(
                $"The mkio server at {_uri} is not compatible: {failed} (server version '{identity.Version}', protocol '{identity.Protocol}', mkio '{identity.Mkio}').", identity);
        }

        return identity;
    }

    private async IAsyncEnumerable<JsonElement> QueryCoreAsync(string service, MkioSubscribeOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var e in SubscribeCoreAsync(service, options.Filter, null, cancellationToken, options, resume: false).ConfigureAwait(false))
        {
            if (e.Rows.ValueKind == JsonValueKind.Array)
            {
                foreach (var row in e.Rows.EnumerateArray())
                {
                    yield return row;
                }
            }

            if (!e.HasMore)
            {
                yield break;
            }
        }
    }

    private Task<MkioReply> RequestCoreAsync<TState>(string service, TState data, Action<Utf8JsonWriter, TState> writeData, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var payload = MkioMessages.Request(service, _refs.Next(), data, writeData);
        return RequestReplyAsync(service, payload, cancellationToken);
    }

    private async Task<MkioReply> RequestReplyAsync(string service, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var reply = await ExchangeAsync(service, null, payload, cancellationToken).ConfigureAwait(false);
        ThrowIfError(service, reply);
        return new MkioReply(service, reply);
    }

    /// <summary>The txnid of a later transaction: the caller's id, else a client-made <c>_mkio_t&lt;n&gt;</c>.</summary>
    private JsonNode NextTxnId(JsonNode? given) =>
        given ?? JsonValue.Create(string.Create(CultureInfo.InvariantCulture, $"_mkio_t{Interlocked.Increment(ref _nextTxnId)}"));

    private static MkioSubscribeOptions CopyOf(MkioSubscribeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new MkioSubscribeOptions
        {
            Filter = options.Filter,
            FromRef = options.FromRef,
            Protocol = options.Protocol,
            SubId = options.SubId,
            Fields = options.Fields is null ? null : [.. options.Fields],
            MaxCount = options.MaxCount,
            Snapshot = options.Snapshot,
            Updates = options.Updates,
            Topics = options.Topics is null ? null : [.. options.Topics],
        };
    }

    private void RequireLater(string what)
    {
        if (_options.Protocol == MkioProtocol.V010)
        {
            throw new InvalidOperationException($"{what} needs the later protocol; this client is set to {nameof(MkioClientOptions)}.{nameof(MkioClientOptions.Protocol)} = {nameof(MkioProtocol.V010)}.");
        }
    }

    /// <summary>
    /// The later details of a new subscription, or <see langword="null"/> for a 0.1.0 one: a client set to
    /// <see cref="MkioProtocol.V010"/>, or a server without <c>_mkio</c> (mkio 0.1.0) and no later option asked for.
    /// </summary>
    private async Task<LaterSubscription?> LaterSubscriptionAsync(string service, MkioSubscribeOptions? options, bool resume, CancellationToken cancellationToken)
    {
        if (_options.Protocol == MkioProtocol.V010)
        {
            if (options is { IsLaterOnly: true })
            {
                RequireLater("A subscription with later options (protocol, subid, fields, maxcount, snapshot/updates, topics)");
            }

            return null;
        }

        options ??= new MkioSubscribeOptions();
        var protocol = options.Protocol;
        if (protocol is null)
        {
            var (known, found) = await ServiceProtocolAsync(service, cancellationToken).ConfigureAwait(false);
            if (!known)
            {
                if (options.IsLaterOnly)
                {
                    throw new InvalidOperationException($"The mkio server at {_uri} has no _mkio service (an mkio 0.1.0 server): later subscribe options are not available.");
                }

                return null;
            }

            protocol = found;
        }

        if (protocol == "subpub" && options.Topics is null && options is { SubId: null, Fields: null, MaxCount: null })
        {
            // The later protocol has no whole-cache subpub subscription: the 0.1.0 one (deltas on resume) is it.
            return null;
        }

        var subId = options.SubId ?? string.Create(CultureInfo.InvariantCulture, $"_mkio_s{Interlocked.Increment(ref _nextSubId)}");
        return new LaterSubscription(subId, protocol, options, resume);
    }

    /// <summary>
    /// The protocol of <paramref name="service"/> as the server's <c>_mkio</c> reports it (asked once, then cached).
    /// Known is false when the server has no <c>_mkio</c>; the protocol is null for a service it does not list.
    /// </summary>
    private async Task<(bool Known, string? Protocol)> ServiceProtocolAsync(string service, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_noIdentity)
            {
                return (false, null);
            }

            if (_serviceProtocols is { } cached && cached.TryGetValue(service, out var p))
            {
                return (true, p);
            }
        }

        try
        {
            var identity = await IdentifyAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return (true, identity.Services.GetValueOrDefault(service));
        }
        catch (MkioServerException ex) when (ex.Message.StartsWith("Unknown service", StringComparison.Ordinal))
        {
            lock (_lock)
            {
                _noIdentity = true;
            }

            return (false, null);
        }
    }

    /// <summary>Sends <c>getmore</c> for the page <paramref name="page"/> when it came on the connection the subscription still lives on.</summary>
    private async Task RequestNextPageAsync(Subscription sub, MkioEvent page)
    {
        Connection? conn;
        lock (_lock)
        {
            conn = page.Origin as Connection;
            if (conn is null || sub.Later is null || !IsCurrent(sub) || !ReferenceEquals(sub.SentOn, conn) || conn.Lost)
            {
                return;
            }
        }

        try
        {
            await SendFrameAsync(conn, sub, static (_, s) => MkioMessages.GetMore(s.Service, s.Later!.SubId), _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Disposed: the enumeration ends with it.
        }
    }

    private static void ThrowIfError(string service, JsonElement reply)
    {
        if (GetString(reply, "type") is "error" or "nack")
        {
            var message = GetString(reply, "message") ?? "The server answered with an error without a message.";
            JsonElement? msgId = reply.TryGetProperty("msgid"u8, out var m) && m.ValueKind != JsonValueKind.Null ? m
                : reply.TryGetProperty("txnid"u8, out var t) && t.ValueKind != JsonValueKind.Null ? t : null;
            throw new MkioServerException(message, service, GetString(reply, "ref"), msgId, reply);
        }
    }
}
