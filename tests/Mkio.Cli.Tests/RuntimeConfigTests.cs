using System.Text.Json;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// The runtime settings <c>mkio serve</c> and the order-book sample run with (docs/deployment.md): server GC, a 64 MB
/// gen0 budget, DATAS off and Dynamic PGO off — as their build outputs' <c>*.runtimeconfig.json</c> hand them to the runtime.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class RuntimeConfigTests
{
    private static JsonElement ConfigProperties(string runtimeConfig)
    {
        Assert.That(File.Exists(runtimeConfig), Is.True, runtimeConfig);
        using var doc = JsonDocument.Parse(File.ReadAllText(runtimeConfig));
        return doc.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").Clone();
    }

    private static void AssertRuntimeSettings(JsonElement properties)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(properties.TryGetProperty("System.GC.Server", out var server) && server.GetBoolean(), Is.True, "server GC");
            Assert.That(properties.TryGetProperty("System.GC.Gen0Size", out var gen0) ? gen0.GetInt64() : 0, Is.EqualTo(64L * 1024 * 1024), "gen0 budget");
            Assert.That(properties.TryGetProperty("System.GC.DynamicAdaptationMode", out var datas) ? datas.GetInt32() : -1, Is.Zero, "DATAS off");
            Assert.That(properties.TryGetProperty("System.Runtime.TieredPGO", out var pgo) && pgo.ValueKind == JsonValueKind.False, Is.True, "Dynamic PGO off");
        }
    }

    [Test]
    public void MkioServe_RunsWithServerGcA64MbGen0BudgetDatasOffAndPgoOff() =>
        AssertRuntimeSettings(ConfigProperties(Path.ChangeExtension(MkioProcess.MkioDll, ".runtimeconfig.json")));

    [Test]
    public void OrderBookSample_RunsWithServerGcA64MbGen0BudgetDatasOffAndPgoOff()
    {
        using var app = Fixtures.CopyOfOrderBookSample();
        AssertRuntimeSettings(ConfigProperties(Path.Combine(app.Path, "OrderBook.runtimeconfig.json")));
    }
}
