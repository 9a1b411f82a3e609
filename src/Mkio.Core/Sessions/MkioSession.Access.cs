using System.Text.Json;
using Microsoft.Extensions.Logging;
using Mkio.Later;
using Mkio.Protocol;
using Mkio.Security;
using Mkio.Services;
using Mkio.Storage;

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
        _pendingPreCheck = null;
        var access = _engine.Access;
        var type = envelope.Type;
        var isType = type.ValueKind == JsonValueKind.String;
        if (!access.Enabled || service is IdentityService || (isType && type.ValueEquals("unsubscribe"u8)))
        {
            return false;
        }

        envelope.TryGet("op"u8, out var op);
        var decision = await DecideAsync(access.ForMessage(service.Name, op)).ConfigureAwait(false);
        var refusal = decision.Refusal;
        if (decision.CheckSql is { } sql)
        {
            var check = new PreCheck(sql, CheckBinds(envelope));
            if (service is TransactionService && !(isType && type.ValueEquals("check"u8)))
            {
                // A transaction: the check runs inside the request's savepoint, atomic with its writes.
                _pendingPreCheck = check;
                return false;
            }

            refusal = await _engine.AccessCheckPassesAsync(check, ct).ConfigureAwait(false) ? null : AccessControl.PermissionDenied;
        }

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

        AccessRule? rule;
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

        string? refusal;
        if (rule is null)
        {
            refusal = AccessControl.MonitoringDisabled;
        }
        else
        {
            var decision = await DecideAsync(rule).ConfigureAwait(false);
            refusal = decision.Refusal;
            if (decision.CheckSql is { } sql)
            {
                var check = new PreCheck(sql, Identity.Values);
                refusal = await _engine.AccessCheckPassesAsync(check).ConfigureAwait(false) ? null : AccessControl.PermissionDenied;
            }
        }

        if (refusal is null)
        {
            return false;
        }

        TrySend(LaterProtocol.ErrorEcho(refusal, envelope.Root), serviceName);
        return true;
    }

    /// <summary>The SQL access check of the current transaction message, for its write request (taken once).</summary>
    private PreCheck? _pendingPreCheck;

    /// <summary>Takes the SQL access check the access decision left for the transaction being prepared, if any.</summary>
    public PreCheck? TakePreCheck()
    {
        var check = _pendingPreCheck;
        _pendingPreCheck = null;
        return check;
    }

    /// <summary>
    /// The decision for this connection under <paramref name="rule"/>, after the identity caught up with the users
    /// table; an authorizer or rights-table failure is logged and denies.
    /// </summary>
    private async ValueTask<AccessDecision> DecideAsync(AccessRule? rule)
    {
        try
        {
            Identity = _engine.AuthTables.Refresh(Identity);
            return await _engine.Access.DecideAsync(Identity, rule).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.AuthorizationFailed(_engine.Logger, ex, Id, rule?.Name ?? "(table)");
            return AccessDecision.Refuse(AccessControl.PermissionDenied);
        }
    }

    /// <summary>
    /// Binds of an SQL access check: the identity's values (<c>user</c>, <c>role</c>, further user columns), then each
    /// <c>data</c> field not already bound, then the subscribe's raw <c>topic</c>. Values only — never spliced.
    /// </summary>
    private Dictionary<string, object?> CheckBinds(Envelope envelope)
    {
        return PreCheck.Binds(Identity.Values, envelope.Root);
    }

    /// <summary>
    /// After a change to the rights or users table: ends each subscription this connection's identity may no longer
    /// make (its right was revoked) with an error naming the service. SQL checks are not re-run (they ran at subscribe).
    /// </summary>
    public async Task RecheckSubscriptionsAsync()
    {
        if (!Identity.IsAuthenticated || IsClosed)
        {
            return;
        }

        MkioService[] subscribed;
        lock (_lock)
        {
            subscribed = [.. _subscribed];
        }

        foreach (var service in subscribed)
        {
            var decision = await DecideAsync(_engine.Access.ForMessage(service.Name, default)).ConfigureAwait(false);
            if (decision.Refusal is not { } refusal)
            {
                continue;
            }

            bool was;
            lock (_lock)
            {
                was = _subscribed.Remove(service);
            }

            if (was)
            {
                service.Unsubscribe(this);
                TrySend(LaterProtocol.Error(refusal, default, default, service.Name), service.Name);
                Log.SubscriptionRevoked(_engine.Logger, Id, service.Name);
            }
        }
    }

    /// <summary><c>{"type":"error","message":M[,"ref"][,"msgid"][,"txnid"][,"reqid"],"service":S}</c>.</summary>
    internal static byte[] AccessError(string message, JsonElement @ref, JsonElement root, string service) =>
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

        [LoggerMessage(EventId = 4202, Level = LogLevel.Information, Message = "Connection {ConnectionId} lost the right to subscribe to {Service}; its subscription ended.")]
        public static partial void SubscriptionRevoked(ILogger logger, long connectionId, string service);
    }
}
