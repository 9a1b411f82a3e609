using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Hosting;
using Mkio.AspNetCore.Security;
using Mkio.Discovery;

namespace Mkio.AspNetCore.Http;

/// <summary><c>GET /api/services</c> and <c>GET /api/services/{name}</c> (PROTOCOL.md §11).</summary>
internal static class DiscoveryEndpoints
{
    private const string JsonType = "application/json; charset=utf-8";

    public static async Task ListAsync(HttpContext context)
    {
        var engine = context.RequestServices.GetRequiredService<MkioEngineHost>().Create();
        if (!engine.Access.Enabled)
        {
            await WriteAsync(context, StatusCodes.Status200OK, ServiceDiscovery.List(engine.Model)).ConfigureAwait(false);
            return;
        }

        // With access control on, the caller sees only the services it may use.
        var identity = HostAuthorizer.IdentityOf(context);
        var visible = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in engine.Model.Services)
        {
            if (await engine.Access.MayUseAsync(identity, s.Name).ConfigureAwait(false))
            {
                visible.Add(s.Name);
            }
        }

        await WriteAsync(context, StatusCodes.Status200OK, ServiceDiscovery.List(engine.Model, visible.Contains)).ConfigureAwait(false);
    }

    public static async Task DetailAsync(HttpContext context, string name)
    {
        var engine = context.RequestServices.GetRequiredService<MkioEngineHost>().Create();
        if (engine.Model.ServicesByName.TryGetValue(name, out var service)
            && (!engine.Access.Enabled || await engine.Access.MayUseAsync(HostAuthorizer.IdentityOf(context), name).ConfigureAwait(false)))
        {
            await WriteAsync(context, StatusCodes.Status200OK, ServiceDiscovery.Detail(engine.Model, service)).ConfigureAwait(false);
            return;
        }

        // A service the caller may not use is answered like one that does not exist.
        await WriteAsync(context, StatusCodes.Status404NotFound, ServiceDiscovery.UnknownService(name)).ConfigureAwait(false);
    }

    private static Task WriteAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = JsonType;
        context.Response.ContentLength = body.Length;
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }
}
