using System.Text.Json;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Sessions;

namespace Mkio.Services;

/// <summary>
/// Base of every service: a name, its compiled model, and the monitors tapping its traffic
/// (PROTOCOL.md §8). Services are created and started by the engine in config order.
/// </summary>
internal abstract class MkioService(ServiceModel model)
{
    private MkioSession[] _monitors = [];
    private readonly Lock _monitorLock = new();

    public ServiceModel Model { get; } = model;

    public string Name => Model.Name;

    /// <summary><c>transaction</c>, <c>subpub</c>, <c>stream</c>, <c>query</c> or a custom kind.</summary>
    public string Kind => Model.Type;

    public bool HasMonitors => Volatile.Read(ref _monitors).Length > 0;

    /// <summary>How many connections tap this service (admin page).</summary>
    public int MonitorCount => Volatile.Read(ref _monitors).Length;

    /// <summary>Rows the service holds in memory (a subpub cache, a stream buffer), or null when it keeps none (admin page).</summary>
    public virtual int? CachedRows => null;

    /// <summary>Entries in the service's change log (resume window) and its capacity, or null when it has none (admin page).</summary>
    public virtual (int Depth, int Capacity)? ChangeLogDepth => null;

    public virtual Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public virtual Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Handles <c>type:"subscribe"</c>. A service that has no subscriptions (a transaction service) answers with a
    /// <c>nack</c> — the subscription-rejection message of PROTOCOL.md §7.9, which no 0.1.0 client takes as the reply
    /// to a pending send — instead of the reference's silence (issue 9), and forwards it to its monitors.
    /// </summary>
    public virtual ValueTask SubscribeAsync(MkioSession session, Envelope envelope, CancellationToken cancellationToken)
    {
        var message = $"Service '{Name}' is a {Kind} service; it does not accept subscriptions (subscribe to a subpub, stream or query service)";
        MkioTelemetry.FailCurrent(MkioTelemetry.SubscribeSpan, message);
        var nack = Frames.NackReply(Name, message, envelope.RefKind == RefKind.String ? envelope.RefElement : default);
        session.TrySend(nack, Name);
        NotifyOut(nack);
        return ValueTask.CompletedTask;
    }

    /// <summary>Ends every subscription of <paramref name="session"/> (unsubscribe or disconnect).</summary>
    public virtual void Unsubscribe(MkioSession session)
    {
    }

    /// <summary>
    /// Handles every other message type. Returns the reply to queue in request order, or null when
    /// the service answers nothing. Transaction services execute or check; listener services answer
    /// with the F15 error.
    /// </summary>
    public abstract ValueTask<PendingReply?> HandleMessageAsync(MkioSession session, Envelope envelope, JsonDocument document, CancellationToken cancellationToken);

    public void AddMonitor(MkioSession session)
    {
        lock (_monitorLock)
        {
            if (Array.IndexOf(_monitors, session) < 0)
            {
                _monitors = [.. _monitors, session];
            }
        }
    }

    public void RemoveMonitor(MkioSession session)
    {
        lock (_monitorLock)
        {
            if (Array.IndexOf(_monitors, session) >= 0)
            {
                _monitors = [.. _monitors.Where(m => !ReferenceEquals(m, session))];
            }
        }
    }

    /// <summary>Forwards an inbound message to the monitors (before it is processed).</summary>
    public void NotifyIn(JsonElement message)
    {
        var monitors = Volatile.Read(ref _monitors);
        if (monitors.Length == 0)
        {
            return;
        }

        Broadcast(monitors, Frames.MonitorIn(Name, message));
    }

    /// <summary>Forwards an outbound frame to the monitors (after it was sent).</summary>
    public void NotifyOut(ReadOnlyMemory<byte> frame)
    {
        var monitors = Volatile.Read(ref _monitors);
        if (monitors.Length == 0)
        {
            return;
        }

        Broadcast(monitors, Frames.MonitorOut(Name, frame));
    }

    private void Broadcast(MkioSession[] monitors, byte[] envelope)
    {
        foreach (var m in monitors)
        {
            if (!m.TrySend(envelope, Name))
            {
                RemoveMonitor(m);
            }
        }
    }
}
