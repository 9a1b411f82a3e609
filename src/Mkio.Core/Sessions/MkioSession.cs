using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Mkio.Protocol;
using Mkio.Services;

namespace Mkio.Sessions;

/// <summary>
/// One client connection's protocol state (PROTOCOL.md §5, §10): dispatches inbound messages in
/// arrival order, keeps replies in request order while transactions of the same connection are
/// pipelined into the writer (fix F17), and tracks subscriptions and monitor registrations.
/// </summary>
internal sealed partial class MkioSession : IAsyncDisposable
{
    private const int MaxInFlight = 1024;
    private static long _nextId;
    private readonly MkioEngine _engine;
    private readonly IMkioTransport _transport;
    private readonly string? _urlService;
    private readonly Channel<PendingReply> _replies;
    private readonly Task _pump;
    private readonly Lock _lock = new();
    private readonly List<MkioService> _subscribed = [];
    private readonly List<MkioService> _monitoring = [];
    private int _outstanding;
    private int _closed;

    public MkioSession(MkioEngine engine, IMkioTransport transport, string? urlService)
    {
        _engine = engine;
        _transport = transport;
        _urlService = urlService;
        Id = Interlocked.Increment(ref _nextId);
        ConnectionContext = System.Diagnostics.Activity.Current?.Context ?? default;
        _replies = Channel.CreateBounded<PendingReply>(new BoundedChannelOptions(MaxInFlight) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });
        _pump = Task.Run(PumpAsync);
    }

    public long Id { get; }

    /// <summary>The connection this session speaks through (admin page: its queue).</summary>
    public IMkioTransport Transport => _transport;

    /// <summary>The span the connection was accepted in (its HTTP request), linked from the spans of its requests.</summary>
    public System.Diagnostics.ActivityContext ConnectionContext { get; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Queues a frame for this connection; false when the connection is gone.</summary>
    public bool TrySend(ReadOnlyMemory<byte> frame, string? service)
    {
        if (IsClosed)
        {
            return false;
        }

        if (!_transport.TrySend(frame))
        {
            return false;
        }

        _engine.Metrics.MessagesOut(service, 1, frame.Length);
        return true;
    }

    /// <summary>Queues several frames for this connection at once (see <see cref="IMkioTransport.TrySend(FrameBatch)"/>); false when the connection is gone. Takes <paramref name="batch"/> in every case.</summary>
    public bool TrySend(FrameBatch batch, string? service)
    {
        if (IsClosed)
        {
            batch.Return();
            return false;
        }

        var count = batch.Count;
        var bytes = batch.Bytes;
        if (!_transport.TrySend(batch))
        {
            return false;
        }

        _engine.Metrics.MessagesOut(service, count, bytes);
        return true;
    }

    /// <summary>The bound of the connection's outbound queue, in bytes (frames held for it elsewhere stay within it too).</summary>
    public long MaxQueuedBytes => _transport.MaxQueuedBytes;

    /// <summary>Closes the connection with 1013 as a slow consumer (see <see cref="IMkioTransport.CloseSlowConsumer"/>).</summary>
    public void CloseSlowConsumer(long wouldBe) => _transport.CloseSlowConsumer(wouldBe);

    /// <summary>Handles one inbound message. Called sequentially by the transport's receive loop.</summary>
    public async ValueTask HandleAsync(ReadOnlyMemory<byte> utf8, CancellationToken cancellationToken)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8.Span))
        {
            // Not JSON text (RFC 8259 §8.1); System.Text.Json would only fail later, when a string is read.
            await EnqueueAsync(PendingReply.Ready(Frames.ErrorReply("Invalid JSON: the message is not valid UTF-8", default, default), null), cancellationToken).ConfigureAwait(false);
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException ex)
        {
            // PROTOCOL.md §2: like the reference, accept Python's bare NaN/Infinity/-Infinity as data values.
            if (ParseWithNonFiniteData(utf8.Span) is not { } rewritten)
            {
                await EnqueueAsync(PendingReply.Ready(Frames.ErrorReply(JsonErrorText(ex), default, default), null), cancellationToken).ConfigureAwait(false);
                return;
            }

            document = rewritten;
        }

        var disposeDocument = true;
        try
        {
            disposeDocument = await DispatchAsync(document, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (ex is not ChannelClosedException && ex.InnerException is null && !cancellationToken.IsCancellationRequested)
        {
            // Valid JSON whose strings cannot be decoded (e.g. a lone surrogate escape "\ud800"):
            // answer like any other unreadable message and keep the connection open.
            await EnqueueAsync(PendingReply.Ready(Frames.ErrorReply("Invalid JSON: a string contains an invalid Unicode escape", default, default), null), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (disposeDocument)
            {
                document.Dispose();
            }
        }
    }

    // The service name of the last message (any thread may read or replace it: it is only reused when equal).
    private string? _lastServiceName;

    /// <summary>Returns false when a queued reply took ownership of the document.</summary>
    private async ValueTask<bool> DispatchAsync(JsonDocument document, CancellationToken ct)
    {
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            await EnqueueAsync(PendingReply.Ready(Frames.ErrorReply("Message must be a JSON object", default, default), null), ct).ConfigureAwait(false);
            return true;
        }

        var envelope = new Envelope(root, _urlService);
        var type = envelope.Type;
        var isType = type.ValueKind == JsonValueKind.String;
        var echoRef = envelope.EchoRef ? envelope.RefElement : default;

        string? serviceName;
        JsonElement serviceElement = envelope.ServiceElement;
        if (_urlService is not null)
        {
            serviceName = _urlService;
        }
        else if (serviceElement.ValueKind == JsonValueKind.String)
        {
            // Most connections talk to one or two services: reuse the last name's string when it matches.
            serviceName = _lastServiceName is { } last && serviceElement.ValueEquals(last) ? last : serviceElement.GetString();
            _lastServiceName = serviceName;
        }
        else if (serviceElement.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            serviceName = null;
        }
        else
        {
            // F11: arrays/objects/numbers as service names get "Unknown service: <JSON text>".
            _engine.Metrics.MessageIn(null);
            await EnqueueAsync(PendingReply.Ready(Frames.ErrorReply($"Unknown service: {PyRepr.Compact(serviceElement)}", echoRef, envelope.Echo), null), ct).ConfigureAwait(false);
            return true;
        }

        _engine.Metrics.MessageIn(serviceName);
        if (isType && type.ValueEquals("auth"u8))
        {
            await HandleAuthAsync(root, ct).ConfigureAwait(false);
            return true;
        }

        if (isType && type.ValueEquals("monitor"u8))
        {
            await BarrierAsync(ct).ConfigureAwait(false);
            if (!await TryMonitorRefusalAsync(serviceName, envelope).ConfigureAwait(false))
            {
                HandleMonitor(serviceName, envelope, echoRef);
            }

            return true;
        }

        if (string.IsNullOrEmpty(serviceName))
        {
            await EnqueueAsync(PendingReply.Ready(Frames.ErrorReply("Missing 'service' field", echoRef, envelope.Echo), null), ct).ConfigureAwait(false);
            return true;
        }

        if (!_engine.TryGetService(serviceName, out var service) || HiddenFrom(service, root))
        {
            if (!await TryUnknownServiceNackAsync(serviceName, root, ct).ConfigureAwait(false))
            {
                await EnqueueAsync(PendingReply.Ready(Frames.ErrorReply($"Unknown service: {serviceName}", echoRef, envelope.Echo), null), ct).ConfigureAwait(false);
            }

            return true;
        }

        service.NotifyIn(root);
        if (await TryAccessRefusalAsync(service, envelope, ct).ConfigureAwait(false)
            || await TryLaterRefusalAsync(service, envelope, ct).ConfigureAwait(false))
        {
            return true;
        }

        if (isType && type.ValueEquals("subscribe"u8))
        {
            await BarrierAsync(ct).ConfigureAwait(false);
            lock (_lock)
            {
                if (!_subscribed.Contains(service))
                {
                    _subscribed.Add(service);
                }
            }

            using var activity = MkioTelemetry.StartRequest(MkioTelemetry.SubscribeSpan, ConnectionContext, service.Name, service.Kind);
            await service.SubscribeAsync(this, envelope, ct).ConfigureAwait(false);
            return true;
        }

        if (isType && type.ValueEquals("unsubscribe"u8))
        {
            await BarrierAsync(ct).ConfigureAwait(false);
            if (TryUnsubscribeGroup(service, root))
            {
                return true;
            }

            bool was;
            lock (_lock)
            {
                was = _subscribed.Remove(service);
            }

            if (was)
            {
                service.Unsubscribe(this);
            }

            return true;
        }

        if (isType && type.ValueEquals("getmore"u8) && service is Mkio.Services.Listeners.QueryService query)
        {
            await BarrierAsync(ct).ConfigureAwait(false);
            await query.GetMoreAsync(this, root, ct).ConfigureAwait(false);
            return true;
        }

        if (isType && type.ValueEquals("check"u8))
        {
            await BarrierAsync(ct).ConfigureAwait(false);
        }

        var reply = await service.HandleMessageAsync(this, envelope, document, ct).ConfigureAwait(false);
        if (reply is null)
        {
            return true;
        }

        await EnqueueAsync(reply, ct).ConfigureAwait(false);
        return !ReferenceEquals(reply.Owned, document);
    }

    private void HandleMonitor(string? serviceName, Envelope envelope, JsonElement echoRef)
    {
        byte[] frame;
        if (TryMonitorAll(serviceName, envelope))
        {
            return;
        }

        if (string.IsNullOrEmpty(serviceName))
        {
            frame = Frames.ErrorReply("Missing 'service' field", echoRef, envelope.Echo);
        }
        else if (!_engine.TryGetService(serviceName, out var service) || HiddenFrom(service, envelope.Root))
        {
            frame = LaterUnknownMonitor(serviceName, envelope.Root) ?? Frames.ErrorReply($"Unknown service: {serviceName}", echoRef, envelope.Echo);
        }
        else
        {
            service.AddMonitor(this);
            lock (_lock)
            {
                if (!_monitoring.Contains(service))
                {
                    _monitoring.Add(service);
                }
            }

            frame = Frames.MonitorAckReply(serviceName, envelope.Ref);
        }

        TrySend(frame, serviceName);
    }

    /// <summary>
    /// The message parsed with the non-finite tokens inside its <c>data</c> replaced by this process's markers
    /// (turned back into floats when bound, and into the bare tokens when echoed), or null when that does not help.
    /// </summary>
    private static JsonDocument? ParseWithNonFiniteData(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IndexOfAny("NI"u8) < 0 || Mkio.Protocol.Json.NonFiniteJson.RewriteInboundData(System.Text.Encoding.UTF8.GetString(utf8)) is not { } text)
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string JsonErrorText(JsonException ex)
    {
        var line = (ex.LineNumber ?? 0) + 1;
        var column = (ex.BytePositionInLine ?? 0) + 1;
        var reason = ex.Message;
        var cut = reason.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
        }

        if (cut > 0)
        {
            reason = reason[..cut];
        }

        return $"Invalid JSON: {reason.TrimEnd('.', ' ')} (line {line} column {column})";
    }

    private async ValueTask EnqueueAsync(PendingReply reply, CancellationToken ct)
    {
        Interlocked.Increment(ref _outstanding);
        if (!_replies.Writer.TryWrite(reply))
        {
            try
            {
                await _replies.Writer.WriteAsync(reply, ct).ConfigureAwait(false);
            }
            catch
            {
                Interlocked.Decrement(ref _outstanding);
                reply.Owned?.Dispose();
                throw;
            }
        }
    }

    /// <summary>Waits until every earlier reply of this connection has been sent (F17 ordering).</summary>
    private async ValueTask BarrierAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref _outstanding) == 0)
        {
            return;
        }

        var barrier = new BarrierReply();
        await EnqueueAsync(barrier, ct).ConfigureAwait(false);
        await barrier.Reached.Task.WaitAsync(ct).ConfigureAwait(false);
    }

    private async Task PumpAsync()
    {
        var reader = _replies.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var reply))
            {
                try
                {
                    var frame = await reply.ResolveAsync().ConfigureAwait(false);
                    if (frame is not null)
                    {
                        TrySend(frame, reply.MonitorService?.Name);
                        reply.MonitorService?.NotifyOut(frame);
                    }
                }
                catch (Exception ex)
                {
                    Log.ReplyFailed(_engine.Logger, ex, Id);
                }
                finally
                {
                    reply.Owned?.Dispose();
                    Interlocked.Decrement(ref _outstanding);
                }
            }
        }
    }

    /// <summary>
    /// Ends the session: waits for queued replies (so every accepted request is answered while the
    /// transport can still send), then removes subscriptions and monitor registrations.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _replies.Writer.TryComplete();
        try
        {
            await _pump.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ReplyFailed(_engine.Logger, ex, Id);
        }

        MkioService[] subs, mons;
        lock (_lock)
        {
            subs = [.. _subscribed];
            mons = [.. _monitoring];
            _subscribed.Clear();
            _monitoring.Clear();
        }

        foreach (var s in subs)
        {
            try
            {
                s.Unsubscribe(this);
            }
            catch (Exception ex)
            {
                Log.ReplyFailed(_engine.Logger, ex, Id);
            }
        }

        foreach (var m in mons)
        {
            m.RemoveMonitor(this);
        }
    }

    /// <summary>Waits until every queued reply has been resolved and sent (used at shutdown).</summary>
    public Task DrainAsync(CancellationToken cancellationToken) => BarrierAsync(cancellationToken).AsTask();

    private sealed class BarrierReply() : PendingReply(null)
    {
        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override ValueTask<byte[]?> ResolveAsync()
        {
            Reached.TrySetResult();
            return ValueTask.FromResult<byte[]?>(null);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "Failed to produce a reply on connection {ConnectionId}.")]
        public static partial void ReplyFailed(ILogger logger, Exception exception, long connectionId);
    }
}
