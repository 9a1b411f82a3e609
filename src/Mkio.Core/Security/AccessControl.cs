using System.Collections.Frozen;
using System.Text.Json;

namespace Mkio.Security;

/// <summary>
/// The access rules of a configuration: whether access control is on, and which access value applies to a
/// service, an op set or a monitor. One instance per engine; immutable. <see cref="DecideAsync"/> is the single
/// enforcement decision every message path uses, whichever door (ASP.NET Core authentication at the upgrade, or
/// the <c>auth</c> message) the identity came through.
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

    /// <summary>The built-in users table (logins by the <c>auth</c> message).</summary>
    public const string UsersTable = "_mkio_users";

    private readonly FrozenDictionary<string, Rules> _services;
    private readonly AccessRule? _monitorAll;

    public AccessControl(MkioOptions options, AuthTables? tables = null)
    {
        Enabled = IsOn(options);
        Tables = tables;
        _monitorAll = RuleOf(options, options, monitor: true);
        var serviceDefault = RuleOf(options, options, monitor: false);
        _services = options.Services
            .GroupBy(s => s.Name, StringComparer.Ordinal)
            .Select(g => g.First())
            .ToFrozenDictionary(
                s => s.Name,
                s =>
                {
                    var access = RuleOf(options, s, monitor: false) ?? serviceDefault;
                    var ops = s.Ops
                        .Select(o => (Name: o.Name ?? string.Empty, Rule: RuleOf(options, o, monitor: false)))
                        .Where(o => o.Rule is not null)
                        .ToFrozenDictionary(o => o.Name, o => o.Rule, StringComparer.Ordinal);
                    var only = s.Ops.Count == 1 ? s.Ops[0].Name ?? string.Empty : null;
                    return new Rules(access, RuleOf(options, s, monitor: true) ?? _monitorAll, ops, only);
                },
                StringComparer.Ordinal);
    }

    /// <summary>True when access is enforced.</summary>
    public bool Enabled { get; }

    /// <summary>The built-in rights and users tables, when configured (rights then decide right names).</summary>
    public AuthTables? Tables { get; }

    /// <summary>
    /// Access control is on when the host option asks for it, when any <c>access</c> or <c>monitor_access</c> is
    /// configured (top level, service or op set), or when the rights table is declared.
    /// </summary>
    public static bool IsOn(MkioOptions options) =>
        options.AccessControl
        || options.Access is not null
        || options.MonitorAccess is not null
        || options.AccessTables.Count > 0
        || options.MonitorAccessTables.Count > 0
        || options.Tables.Any(t => t.Name == RightsTable)
        || options.Services.Any(s => s.Access is not null || s.MonitorAccess is not null || s.Ops.Any(o => o.Access is not null));

    /// <summary>Every configured rule with its config path (start-up validation of SQL checks).</summary>
    public static IEnumerable<AccessRight> ChecksOf(MkioOptions options) =>
        options.AccessTables.Values.Concat(options.MonitorAccessTables.Values)
            .SelectMany(r => r.Rights ?? [])
            .Where(r => r.Check is not null);

    private static AccessRule? RuleOf(MkioOptions options, object owner, bool monitor)
    {
        if ((monitor ? options.MonitorAccessTables : options.AccessTables).TryGetValue(owner, out var table))
        {
            return table;
        }

        return AccessRule.Of(owner switch
        {
            MkioOptions o => monitor ? o.MonitorAccess : o.Access,
            MkioServiceOptions s => monitor ? s.MonitorAccess : s.Access,
            MkioOpSetOptions set => monitor ? null : set.Access,
            _ => null,
        });
    }

    /// <summary>
    /// The access rule for a message to <paramref name="service"/>: the op set's own access when the message
    /// selects one that has it (<paramref name="op"/>, or the only set), else the service's; null = locked.
    /// </summary>
    public AccessRule? ForMessage(string service, JsonElement op)
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
    public AccessRule? ForMonitor(string? service) =>
        service is null ? _monitorAll : _services.TryGetValue(service, out var rules) ? rules.MonitorAccess : _monitorAll;

    /// <summary>
    /// True when <paramref name="identity"/> may use <paramref name="service"/> at all (discovery): its access or any
    /// op set's. A right granted through an SQL check counts (the check needs a request to run).
    /// </summary>
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

        if ((await DecideAsync(identity, rules.Access).ConfigureAwait(false)).Refusal is null)
        {
            return true;
        }

        foreach (var access in rules.Ops.Values)
        {
            if ((await DecideAsync(identity, access).ConfigureAwait(false)).Refusal is null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The decision for <paramref name="identity"/> under <paramref name="rule"/>: <c>open</c> allows everyone;
    /// <c>auth</c> any authenticated user; a name is a right the identity's role holds (with the rights table), or a
    /// policy or role the host's authorizer evaluates; the table form's first held right decides (outright or
    /// through its SQL check); no rule (locked) allows nobody.
    /// </summary>
    public async ValueTask<AccessDecision> DecideAsync(MkioIdentity identity, AccessRule? rule)
    {
        if (rule?.Name == Open)
        {
            return AccessDecision.Allowed;
        }

        if (!identity.IsAuthenticated)
        {
            return AccessDecision.Refuse(AuthenticationRequired);
        }

        if (rule is null)
        {
            return AccessDecision.Refuse(PermissionDenied);
        }

        if (rule.Name is { } name)
        {
            return name == Auth || await HoldsAsync(identity, name).ConfigureAwait(false)
                ? AccessDecision.Allowed
                : AccessDecision.Refuse(PermissionDenied);
        }

        foreach (var right in rule.Rights!)
        {
            if (await HoldsAsync(identity, right.Right).ConfigureAwait(false))
            {
                return right.Check is null ? AccessDecision.Allowed : new AccessDecision(null, PreCheck.StatementFor(right.Check));
            }
        }

        return AccessDecision.Refuse(PermissionDenied);
    }

    /// <summary>The refusal text for a name-form <paramref name="access"/> without rights table (policies and roles only), or null when allowed.</summary>
    public static async ValueTask<string?> RefuseAsync(MkioIdentity identity, string? access) =>
        (await new AccessControl(new MkioOptions()).DecideAsync(identity, AccessRule.Of(access)).ConfigureAwait(false)).Refusal;

    /// <summary>
    /// With the rights table: a right one of the identity's roles holds, or a registered policy of that name it
    /// satisfies. Without: a policy or role (the host's authorizer).
    /// </summary>
    private async ValueTask<bool> HoldsAsync(MkioIdentity identity, string right)
    {
        if (Tables is not { HasRights: true } tables)
        {
            return await identity.Authorizer.IsAllowedAsync(identity.Principal, right).ConfigureAwait(false);
        }

        return tables.Holds(identity.Roles, right)
            || await identity.Authorizer.PolicyAsync(identity.Principal, right).ConfigureAwait(false) == true;
    }

    private sealed record Rules(AccessRule? Access, AccessRule? MonitorAccess, FrozenDictionary<string, AccessRule?> Ops, string? OnlySet);
}
