using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Mkio.Security;

namespace Mkio.AspNetCore.Security;

/// <summary>
/// Evaluates access names with the host's <see cref="IAuthorizationService"/>: a name registered as a policy
/// (<c>AddAuthorization(o =&gt; o.AddPolicy(...))</c>) is that policy; any other name is a role requirement.
/// Resolved from the request's services at the WebSocket upgrade, so handlers see the connection's scope.
/// </summary>
internal sealed class HostAuthorizer(IAuthorizationService authorization, IAuthorizationPolicyProvider policies) : IMkioAuthorizer
{
    private static readonly ConcurrentDictionary<string, AuthorizationPolicy> RolePolicies = new(StringComparer.Ordinal);

    public async ValueTask<bool> IsAllowedAsync(ClaimsPrincipal user, string name)
    {
        var policy = await policies.GetPolicyAsync(name).ConfigureAwait(false)
            ?? RolePolicies.GetOrAdd(name, static n => new AuthorizationPolicyBuilder().RequireRole(n).Build());
        var result = await authorization.AuthorizeAsync(user, resource: null, policy).ConfigureAwait(false);
        return result.Succeeded;
    }

    public async ValueTask<bool?> PolicyAsync(ClaimsPrincipal user, string name)
    {
        if (await policies.GetPolicyAsync(name).ConfigureAwait(false) is not { } policy)
        {
            return null;
        }

        return (await authorization.AuthorizeAsync(user, resource: null, policy).ConfigureAwait(false)).Succeeded;
    }

    /// <summary>The identity of an HTTP request or WebSocket upgrade: its user, evaluated with the host's authorization services when registered.</summary>
    public static MkioIdentity IdentityOf(HttpContext context) => new(context.User, From(context.RequestServices));

    /// <summary>The host's authorizer, or null when the host registered no authorization.</summary>
    public static HostAuthorizer? From(IServiceProvider services)
    {
        var authorization = services.GetService<IAuthorizationService>();
        var policies = services.GetService<IAuthorizationPolicyProvider>();
        return authorization is not null && policies is not null ? new HostAuthorizer(authorization, policies) : null;
    }
}
