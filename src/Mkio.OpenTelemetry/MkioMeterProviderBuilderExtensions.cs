using Mkio;

namespace OpenTelemetry.Metrics;

/// <summary>
/// Registers mkio's meter (<see cref="MkioTelemetry.MeterName"/>) on a <see cref="MeterProviderBuilder"/>. The class is in
/// OpenTelemetry's own <c>OpenTelemetry.Metrics</c> namespace, like the SDK's instrumentation extensions, so the
/// <c>using OpenTelemetry.Metrics;</c> an app already has for its exporters is enough.
/// </summary>
public static class MkioMeterProviderBuilderExtensions
{
    /// <summary>Collects mkio's metrics (the <c>Mkio</c> meter: writer, connections, subscriptions, traffic).</summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static MeterProviderBuilder AddMkioInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(MkioTelemetry.MeterName);
    }
}
