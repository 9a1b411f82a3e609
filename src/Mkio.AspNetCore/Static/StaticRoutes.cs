using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;

namespace Mkio.AspNetCore.Static;

/// <summary>
/// The config's <c>[static]</c> routes (PROTOCOL.md §1.3): <c>"/"</c> serves <c>index.html</c> at
/// <c>/</c> and its folder under <c>/static/…</c>; other prefixes serve their folder. Directories are
/// resolved against the working directory; listings are refused (403) and paths cannot escape.
/// </summary>
internal static class StaticRoutes
{
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static void Map(RouteGroupBuilder group, IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<MkioOptions>>().Value;
        foreach (var route in options.Static)
        {
            var root = Path.GetFullPath(route.Directory);
            if (!Directory.Exists(root))
            {
                throw new MkioConfigurationException($"static.{route.Prefix}: directory '{route.Directory}' does not exist (resolved to '{root}').");
            }

            var provider = new PhysicalFileProvider(root);
            if (route.Prefix == "/")
            {
                group.MapMethods("/", ["GET", "HEAD"], context => ServeAsync(context, provider, "index.html"));
                group.MapMethods("/static/{**path}", ["GET", "HEAD"], (HttpContext context, string? path) => ServeAsync(context, provider, path));
            }
            else
            {
                var prefix = route.Prefix.TrimEnd('/');
                group.MapMethods(prefix + "/{**path}", ["GET", "HEAD"], (HttpContext context, string? path) => ServeAsync(context, provider, path));
            }
        }
    }

    private static async Task ServeAsync(HttpContext context, PhysicalFileProvider provider, string? path)
    {
        var relative = path ?? string.Empty;
        if (relative.Length == 0 || relative.EndsWith('/'))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        // A ".." segment never names a file; "v1..2.txt" does. (Kestrel already removes dot segments.)
        if (relative.Split('/').Contains("..") || relative.Contains('\\', StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        var contents = provider.GetDirectoryContents(relative);
        if (contents.Exists)
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        var file = provider.GetFileInfo(relative);
        if (!file.Exists || file.IsDirectory || file.PhysicalPath is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync("404: Not Found", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        if (!ContentTypes.TryGetContentType(file.Name, out var type))
        {
            type = "application/octet-stream";
        }

        context.Response.ContentType = type;
        context.Response.ContentLength = file.Length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        await context.Response.SendFileAsync(file, context.RequestAborted).ConfigureAwait(false);
    }
}
