using System.Security.Claims;

namespace Mkio.Security;

/// <summary>
/// Who is on the other end of a connection (or an HTTP request): the <see cref="ClaimsPrincipal"/> the host's
/// authentication produced, read once at the WebSocket upgrade and kept for the connection's life, plus the
/// authorizer that evaluates policy and role names for it.
/// </summary>
internal sealed class MkioIdentity
{
    /// <summary>Nobody: an unauthenticated principal, roles checked with <see cref="ClaimsPrincipal.IsInRole"/>.</summary>
    public static readonly MkioIdentity Anonymous = new(new ClaimsPrincipal(new ClaimsIdentity()), null);

    public MkioIdentity(ClaimsPrincipal principal, IMkioAuthorizer? authorizer)
    {
        Principal = principal;
        Authorizer = authorizer ?? RoleAuthorizer.Instance;
        IsAuthenticated = principal.Identities.Any(i => i.IsAuthenticated);
    }

    /// <summary>The connection's principal (claims).</summary>
    public ClaimsPrincipal Principal { get; }

    /// <summary>Evaluates policy and role names for <see cref="Principal"/>.</summary>
    public IMkioAuthorizer Authorizer { get; }

    /// <summary>True when any of the principal's identities is authenticated.</summary>
    public bool IsAuthenticated { get; }

    /// <summary>The user name (<see cref="System.Security.Principal.IIdentity.Name"/>), or null.</summary>
    public string? User => Principal.Identity?.Name;

    /// <summary>The first role claim, or the empty string.</summary>
    public string Role =>
        Principal.FindFirst((Principal.Identity as ClaimsIdentity)?.RoleClaimType ?? ClaimTypes.Role)?.Value ?? string.Empty;

    /// <summary>Every role claim of every identity of the principal.</summary>
    public IEnumerable<string> Roles =>
        Principal.Identities.SelectMany(i => i.FindAll(i.RoleClaimType)).Select(c => c.Value);

    /// <summary>
    /// The values SQL access checks bind by name: <c>user</c>, <c>role</c> and, for an <c>auth</c>-message login, the
    /// further identity values (the users-table row without its password).
    /// </summary>
    public IReadOnlyDictionary<string, object?> Values =>
        _values ??= new Dictionary<string, object?>(StringComparer.Ordinal) { ["user"] = User, ["role"] = Role };

    private IReadOnlyDictionary<string, object?>? _values;

    /// <summary>The users-table user this identity was logged in as by an <c>auth</c> message (role changes follow the table), or null.</summary>
    public string? TableUser { get; private init; }

    /// <summary>The users-table version the identity was read at (see <see cref="AuthTables.UsersVersion"/>).</summary>
    public long UsersVersion { get; private init; }

    /// <summary>An identity from an <c>auth</c>-message login: a principal named <paramref name="login"/>'s user, in its role.</summary>
    public static MkioIdentity FromLogin(MkioLogin login, IMkioAuthorizer? authorizer, string? tableUser = null, long usersVersion = 0)
    {
        var identity = new ClaimsIdentity(AuthenticationType, ClaimTypes.Name, ClaimTypes.Role);
        identity.AddClaim(new Claim(ClaimTypes.Name, login.User));
        if (login.Role.Length > 0)
        {
            identity.AddClaim(new Claim(ClaimTypes.Role, login.Role));
        }

        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in login.Values)
        {
            if (key != "password")
            {
                values[key] = value;
            }
        }

        values["user"] = login.User;
        values["role"] = login.Role;
        return new MkioIdentity(new ClaimsPrincipal(identity), authorizer) { _values = values, TableUser = tableUser, UsersVersion = usersVersion };
    }

    /// <summary>The authentication type of principals made by an <c>auth</c> message.</summary>
    public const string AuthenticationType = "mkio";
}

/// <summary>Decides whether a principal satisfies a named access value (an authorization policy or a role).</summary>
internal interface IMkioAuthorizer
{
    /// <summary>True when <paramref name="user"/> satisfies the policy or role <paramref name="name"/>.</summary>
    ValueTask<bool> IsAllowedAsync(ClaimsPrincipal user, string name);

    /// <summary>Whether <paramref name="user"/> satisfies the registered policy <paramref name="name"/>; null when no such policy is registered.</summary>
    ValueTask<bool?> PolicyAsync(ClaimsPrincipal user, string name);
}

/// <summary>The authorizer without a host: a name is a role, checked with <see cref="ClaimsPrincipal.IsInRole"/>.</summary>
internal sealed class RoleAuthorizer : IMkioAuthorizer
{
    public static readonly RoleAuthorizer Instance = new();

    public ValueTask<bool> IsAllowedAsync(ClaimsPrincipal user, string name) => ValueTask.FromResult(user.IsInRole(name));

    public ValueTask<bool?> PolicyAsync(ClaimsPrincipal user, string name) => ValueTask.FromResult<bool?>(null);
}
