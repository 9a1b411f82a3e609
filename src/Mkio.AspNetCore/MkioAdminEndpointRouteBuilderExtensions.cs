using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore;
using Mkio.AspNetCore.Admin;
using Mkio.AspNetCore.Http;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps mkio's live admin page into an ASP.NET Core application.</summary>
public static class MkioAdminEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the live admin page at <paramref name="prefix"/> (services with their subscribers, rows and
    /// change-log depth; connections; throughput and latency charts of the last five minutes; the
    /// monitor tap of a service; a form that sends a message) and its JSON endpoints under
    /// <c>{prefix}/api/…</c>. The page and its script are embedded in this package: nothing is fetched
    /// from elsewhere. The page is opt-in and not protected by itself: apply the host's authorization
    /// to the returned builder, e.g. <c>app.MapMkioAdmin("/mkio/admin").RequireAuthorization("admin")</c>;
    /// that covers every admin endpoint.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder (usually the <c>WebApplication</c>).</param>
    /// <param name="prefix">The page's path, e.g. <c>/mkio/admin</c>. Must not be empty or <c>/</c>.</param>
    /// <returns>A convention builder covering every admin endpoint (authorization, CORS, rate limiting… apply to all).</returns>
    /// <exception cref="InvalidOperationException"><c>AddMkio</c> was not called.</exception>
    /// <exception cref="ArgumentException"><paramref name="prefix"/> is empty or <c>/</c>.</exception>
    public static IEndpointConventionBuilder MapMkioAdmin(this IEndpointRouteBuilder endpoints, string prefix = "/mkio/admin")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Trim('/').Length == 0)
        {
            throw new ArgumentException("The admin page needs a path of its own, e.g. \"/mkio/admin\".", nameof(prefix));
        }

        if (endpoints.ServiceProvider.GetService<MkioMarkerService>() is null)
        {
            throw new InvalidOperationException(
                "Unable to find the required mkio services. Call 'builder.Services.AddMkio(...)' before 'app.MapMkioAdmin()'.");
        }

        // Starts collecting the Mkio meter's measurements for the charts from now on.
        _ = endpoints.ServiceProvider.GetRequiredService<AdminMetrics>();

        var group = endpoints.MapGroup("/" + prefix.Trim('/'));
        group.MapMethods("/", ["GET", "HEAD"], AdminEndpoints.PageAsync).WithDisplayName("mkio admin page");
        group.MapMethods("/admin.js", ["GET", "HEAD"], AdminEndpoints.ScriptAsync).WithDisplayName("mkio admin script");
        group.MapMethods("/admin.css", ["GET", "HEAD"], AdminEndpoints.StyleAsync).WithDisplayName("mkio admin style");
        group.MapMethods("/api/overview", ["GET", "HEAD"], AdminEndpoints.OverviewAsync).WithDisplayName("mkio admin overview");
        group.MapMethods("/api/metrics", ["GET", "HEAD"], AdminEndpoints.MetricsAsync).WithDisplayName("mkio admin metrics");
        group.MapMethods("/api/services", ["GET", "HEAD"], DiscoveryEndpoints.ListAsync).WithDisplayName("mkio admin discovery list");
        group.MapMethods("/api/services/{name}", ["GET", "HEAD"], DiscoveryEndpoints.DetailAsync).WithDisplayName("mkio admin discovery detail");
        group.MapPost("/api/send", AdminEndpoints.SendAsync).WithDisplayName("mkio admin send");
        group.MapGet("/api/monitor/{service}", AdminEndpoints.MonitorAsync).WithMetadata(new DisableRequestTimeoutAttribute()).WithDisplayName("mkio admin monitor");
        return group;
    }
}
