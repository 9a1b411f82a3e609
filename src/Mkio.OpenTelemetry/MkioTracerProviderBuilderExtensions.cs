using Mkio;

namespace OpenTelemetry.Trace;

/// <summary>
/// Registers mkio's activity source (<see cref="MkioTelemetry.ActivitySourceName"/>) on a
/// <see cref="TracerProviderBuilder"/>. The class is in OpenTelemetry's own <c>OpenTelemetry.Trace</c> namespace, like
/// the SDK's instrumentation extensions, so the <c>using OpenTelemetry.Trace;</c> an app already has is enough.
/// </summary>
public static class MkioTracerProviderBuilderExtensions
{
    /// <summary>
    /// Collects mkio's spans (the <c>Mkio</c> activity source: <c>mkio.transaction</c>, <c>mkio.batch</c>,
    /// <c>mkio.subscribe</c>, <c>mkio.fanout</c>).
    /// </summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static TracerProviderBuilder AddMkioInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(MkioTelemetry.ActivitySourceName);
    }
}
