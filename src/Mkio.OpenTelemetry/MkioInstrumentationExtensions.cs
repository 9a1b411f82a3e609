using Mkio;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace OpenTelemetry;

/// <summary>
/// Registers mkio's telemetry with OpenTelemetry: its meter (<see cref="MkioTelemetry.MeterName"/>) on a
/// <see cref="MeterProviderBuilder"/> and its activity source (<see cref="MkioTelemetry.ActivitySourceName"/>) on a
/// <see cref="TracerProviderBuilder"/>.
/// </summary>
public static class MkioInstrumentationExtensions
{
    /// <summary>Collects mkio's metrics (the <c>Mkio</c> meter: writer, connections, subscriptions, traffic).</summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static MeterProviderBuilder AddMkioInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(MkioTelemetry.MeterName);
    }

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
