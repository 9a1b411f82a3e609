using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore;
using Mkio.AspNetCore.Http;
using Mkio.AspNetCore.Static;
using Mkio.AspNetCore.WebSockets;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps mkio's endpoints into an ASP.NET Core application.</summary>
public static class MkioEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the WebSocket endpoints <c>/ws</c> and <c>/ws/{service}</c>, the discovery API
    /// <c>/api/services[/{name}]</c>, the JavaScript client <c>/mkio.js</c> (+ <c>/mkio.d.ts</c>) and the
    /// config's <c>[config]</c> and <c>[static]</c> routes.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder (usually the <c>WebApplication</c>).</param>
    /// <param name="prefix">Optional path prefix for every route, e.g. <c>/mkio</c>.</param>
    /// <returns>A convention builder covering every mkio endpoint, so that <c>.RequireAuthorization()</c> and other conventions apply to all of them.</returns>
    /// <exception cref="InvalidOperationException"><c>AddMkio</c> was not called.</exception>
    public static IEndpointConventionBuilder MapMkio(this IEndpointRouteBuilder endpoints, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<MkioMarkerService>() is null)
        {
            throw new InvalidOperationException(
                "Unable to find the required mkio services. Call 'builder.Services.AddMkio(...)' before 'app.MapMkio()'.");
        }

        var group = endpoints.MapGroup(prefix ?? string.Empty);
        var ws = endpoints.CreateApplicationBuilder().UseWebSockets();
        ws.Run(static context => context.RequestServices.GetRequiredService<MkioWebSocketHandler>().HandleAsync(context));
        var wsPipeline = ws.Build();
        group.MapMethods("/ws", ["GET"], wsPipeline).WithMetadata(new DisableRequestTimeoutAttribute()).WithDisplayName("mkio WebSocket");
        group.MapMethods("/ws/{service}", ["GET"], wsPipeline).WithMetadata(new DisableRequestTimeoutAttribute()).WithDisplayName("mkio WebSocket (service)");
        group.MapMethods("/api/services", ["GET", "HEAD"], DiscoveryEndpoints.ListAsync).WithDisplayName("mkio discovery list");
        group.MapMethods("/api/services/{name}", ["GET", "HEAD"], DiscoveryEndpoints.DetailAsync).WithDisplayName("mkio discovery detail");
        group.MapMethods("/mkio.js", ["GET", "HEAD"], ClientScript.GetScriptAsync).WithDisplayName("mkio.js");
        group.MapMethods("/mkio.d.ts", ["GET", "HEAD"], ClientScript.GetDeclarationsAsync).WithDisplayName("mkio.d.ts");
        try
        {
            ConfigRoutes.Map(group, endpoints.ServiceProvider);
            StaticRoutes.Map(group, endpoints.ServiceProvider);
        }
        catch (Exception ex) when (ex is Mkio.MkioConfigurationException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            // An invalid or missing config: mkio's hosted service reports it when the host starts (one
            // log line, exit code 1) rather than an exception escaping the app's Program.cs here.
        }

        return group;
    }
}
