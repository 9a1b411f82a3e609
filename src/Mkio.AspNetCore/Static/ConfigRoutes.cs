using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Mkio.Later;

namespace Mkio.AspNetCore.Static;

/// <summary>
/// The config's <c>[config]</c> routes: <c>GET &lt;route&gt;/&lt;path&gt;</c>. A name ending in <c>.json</c> answers the
/// sibling <c>.toml</c> converted to JSON when it exists, else the <c>.json</c> file itself; other names are served as
/// files. A path containing NUL or resolving outside the folder (<c>..</c>, an absolute path, a symbolic link leading
/// out) is refused with 403; a missing file, a directory or a missing folder is 404. Responses carry
/// <c>Cache-Control: no-cache</c>.
/// </summary>
internal static class ConfigRoutes
{
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static void Map(RouteGroupBuilder group, IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<MkioOptions>>().Value;
        foreach (var route in options.ConfigRoutes)
        {
            var root = Path.GetFullPath(route.Directory);
            var prefix = route.Prefix.TrimEnd('/');
            group.MapMethods(prefix + "/{**path}", ["GET", "HEAD"], (HttpContext context, string? path) => ServeAsync(context, root, path))
                .WithDisplayName($"mkio config {route.Prefix}");
        }
    }

    private static async Task ServeAsync(HttpContext context, string root, string? path)
    {
        context.Response.Headers.CacheControl = "no-cache";
        var relative = path ?? string.Empty;
        if (relative.Contains('\0', StringComparison.Ordinal) || Path.IsPathRooted(relative) || relative.Contains('\\', StringComparison.Ordinal)
            || relative.Split('/').Contains(".."))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        if (relative.Length == 0 || !Directory.Exists(root))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var full = Path.GetFullPath(Path.Combine(root, relative));
        var realRoot = StaticRoutes.RealPath(root);
        if (!StaticRoutes.IsInside(full, root) || !StaticRoutes.IsInside(StaticRoutes.RealPath(full), realRoot))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        if (full.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            var toml = full[..^5] + ".toml";
            if (File.Exists(toml))
            {
                if (!StaticRoutes.IsInside(StaticRoutes.RealPath(toml), realRoot))
                {
                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    return;
                }

                var json = TomlJson.Convert(await File.ReadAllTextAsync(toml, context.RequestAborted).ConfigureAwait(false), out var error);
                if (json is null)
                {
                    context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                    context.Response.ContentType = "text/plain; charset=utf-8";
                    await context.Response.WriteAsync($"invalid TOML in {Path.GetFileName(toml)}: {error}", context.RequestAborted).ConfigureAwait(false);
                    return;
                }

                context.Response.ContentType = "application/json";
                context.Response.ContentLength = json.Length;
                if (!HttpMethods.IsHead(context.Request.Method))
                {
                    await context.Response.Body.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
                }

                return;
            }
        }

        if (!File.Exists(full))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var real = StaticRoutes.RealPath(full);
        if (!ContentTypes.TryGetContentType(full, out var type))
        {
            type = "application/octet-stream";
        }

        var length = new FileInfo(real).Length;
        context.Response.ContentType = type;
        context.Response.ContentLength = length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.SendFileAsync(real, 0, length, context.RequestAborted).ConfigureAwait(false);
        }
    }
}
