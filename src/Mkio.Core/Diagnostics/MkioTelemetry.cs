using System.Diagnostics;

namespace Mkio;

/// <summary>
/// The names under which mkio publishes its telemetry: the <see cref="System.Diagnostics.Metrics.Meter"/> with the
/// <c>mkio.*</c> instruments and the <see cref="ActivitySource"/> with the <c>mkio.transaction</c>,
/// <c>mkio.batch</c>, <c>mkio.subscribe</c> and <c>mkio.fanout</c> spans. Pass them to
/// <c>AddMeter</c> / <c>AddSource</c> of an OpenTelemetry provider (or use the Mkio.OpenTelemetry package's
/// <c>AddMkioInstrumentation()</c>).
/// </summary>
public static class MkioTelemetry
{
    /// <summary>The name of mkio's meter: <c>Mkio</c>.</summary>
    public const string MeterName = "Mkio";

    /// <summary>The name of mkio's activity source: <c>Mkio</c>.</summary>
    public const string ActivitySourceName = "Mkio";

    /// <summary>The activity source every mkio span comes from. Starting an activity costs nothing while nothing listens.</summary>
    internal static readonly ActivitySource Source = new(ActivitySourceName, typeof(MkioTelemetry).Assembly.GetName().Version?.ToString());

    internal const string TransactionSpan = "mkio.transaction";
    internal const string BatchSpan = "mkio.batch";
    /// <summary>
    /// True in the flow of the start-up warm-up (and the tasks it starts): its private engine's requests, batches and
    /// fan-outs produce no spans, so a host's tracing shows only its clients' work.
    /// </summary>
    internal static readonly AsyncLocal<bool> Suppressed = new();

    internal const string SubscribeSpan = "mkio.subscribe";
    internal const string FanOutSpan = "mkio.fanout";

    internal const string ServiceNameTag = "mkio.service.name";
    internal const string ServiceTypeTag = "mkio.service.type";

    /// <summary>
    /// Starts the span of one client request (<c>mkio.transaction</c>, <c>mkio.subscribe</c>) as a new trace
    /// linked to the connection's span: a WebSocket connection's HTTP request lasts as long as the connection, so
    /// its span is no parent for the requests that arrive over it. With no connection (in-process calls) the
    /// span is a child of the caller's current activity. Null when nothing listens.
    /// </summary>
    internal static Activity? StartRequest(string name, ActivityContext? connection, string service, string serviceType)
    {
        if (!Source.HasListeners() || Suppressed.Value)
        {
            return null;
        }

        Activity? activity;
        if (connection is { } link)
        {
            var current = Activity.Current;
            Activity.Current = null;
            activity = Source.StartActivity(
                name,
                ActivityKind.Server,
                default(ActivityContext),
                links: link == default ? null : [new ActivityLink(link)]);
            if (activity is null)
            {
                Activity.Current = current;
            }
        }
        else
        {
            activity = Source.StartActivity(name, ActivityKind.Server);
        }

        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(ServiceNameTag, service);
            activity.SetTag(ServiceTypeTag, serviceType);
        }

        return activity;
    }

    /// <summary>
    /// Starts the writer's <c>mkio.batch</c> span: one database transaction, a new trace of its own; the writer adds a
    /// link to each transaction it executes. <paramref name="system"/> is the <c>db.system.name</c> (<c>sqlite</c>, or
    /// <c>postgresql</c> for the PostgreSQL writer). Null when nothing listens.
    /// </summary>
    internal static Activity? StartBatch(string system = "sqlite")
    {
        if (!Source.HasListeners() || Suppressed.Value)
        {
            return null;
        }

        Activity.Current = null;
        var activity = Source.StartActivity(BatchSpan, ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("db.system.name", system);
        }

        return activity;
    }

    /// <summary>Ends a batch span with the number of transactions it held, failed with <paramref name="error"/> when its COMMIT failed.</summary>
    internal static void EndBatch(Activity? activity, int size, string? error)
    {
        if (activity is null)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag("db.operation.batch.size", size);
        }

        if (error is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, error);
        }

        activity.Stop();
    }

    /// <summary>
    /// Starts a listener service's <c>mkio.fanout</c> span for one committed batch of changes, as a child of the
    /// writer's batch span. Null when nothing listens.
    /// </summary>
    internal static Activity? StartFanOut(ActivityContext batch, string service, string serviceType, int changes)
    {
        if (!Source.HasListeners() || Suppressed.Value)
        {
            return null;
        }

        var activity = Source.StartActivity(FanOutSpan, ActivityKind.Producer, batch);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(ServiceNameTag, service);
            activity.SetTag(ServiceTypeTag, serviceType);
            activity.SetTag("messaging.batch.message_count", changes);
        }

        return activity;
    }

    /// <summary>Marks the current activity failed when it is the mkio span <paramref name="name"/>.</summary>
    internal static void FailCurrent(string name, string message)
    {
        if (Activity.Current is { } a && ReferenceEquals(a.Source, Source) && a.OperationName == name)
        {
            a.SetStatus(ActivityStatusCode.Error, message);
        }
    }
}
