using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Mkio.AspNetCore.Hosting;
using Mkio.AspNetCore.Static;
using Mkio.AspNetCore.WebSockets;

namespace Mkio.AspNetCore.Admin;

/// <summary>
/// The admin page's endpoints (all under the prefix given to <c>MapMkioAdmin</c>): the page and its
/// two assets, <c>api/overview</c>, <c>api/metrics</c>, <c>api/services[/{name}]</c> (the discovery documents),
/// <c>api/monitor/{service}</c> (a monitor tap as server-sent events) and <c>POST api/send</c> (one
/// message through a session of its own, answered with the reply frame).
/// </summary>
internal static class AdminEndpoints
{
    private const string JsonType = "application/json; charset=utf-8";

    /// <summary>The most sessions listed by <c>api/overview</c> (the busiest queues first).</summary>
    public const int MaxListedSessions = 50;

    /// <summary>How long <c>api/send</c> waits for the reply.</summary>
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(30);

    private static readonly Lazy<(byte[] Body, string ETag)> Page = new(() => ClientScript.Load("admin.html"));
    private static readonly Lazy<(byte[] Body, string ETag)> Script = new(() => ClientScript.Load("admin.js"));
    private static readonly Lazy<(byte[] Body, string ETag)> Style = new(() => ClientScript.Load("admin.css"));

    /// <summary>The page. Served at the prefix with a trailing slash (its assets and API are relative to it).</summary>
    public static Task PageAsync(HttpContext context)
    {
        var request = context.Request;
        if (!request.Path.Value!.EndsWith('/'))
        {
            context.Response.Redirect(request.PathBase + request.Path + "/" + request.QueryString);
            return Task.CompletedTask;
        }

        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        return ClientScript.ServeAsync(context, Page.Value, "text/html; charset=utf-8");
    }

    public static Task ScriptAsync(HttpContext context) => ClientScript.ServeAsync(context, Script.Value, "application/javascript; charset=utf-8");

    public static Task StyleAsync(HttpContext context) => ClientScript.ServeAsync(context, Style.Value, "text/css; charset=utf-8");

    /// <summary><c>GET api/overview</c>: services, sessions and totals right now.</summary>
    public static Task OverviewAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var engine = services.GetRequiredService<MkioEngineHost>().TryGetEngine();
        var metrics = services.GetRequiredService<AdminMetrics>();
        var tracker = services.GetRequiredService<MkioConnectionTracker>();
        var options = services.GetRequiredService<IOptions<MkioOptions>>().Value;
        return WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("started", engine?.IsStarted == true);
            w.WriteString("database", engine?.DatabaseDescription);
            w.WriteStartArray("services");
            foreach (var s in engine?.ServicesInOrder ?? [])
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteString("type", s.Kind);
                if (s is Mkio.Services.ListenerService listener)
                {
                    w.WriteNumber("subscribers", listener.SubscriberCount);
                }
                else
                {
                    w.WriteNull("subscribers");
                }

                w.WriteNumber("monitors", s.MonitorCount);
                WriteNullable(w, "rows", s.CachedRows);
                var log = s.ChangeLogDepth;
                WriteNullable(w, "change_log", log?.Depth);
                WriteNullable(w, "change_log_capacity", log?.Capacity);
                w.WriteEndObject();
            }

            w.WriteEndArray();

            w.WriteStartObject("connections");
            w.WriteNumber("websockets", tracker.Count);
            w.WriteNumber("max_websockets", options.MaxConnections);
            w.WriteNumber("sessions", engine?.SessionCount ?? 0);
            w.WriteNumber("max_queue_bytes", options.MaxSendQueueBytes);
            w.WriteStartArray("busiest");
            var listed = (engine?.Sessions ?? [])
                .Select(s => (s.Id, Kind: s.Transport switch { MkioConnection => "websocket", AdminTransport => "admin", _ => "other" }, Queued: QueuedBytes(s.Transport)))
                .OrderByDescending(s => s.Queued)
                .ThenBy(s => s.Id)
                .Take(MaxListedSessions);
            foreach (var (id, kind, queued) in listed)
            {
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("kind", kind);
                w.WriteNumber("queued_bytes", queued);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();

            var totals = metrics.Totals;
            w.WriteStartObject("totals");
            w.WriteNumber("committed", totals.Committed);
            w.WriteNumber("failed", totals.Failed);
            w.WriteNumber("messages_out", totals.MessagesOut);
            w.WriteNumber("batches", totals.Batches);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    /// <summary><c>GET api/metrics[?since=unixMs]</c>: the one-second samples of the last minutes.</summary>
    public static Task MetricsAsync(HttpContext context)
    {
        var metrics = context.RequestServices.GetRequiredService<AdminMetrics>();
        _ = long.TryParse(context.Request.Query["since"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var since);
        var samples = metrics.Samples(since);
        return WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("interval_ms", (long)AdminMetrics.Interval.TotalMilliseconds);
            w.WriteNumber("capacity", AdminMetrics.Capacity);
            w.WriteStartArray("samples");
            foreach (var s in samples)
            {
                w.WriteStartObject();
                w.WriteNumber("t", s.UnixMs);
                w.WriteNumber("committed", s.Committed);
                w.WriteNumber("failed", s.Failed);
                w.WriteNumber("messages_out", s.MessagesOut);
                w.WriteNumber("batches", s.Batches);
                w.WriteNumber("latency_avg_ms", Math.Round(s.LatencyAvgMs, 3));
                w.WriteNumber("latency_max_ms", Math.Round(s.LatencyMaxMs, 3));
                w.WriteNumber("sessions", s.Sessions);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// <c>POST api/send</c>: the body is one protocol message (a transaction, a check…), handled by a
    /// session of its own exactly as if a WebSocket client sent it (its service's monitors see it);
    /// the answer is the reply frame. Subscriptions and monitors are refused (400): they have no single reply.
    /// </summary>
    public static async Task SendAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var engine = services.GetRequiredService<MkioEngineHost>().TryGetEngine();
        if (engine is not { IsStarted: true })
        {
            await WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "mkio is not running").ConfigureAwait(false);
            return;
        }

        // A cross-site form can post text/plain with the user's cookies, but not application/json
        // (that needs a CORS preflight this endpoint does not grant): no cross-site request forgery.
        if (!context.Request.HasJsonContentType())
        {
            await WriteErrorAsync(context, StatusCodes.Status415UnsupportedMediaType, "Send the message as Content-Type: application/json").ConfigureAwait(false);
            return;
        }

        var options = services.GetRequiredService<IOptions<MkioOptions>>().Value;
        var body = await ReadBodyAsync(context.Request.Body, options.MaxMessageBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            await WriteErrorAsync(context, StatusCodes.Status413PayloadTooLarge, $"The message is larger than max_message_bytes ({options.MaxMessageBytes})").ConfigureAwait(false);
            return;
        }

        if (SubscriptionType(body) is { } refused)
        {
            await WriteErrorAsync(context, StatusCodes.Status400BadRequest, $"type '{refused}' has no single reply; use the WebSocket for subscriptions and the monitor tap for monitors").ConfigureAwait(false);
            return;
        }

        var transport = new AdminTransport(options.MaxSendQueueBytes);
        var session = engine.OpenSession(transport, null);
        byte[]? reply;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(SendTimeout);
        try
        {
            await session.HandleAsync(body, timeout.Token).ConfigureAwait(false);
            reply = await transport.ReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            reply = null;
        }
        finally
        {
            await engine.CloseSessionAsync(session).ConfigureAwait(false);
        }

        if (reply is null)
        {
            await WriteErrorAsync(context, StatusCodes.Status504GatewayTimeout, "No reply within " + SendTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s").ConfigureAwait(false);
            return;
        }

        await WriteBytesAsync(context, StatusCodes.Status200OK, reply).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>GET api/monitor/{service}</c>: taps <paramref name="service"/> with the protocol's own
    /// <c>monitor</c> message on a session of its own and streams every frame it receives (the
    /// <c>monitor_ack</c>, then each <c>monitor</c> envelope) as a server-sent event. A browser that
    /// cannot keep up is cut off after <c>max_send_queue_bytes</c> with an <c>overflow</c> event.
    /// </summary>
    public static async Task MonitorAsync(HttpContext context, string service)
    {
        var services = context.RequestServices;
        var engine = services.GetRequiredService<MkioEngineHost>().TryGetEngine();
        if (engine is not { IsStarted: true })
        {
            await WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "mkio is not running").ConfigureAwait(false);
            return;
        }

        var options = services.GetRequiredService<IOptions<MkioOptions>>().Value;
        var stopping = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var response = context.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var transport = new AdminTransport(options.MaxSendQueueBytes);
        var session = engine.OpenSession(transport, null);
        try
        {
            await response.WriteAsync(": mkio monitor\n\n", ended.Token).ConfigureAwait(false);
            await session.HandleAsync(MonitorMessage(service), ended.Token).ConfigureAwait(false);
            while (await transport.ReadAsync(ended.Token).ConfigureAwait(false) is { } frame)
            {
                await WriteEventAsync(response, null, frame, ended.Token).ConfigureAwait(false);
            }

            if (transport.Overflowed)
            {
                await WriteEventAsync(response, "overflow", "{\"error\":\"The monitor tap fell behind and was stopped\"}"u8.ToArray(), ended.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
            // The browser went away or the host is stopping.
        }
        finally
        {
            transport.Complete();
            await engine.CloseSessionAsync(session).ConfigureAwait(false);
        }
    }

    private static long QueuedBytes(Mkio.Sessions.IMkioTransport transport) => transport switch
    {
        MkioConnection c => c.QueuedBytes,
        AdminTransport a => a.QueuedBytes,
        _ => 0,
    };

    private static void WriteNullable(Utf8JsonWriter w, string name, int? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static byte[] MonitorMessage(string service)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", "monitor");
            w.WriteString("service", service);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The message's <c>type</c> when it is one the send endpoint refuses, else null.</summary>
    private static string? SubscriptionType(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("type", out var type)
                && type.ValueKind == JsonValueKind.String
                && type.GetString() is "subscribe" or "unsubscribe" or "monitor"
                ? type.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null; // the session answers it with the protocol's own error
        }
    }

    /// <summary>The body, or null when it exceeds <paramref name="limit"/> bytes.</summary>
    private static async Task<byte[]?> ReadBodyAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        using var ms = new MemoryStream();
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int n;
            while ((n = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (ms.Length + n > limit)
                {
                    return null;
                }

                ms.Write(buffer, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return ms.ToArray();
    }

    /// <summary>One server-sent event; a frame's line breaks (none in compact JSON) become further <c>data:</c> lines.</summary>
    private static async Task WriteEventAsync(HttpResponse response, string? name, byte[] data, CancellationToken cancellationToken)
    {
        var text = Encoding.UTF8.GetString(data).Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        var sb = new StringBuilder(text.Length + 16);
        if (name is not null)
        {
            sb.Append("event: ").Append(name).Append('\n');
        }

        foreach (var line in text.Split('\n'))
        {
            sb.Append("data: ").Append(line).Append('\n');
        }

        sb.Append('\n');
        await response.WriteAsync(sb.ToString(), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string error) =>
        WriteJsonAsync(context, status, w =>
        {
            w.WriteStartObject();
            w.WriteString("error", error);
            w.WriteEndObject();
        });

    private static Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }

        return WriteBytesAsync(context, status, buffer.WrittenMemory);
    }

    private static Task WriteBytesAsync(HttpContext context, int status, ReadOnlyMemory<byte> body)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = JsonType;
        response.ContentLength = body.Length;
        response.Headers.CacheControl = "no-store";
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }
}
