using System.Text.Json;
using Mkio.Later;
using Mkio.Protocol;
using Mkio.Services;

namespace Mkio.Sessions;

/// <summary>Dispatch steps of the later protocol generations; a message without later markers never reaches them.</summary>
internal sealed partial class MkioSession
{
    /// <summary>
    /// True when <paramref name="service"/> is the built-in <c>_mkio</c> and the message is a 0.1.0 one (no later
    /// markers, later-protocol option off): a 0.1.0 client keeps getting the 0.1.0 unknown-service error.
    /// </summary>
    private bool HiddenFrom(MkioService service, JsonElement root) =>
        service is IdentityService && !_engine.Model.Options.LaterProtocol && !LaterProtocol.IsLater(root);

    /// <summary>Unknown service for a later message: a nack listing the visible services (not forwarded to monitors).</summary>
    private async ValueTask<bool> TryUnknownServiceNackAsync(string serviceName, JsonElement root, CancellationToken ct)
    {
        if (!LaterProtocol.IsLater(root))
        {
            return false;
        }

        var text = LaterProtocol.UnknownServiceText(serviceName, _engine.Model.Services.Select(s => s.Name));
        await EnqueueAsync(PendingReply.Ready(LaterProtocol.Nack(serviceName, text, root), null), ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Later checks before the service sees the message: a subscribe whose <c>protocol</c> is not the service's gets
    /// the mismatch nack; a <c>request</c> to a service that is not reqrep gets an error. Both go to monitors as out.
    /// </summary>
    private async ValueTask<bool> TryLaterRefusalAsync(MkioService service, Envelope envelope, CancellationToken ct)
    {
        var root = envelope.Root;
        var type = envelope.Type;
        if (type.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        if (type.ValueEquals("subscribe"u8)
            && root.TryGetProperty("protocol"u8, out var protocol) && protocol.ValueKind != JsonValueKind.Null
            && !(protocol.ValueKind == JsonValueKind.String && protocol.ValueEquals(service.Kind)))
        {
            await BarrierAsync(ct).ConfigureAwait(false);
            var requested = protocol.ValueKind == JsonValueKind.String ? $"'{protocol.GetString()}'" : PyRepr.Of(protocol);
            var nack = LaterProtocol.Nack(service.Name, $"Protocol mismatch: service '{service.Name}' is '{service.Kind}', not {requested}", root);
            TrySend(nack, service.Name);
            service.NotifyOut(nack);
            return true;
        }

        if (type.ValueEquals("request"u8) && service is not ReqRepService)
        {
            var error = LaterProtocol.Error(
                $"Service '{service.Name}' uses protocol '{service.Kind}', not 'reqrep'",
                envelope.EchoRef ? envelope.RefElement : default,
                LaterProtocol.Echo(root, "reqid"u8),
                null);
            await EnqueueAsync(PendingReply.Ready(error, service), ct).ConfigureAwait(false);
            return true;
        }

        return false;
    }

    /// <summary>
    /// With the later-protocol option, <c>{"type":"monitor"}</c> without a service taps every service (the built-in
    /// <c>_mkio</c> included) and is acknowledged with <c>{"type":"monitor_ack"[,"ref"]}</c>.
    /// </summary>
    private bool TryMonitorAll(string? serviceName, Envelope envelope)
    {
        if (!string.IsNullOrEmpty(serviceName) || !_engine.Model.Options.LaterProtocol)
        {
            return false;
        }

        foreach (var service in _engine.Services)
        {
            service.AddMonitor(this);
            lock (_lock)
            {
                if (!_monitoring.Contains(service))
                {
                    _monitoring.Add(service);
                }
            }
        }

        TrySend(LaterProtocol.MonitorAllAck(envelope.Ref), null);
        return true;
    }

    /// <summary>A later monitor request naming an unknown service: the later error text with <c>ref</c>/<c>txnid</c>; null for a 0.1.0 request.</summary>
    private byte[]? LaterUnknownMonitor(string serviceName, JsonElement root) =>
        LaterProtocol.IsLater(root)
            ? LaterProtocol.ErrorEcho(LaterProtocol.UnknownServiceText(serviceName, _engine.Model.Services.Select(s => s.Name)), root)
            : null;

    /// <summary>
    /// <c>{"type":"unsubscribe","service":S,"subid":I}</c> (a string subid) on a listener service: removes only that
    /// group of this connection; the service stays in the connection's list while other entries remain. No reply.
    /// </summary>
    private bool TryUnsubscribeGroup(MkioService service, JsonElement root)
    {
        if (service is not ListenerService listener
            || !root.TryGetProperty("subid"u8, out var subId) || subId.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        if (!listener.Unsubscribe(this, subId.GetString()!))
        {
            lock (_lock)
            {
                _subscribed.Remove(service);
            }
        }

        return true;
    }
}
