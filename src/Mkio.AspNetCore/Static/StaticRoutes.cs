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
/// resolved against the working directory (embedded: the content root); listings are refused (403) and paths cannot escape, neither
/// by <c>..</c> nor through a symbolic link that resolves outside the folder (404).
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

            var folder = new StaticFolder(new PhysicalFileProvider(root), RealPath(root));
            if (route.Prefix == "/")
            {
                group.MapMethods("/", ["GET", "HEAD"], context => ServeAsync(context, folder, "index.html"));
                group.MapMethods("/static/{**path}", ["GET", "HEAD"], (HttpContext context, string? path) => ServeAsync(context, folder, path));
            }
            else
            {
                var prefix = route.Prefix.TrimEnd('/');
                group.MapMethods(prefix + "/{**path}", ["GET", "HEAD"], (HttpContext context, string? path) => ServeAsync(context, folder, path));
            }
        }
    }

    /// <summary>A static folder: its file provider and its real path (symbolic links resolved).</summary>
    private sealed record StaticFolder(PhysicalFileProvider Provider, string RealRoot);

    /// <summary>
    /// <paramref name="path"/> with every symbolic link resolved, component by component (a link to a
    /// directory in the middle of the path counts too). Missing components are kept as they are.
    /// </summary>
    internal static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? string.Empty;
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            current = info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target
                ? RealPath(target.FullName)
                : next;
        }

        return current;
    }

    /// <summary>True when <paramref name="real"/> is inside <paramref name="realRoot"/> (a separator boundary, not a string prefix).</summary>
    internal static bool IsInside(string real, string realRoot)
    {
        var rootWithSeparator = realRoot.EndsWith(Path.DirectorySeparatorChar) ? realRoot : realRoot + Path.DirectorySeparatorChar;
        return real.StartsWith(rootWithSeparator, StringComparison.Ordinal);
    }

    private static async Task ServeAsync(HttpContext context, StaticFolder folder, string? path)
    {
        var provider = folder.Provider;
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

        // A symbolic link inside the folder that leads outside it is not served (PROTOCOL.md §1.3: a
        // path never escapes its directory); links that stay inside work.
        var real = file.Exists && !file.IsDirectory && file.PhysicalPath is not null ? RealPath(file.PhysicalPath) : null;
        if (real is null || !IsInside(real, folder.RealRoot))
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
        // The link's target: its length (a link's own length is that of its target path) and its bytes.
        var target = new FileInfo(real);
        context.Response.ContentLength = target.Length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        await context.Response.SendFileAsync(real, 0, target.Length, context.RequestAborted).ConfigureAwait(false);
    }
}
