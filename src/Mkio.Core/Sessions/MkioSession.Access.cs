using System.Text.Json;
using Microsoft.Extensions.Logging;
using Mkio.Later;
using Mkio.Protocol;
using Mkio.Security;
using Mkio.Services;

namespace Mkio.Sessions;

/// <summary>Access enforcement: the one check every message to a service passes when access control is on.</summary>
internal sealed partial class MkioSession
{
    /// <summary>Who is on this connection (set by the transport before the first message; anonymous by default).</summary>
    public MkioIdentity Identity { get; set; } = MkioIdentity.Anonymous;

    /// <summary>
    /// Refuses a message the connection's identity may not send to <paramref name="service"/>: a subscribe gets a
    /// nack, every other message an error; both go to the service's monitors as out. Unsubscribe and the built-in
    /// <c>_mkio</c> service are never checked. True when refused.
    /// </summary>
    private async ValueTask<bool> TryAccessRefusalAsync(MkioService service, Envelope envelope, CancellationToken ct)
    {
        var access = _engine.Access;
        var type = envelope.Type;
        var isType = type.ValueKind == JsonValueKind.String;
        if (!access.Enabled || service is IdentityService || (isType && type.ValueEquals("unsubscribe"u8)))
        {
            return false;
        }

        envelope.TryGet("op"u8, out var op);
        var refusal = await RefusalAsync(access.ForMessage(service.Name, op)).ConfigureAwait(false);
        if (refusal is null)
        {
            return false;
        }

        var root = envelope.Root;
        if (isType && type.ValueEquals("subscribe"u8))
        {
            await BarrierAsync(ct).ConfigureAwait(false);
            var nack = LaterProtocol.Nack(service.Name, refusal, root);
            TrySend(nack, service.Name);
            service.NotifyOut(nack);
            return true;
        }

        var error = AccessError(refusal, envelope.EchoRef ? envelope.RefElement : default, root, service.Name);
        await EnqueueAsync(PendingReply.Ready(error, service), ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Refuses a monitor request when access control is on: no applicable <c>monitor_access</c> → <c>monitoring
    /// disabled</c>, else the usual refusal. An unknown service is left to the monitor handler (reported first). True when refused.
    /// </summary>
    private async ValueTask<bool> TryMonitorRefusalAsync(string? serviceName, Envelope envelope)
    {
        var access = _engine.Access;
        if (!access.Enabled)
        {
            return false;
        }

        string? rule;
        if (string.IsNullOrEmpty(serviceName))
        {
            if (!_engine.Model.Options.LaterProtocol)
            {
                return false; // "Missing 'service' field"
            }

            rule = access.ForMonitor(null);
        }
        else if (!_engine.TryGetService(serviceName, out var service) || HiddenFrom(service, envelope.Root))
        {
            return false;
        }
        else
        {
            rule = access.ForMonitor(serviceName);
        }

        var refusal = rule is null ? AccessControl.MonitoringDisabled : await RefusalAsync(rule).ConfigureAwait(false);
        if (refusal is null)
        {
            return false;
        }

        TrySend(LaterProtocol.ErrorEcho(refusal, envelope.Root), serviceName);
        return true;
    }

    /// <summary>The refusal text for this connection under <paramref name="rule"/>; an authorizer failure is logged and denies.</summary>
    private async ValueTask<string?> RefusalAsync(string? rule)
    {
        try
        {
            return await AccessControl.RefuseAsync(Identity, rule).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.AuthorizationFailed(_engine.Logger, ex, Id, rule);
            return AccessControl.PermissionDenied;
        }
    }

    /// <summary><c>{"type":"error","message":M[,"ref"][,"msgid"][,"txnid"][,"reqid"],"service":S}</c>.</summary>
    private static byte[] AccessError(string message, JsonElement @ref, JsonElement root, string service) =>
        WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "error"u8);
            w.WritePropertyName("message"u8);
            WireJson.WriteString(w, message);
            if (@ref.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
            {
                w.WritePropertyName("ref"u8);
                WireJson.WriteValue(w, @ref);
            }

            foreach (var name in (ReadOnlySpan<string>)["msgid", "txnid", "reqid"])
            {
                if (root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null)
                {
                    w.WritePropertyName(name);
                    WireJson.WriteValue(w, v);
                }
            }

            w.WritePropertyName("service"u8);
            WireJson.WriteString(w, service);
            w.WriteEndObject();
        });

    private static partial class Log
    {
        [LoggerMessage(EventId = 4201, Level = LogLevel.Error, Message = "Authorization of access value '{Access}' failed on connection {ConnectionId}; the message is refused.")]
        public static partial void AuthorizationFailed(ILogger logger, Exception exception, long connectionId, string? access);
    }
}
