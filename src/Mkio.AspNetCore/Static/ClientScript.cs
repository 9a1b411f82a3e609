using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Mkio.AspNetCore.Static;

/// <summary>Serves the embedded JavaScript client <c>/mkio.js</c> and its declarations (and the admin page's files), with an ETag.</summary>
internal static class ClientScript
{
    private static readonly Lazy<(byte[] Body, string ETag)> Script = new(() => Load("mkio.js"));
    private static readonly Lazy<(byte[] Body, string ETag)> Declarations = new(() => Load("mkio.d.ts"));

    public static Task GetScriptAsync(HttpContext context) => ServeAsync(context, Script.Value, "application/javascript; charset=utf-8");

    public static Task GetDeclarationsAsync(HttpContext context) => ServeAsync(context, Declarations.Value, "application/typescript; charset=utf-8");

    /// <summary>An embedded file of this folder (<c>Mkio.AspNetCore.Static.{name}</c>) and its ETag.</summary>
    internal static (byte[] Body, string ETag) Load(string name)
    {
        using var stream = typeof(ClientScript).Assembly.GetManifestResourceStream("Mkio.AspNetCore.Static." + name)
            ?? throw new InvalidOperationException($"Embedded resource {name} is missing from Mkio.AspNetCore.");
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        var body = ms.ToArray();
        return (body, "\"" + Convert.ToHexStringLower(SHA256.HashData(body))[..16] + "\"");
    }

    /// <summary>Serves an embedded file with its ETag (304 when the client has it).</summary>
    internal static Task ServeAsync(HttpContext context, (byte[] Body, string ETag) file, string contentType)
    {
        var response = context.Response;
        response.Headers.ETag = file.ETag;
        response.Headers.CacheControl = "no-cache";
        if (context.Request.Headers.IfNoneMatch.ToString() == file.ETag)
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        response.ContentType = contentType;
        response.ContentLength = file.Body.Length;
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : response.Body.WriteAsync(file.Body, context.RequestAborted).AsTask();
    }
}
