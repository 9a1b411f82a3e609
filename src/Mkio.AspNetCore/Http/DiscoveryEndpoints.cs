using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Hosting;
using Mkio.Discovery;

namespace Mkio.AspNetCore.Http;

/// <summary><c>GET /api/services</c> and <c>GET /api/services/{name}</c> (PROTOCOL.md §11).</summary>
internal static class DiscoveryEndpoints
{
    private const string JsonType = "application/json; charset=utf-8";

    public static Task ListAsync(HttpContext context)
    {
        var engine = context.RequestServices.GetRequiredService<MkioEngineHost>().Create();
        return WriteAsync(context, StatusCodes.Status200OK, ServiceDiscovery.List(engine.Model));
    }

    public static Task DetailAsync(HttpContext context, string name)
    {
        var engine = context.RequestServices.GetRequiredService<MkioEngineHost>().Create();
        return engine.Model.ServicesByName.TryGetValue(name, out var service)
            ? WriteAsync(context, StatusCodes.Status200OK, ServiceDiscovery.Detail(engine.Model, service))
            : WriteAsync(context, StatusCodes.Status404NotFound, ServiceDiscovery.UnknownService(name));
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
