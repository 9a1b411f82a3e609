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
}

/// <summary>Decides whether a principal satisfies a named access value (an authorization policy or a role).</summary>
internal interface IMkioAuthorizer
{
    /// <summary>True when <paramref name="user"/> satisfies the policy or role <paramref name="name"/>.</summary>
    ValueTask<bool> IsAllowedAsync(ClaimsPrincipal user, string name);
}

/// <summary>The authorizer without a host: a name is a role, checked with <see cref="ClaimsPrincipal.IsInRole"/>.</summary>
internal sealed class RoleAuthorizer : IMkioAuthorizer
{
    public static readonly RoleAuthorizer Instance = new();

    public ValueTask<bool> IsAllowedAsync(ClaimsPrincipal user, string name) => ValueTask.FromResult(user.IsInRole(name));
}
