using System.Collections.Frozen;
using System.Text.Json;

namespace Mkio.Security;

/// <summary>
/// The access rules of a configuration: whether access control is on, and which access value applies to a
/// service, an op set or a monitor. One instance per engine; immutable. <see cref="RefuseAsync"/> is the single
/// enforcement decision every message path uses.
/// </summary>
internal sealed class AccessControl
{
    /// <summary>Anyone, logged in or not.</summary>
    public const string Open = "open";

    /// <summary>Any authenticated user.</summary>
    public const string Auth = "auth";

    /// <summary>Refusal for a caller who is not authenticated.</summary>
    public const string AuthenticationRequired = "authentication required";

    /// <summary>Refusal for an authenticated caller without the right.</summary>
    public const string PermissionDenied = "permission denied";

    /// <summary>Refusal of a monitor request when no <c>monitor_access</c> applies.</summary>
    public const string MonitoringDisabled = "monitoring disabled";

    /// <summary>The name of the table whose presence turns access control on (the built-in rights table).</summary>
    public const string RightsTable = "_mkio_rights";

    private readonly FrozenDictionary<string, Rules> _services;
    private readonly string? _monitorAll;

    public AccessControl(MkioOptions options)
    {
        Enabled = IsOn(options);
        _monitorAll = options.MonitorAccess;
        _services = options.Services
            .GroupBy(s => s.Name, StringComparer.Ordinal)
            .Select(g => g.First())
            .ToFrozenDictionary(
                s => s.Name,
                s =>
                {
                    var access = s.Access ?? options.Access;
                    var ops = s.Ops.Where(o => o.Access is not null).ToFrozenDictionary(o => o.Name ?? string.Empty, o => o.Access, StringComparer.Ordinal);
                    var only = s.Ops.Count == 1 ? s.Ops[0].Name ?? string.Empty : null;
                    return new Rules(access, s.MonitorAccess ?? options.MonitorAccess, ops, only);
                },
                StringComparer.Ordinal);
    }

    /// <summary>True when access is enforced.</summary>
    public bool Enabled { get; }

    /// <summary>
    /// Access control is on when the host option asks for it, when any <c>access</c> or <c>monitor_access</c> is
    /// configured (top level, service or op set), or when the rights table is declared.
    /// </summary>
    public static bool IsOn(MkioOptions options) =>
        options.AccessControl
        || options.Access is not null
        || options.MonitorAccess is not null
        || options.Tables.Any(t => t.Name == RightsTable)
        || options.Services.Any(s => s.Access is not null || s.MonitorAccess is not null || s.Ops.Any(o => o.Access is not null));

    /// <summary>
    /// The access value for a message to <paramref name="service"/>: the op set's own access when the message
    /// selects one that has it (<paramref name="op"/>, or the only set), else the service's; null = locked.
    /// </summary>
    public string? ForMessage(string service, JsonElement op)
    {
        if (!_services.TryGetValue(service, out var rules))
        {
            return null;
        }

        if (rules.Ops.Count > 0)
        {
            // The set the transaction service will run: the named one, or the only one when no op is given.
            var key = op.ValueKind switch
            {
                JsonValueKind.String => op.GetString(),
                JsonValueKind.Undefined => rules.OnlySet,
                _ => null,
            };
            if (key is not null && rules.Ops.TryGetValue(key, out var opAccess))
            {
                return opAccess;
            }
        }

        return rules.Access;
    }

    /// <summary>The <c>monitor_access</c> of <paramref name="service"/> (null: the monitor-all right); null = monitoring disabled.</summary>
    public string? ForMonitor(string? service) =>
        service is null ? _monitorAll : _services.TryGetValue(service, out var rules) ? rules.MonitorAccess : _monitorAll;

    /// <summary>True when <paramref name="identity"/> may use <paramref name="service"/> at all (discovery): its access or any op set's.</summary>
    public async ValueTask<bool> MayUseAsync(MkioIdentity identity, string service)
    {
        if (!Enabled)
        {
            return true;
        }

        if (!_services.TryGetValue(service, out var rules))
        {
            return false;
        }

        if (await RefuseAsync(identity, rules.Access).ConfigureAwait(false) is null)
        {
            return true;
        }

        foreach (var access in rules.Ops.Values)
        {
            if (await RefuseAsync(identity, access).ConfigureAwait(false) is null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The refusal text for <paramref name="identity"/> under <paramref name="access"/>, or null when allowed:
    /// <c>open</c> allows everyone; <c>auth</c> any authenticated user; a name is a policy or role the host's
    /// authorizer evaluates for authenticated users; no value (locked) allows nobody.
    /// </summary>
    public static async ValueTask<string?> RefuseAsync(MkioIdentity identity, string? access)
    {
        if (access == Open)
        {
            return null;
        }

        if (!identity.IsAuthenticated)
        {
            return AuthenticationRequired;
        }

        if (access is null)
        {
            return PermissionDenied;
        }

        if (access == Auth)
        {
            return null;
        }

        return await identity.Authorizer.IsAllowedAsync(identity.Principal, access).ConfigureAwait(false) ? null : PermissionDenied;
    }

    private sealed record Rules(string? Access, string? MonitorAccess, FrozenDictionary<string, string?> Ops, string? OnlySet);
}
