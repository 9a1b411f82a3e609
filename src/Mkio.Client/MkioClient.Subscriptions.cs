using System.Runtime.CompilerServices;
using System.Text.Json.Serialization.Metadata;
using System.Threading.Channels;

namespace Mkio.Client;

public sealed partial class MkioClient
{
    /// <summary>
    /// Subscribes to a subpub, stream or query service and yields its snapshot, delta and update
    /// messages, across reconnects, until the enumeration is stopped.
    /// </summary>
    /// <param name="service">The service to subscribe to. One subscription per service: a new one replaces (and ends) the previous one.</param>
    /// <param name="filter">A filter expression (honoured by services with <c>filterable</c> fields); <see langword="null"/> or empty for none.</param>
    /// <param name="fromRef">
    /// Resume from this ref (the last ref the consumer saw): the first message is then a delta of
    /// exactly the missed changes, or a snapshot when the ref is too old. <see langword="null"/> for a snapshot.
    /// </param>
    /// <param name="cancellationToken">Stops the enumeration (and unsubscribes).</param>
    /// <returns>The messages in arrival order. Apply them in order (see <see cref="MkioEvent"/>).</returns>
    /// <remarks>
    /// <para>
    /// The subscribe is sent when the enumeration starts. After a lost connection the client
    /// resubscribes with the filter and the ref of the last message it received, so the consumer
    /// sees no gap and no duplicate: the server answers with a delta of the changes missed in
    /// between, or with a snapshot (replace your state) when the ref is too old.
    /// </para>
    /// <para>
    /// The enumeration ends normally when another subscription to the same service replaces this
    /// one; it throws <see cref="MkioSubscriptionRejectedException"/> when the server rejects the
    /// subscription (a <c>nack</c>, e.g. a filter that does not parse; an unknown service),
    /// <see cref="MkioConnectionLostException"/> when the connection is lost with reconnect off,
    /// and <see cref="ObjectDisposedException"/> when the client is disposed. Stopping the
    /// enumeration sends an <c>unsubscribe</c>.
    /// </para>
    /// <para>Messages are queued without bound until consumed; consume them promptly.</para>
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="service"/> is null or empty.</exception>
    public IAsyncEnumerable<MkioEvent> SubscribeAsync(string service, string? filter = null, string? fromRef = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        return SubscribeCoreAsync(service, filter, fromRef, cancellationToken);
    }

    /// <summary>
    /// Subscribes like <see cref="SubscribeAsync(string, string?, string?, CancellationToken)"/>,
    /// deserializing rows to <typeparamref name="T"/> with <paramref name="rowTypeInfo"/> (trimming-safe).
    /// </summary>
    /// <typeparam name="T">The row type.</typeparam>
    /// <param name="service">The service to subscribe to (one subscription per service).</param>
    /// <param name="rowTypeInfo">
    /// Row metadata, e.g. from a source-generated <see cref="System.Text.Json.Serialization.JsonSerializerContext"/>.
    /// Non-finite floats arrive as the strings <c>"NaN"</c>/<c>"Infinity"</c>; allow
    /// <see cref="System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals"/> if rows can hold them.
    /// </param>
    /// <param name="filter">A filter expression; <see langword="null"/> for none.</param>
    /// <param name="fromRef">Resume from this ref; <see langword="null"/> for a snapshot.</param>
    /// <param name="cancellationToken">Stops the enumeration (and unsubscribes).</param>
    /// <returns>The messages with typed rows, in arrival order.</returns>
    /// <exception cref="ArgumentException"><paramref name="service"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rowTypeInfo"/> is null.</exception>
    public IAsyncEnumerable<MkioEvent<T>> SubscribeAsync<T>(string service, JsonTypeInfo<T> rowTypeInfo, string? filter = null, string? fromRef = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentNullException.ThrowIfNull(rowTypeInfo);
        return TypedAsync(SubscribeCoreAsync(service, filter, fromRef, default), rowTypeInfo, cancellationToken);
    }

    private static async IAsyncEnumerable<MkioEvent<T>> TypedAsync<T>(IAsyncEnumerable<MkioEvent> source, JsonTypeInfo<T> rowTypeInfo, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var e in source.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            yield return MkioEvent<T>.From(e, rowTypeInfo);
        }
    }

    private async IAsyncEnumerable<MkioEvent> SubscribeCoreAsync(string service, string? filter, string? fromRef, [EnumeratorCancellation] CancellationToken cancellationToken, MkioSubscribeOptions? later = null, bool resume = true)
    {
        var sub = await StartSubscriptionAsync(service, filter, fromRef, later, resume, cancellationToken).ConfigureAwait(false);
        try
        {
            var reader = sub.Events.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var e))
                {
                    yield return e;
                    if (e.HasMore)
                    {
                        // The consumer took the page: ask for the next one (paging follows the reader).
                        await RequestNextPageAsync(sub, e).ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            await EndSubscriptionAsync(sub).ConfigureAwait(false);
        }
    }

    private async Task<Subscription> StartSubscriptionAsync(string service, string? filter, string? fromRef, MkioSubscribeOptions? options, bool resume, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        filter = string.IsNullOrEmpty(filter) ? null : filter;
        fromRef = string.IsNullOrEmpty(fromRef) ? null : fromRef;
        var later = await LaterSubscriptionAsync(service, options, resume, cancellationToken).ConfigureAwait(false);
        var sub = new Subscription(service, filter, fromRef, later);
        Subscription? old;
        Connection? conn;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_started && !_connecting)
            {
                throw new InvalidOperationException("The mkio client is not connected: call ConnectAsync first.");
            }

            if (_state == MkioConnectionState.Closed)
            {
                throw new MkioConnectionLostException($"The connection to {_uri} was lost and {nameof(MkioClientOptions)}.{nameof(MkioClientOptions.Reconnect)} is off.");
            }

            _subscriptions.TryGetValue(sub.Key, out old);
            _subscriptions[sub.Key] = sub;

            // Otherwise the (re)connect sends it before the connection counts as open.
            conn = _state == MkioConnectionState.Open ? _connection : null;
        }

        old?.Complete(null);
        if (conn is not null)
        {
            try
            {
                await SendSubscribeAsync(conn, sub, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await EndSubscriptionAsync(sub).ConfigureAwait(false);
                throw;
            }
        }

        return sub;
    }

    /// <summary>Sends the subscribe for <paramref name="sub"/> on <paramref name="conn"/> unless it was already sent there or was replaced.</summary>
    private Task<bool> SendSubscribeAsync(Connection conn, Subscription sub, CancellationToken cancellationToken) =>
        SendFrameAsync(conn, sub, (c, s) =>
        {
            if (ReferenceEquals(s.SentOn, c) || !IsCurrent(s))
            {
                return null;
            }

            s.SentOn = c;
            if (s.Later is { } later)
            {
                // Without a snapshot nothing answers the subscribe: updates flow at once.
                s.AwaitingInitial = later.Options.Snapshot;
                if (s.AwaitingInitial)
                {
                    c.Register(new SubscribeMarker(s, s.Cursor));
                }

                return MkioMessages.SubscribeLater(s.Service, later.SubId, later.Protocol, s.Filter, s.Cursor, later.Options);
            }

            s.AwaitingInitial = true;
            c.Register(new SubscribeMarker(s, s.Cursor));
            return MkioMessages.Subscribe(s.Service, s.Filter, s.Cursor);
        }, cancellationToken);

    /// <summary>Removes <paramref name="sub"/> if it is current and tells the server (no reply is expected).</summary>
    private async Task EndSubscriptionAsync(Subscription sub)
    {
        Connection? conn = null;
        lock (_lock)
        {
            if (IsCurrent(sub))
            {
                _subscriptions.Remove(sub.Key);
                if (_state == MkioConnectionState.Open && sub.SentOn is { } sent && ReferenceEquals(sent, _connection))
                {
                    conn = sent;
                }
            }
        }

        sub.Complete(null);
        if (conn is null || _disposed)
        {
            return;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
            timeout.CancelAfter(CloseTimeout);

            // Skipped when a new subscription to the service was made meanwhile: its subscribe
            // replaces this one on the server, and an unsubscribe would end it.
            await SendFrameAsync(conn, sub, (_, s) => _subscriptions.ContainsKey(s.Key) ? null
                : s.Later is { } later ? MkioMessages.Unsubscribe(s.Service, later.SubId) : MkioMessages.Unsubscribe(s.Service), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Disposed or the connection is stuck: the server drops the subscription with the socket.
        }
    }

    private bool IsCurrent(Subscription sub) =>
        _subscriptions.TryGetValue(sub.Key, out var current) && ReferenceEquals(current, sub);

    /// <summary>One subscription: its filter, recovery cursor and queue of messages (state under the client lock).</summary>
    private sealed class Subscription(string service, string? filter, string? cursor, LaterSubscription? later)
    {
        private static readonly UnboundedChannelOptions ChannelOptions = new() { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false };

        public string Service => service;

        /// <summary>The later-protocol details; <see langword="null"/> for a 0.1.0 subscription.</summary>
        public LaterSubscription? Later => later;

        /// <summary>The routing key: the subid of a later subscription, else the service (one 0.1.0 subscription per service).</summary>
        public string Key => later?.SubId ?? service;

        public string? Filter => filter;

        /// <summary>The last non-empty ref delivered: sent on resubscribe.</summary>
        public string? Cursor { get; set; } = cursor;

        public Channel<MkioEvent> Events { get; } = Channel.CreateUnbounded<MkioEvent>(ChannelOptions);

        /// <summary>The connection the subscribe was last sent on.</summary>
        public Connection? SentOn { get; set; }

        /// <summary>The subscribe on <see cref="SentOn"/> has not been answered yet: updates before its answer belong to an older subscription.</summary>
        public bool AwaitingInitial { get; set; }

        public void Complete(Exception? error) => Events.Writer.TryComplete(error);
    }

    /// <summary>What a later subscribe carries besides filter and ref; <paramref name="Resume"/> false ends it on a lost connection.</summary>
    private sealed record LaterSubscription(string SubId, string? Protocol, MkioSubscribeOptions Options, bool Resume);
}
