using BenchmarkDotNet.Attributes;
using Mkio.Data;
using Mkio.Protocol;

namespace Mkio.Benchmarks;

/// <summary>
/// Does serialising a committed row once (<see cref="Row.EncodedJson"/>) and splicing its bytes into the update
/// frame of every service that sends it pay, against writing the row into each service's frame directly?
/// One operation = one committed row sent by <see cref="Services"/> services (fresh row each time, as in fan-out).
/// </summary>
[MemoryDiagnoser]
public class UpdateFrameBenchmarks
{
    private static readonly RowSchema OrderSchema = new(["id", "side", "symbol", "qty", "price", "status", "_mkio_ref"]);
    private static readonly string[] Names = ["all_orders", "open_orders", "orders_by_symbol"];
    private readonly object?[] _values = [42L, "Buy", "AAPL", 100L, 150.25, "pending", "20261124 21:00:00.123456700000"];

    /// <summary>How many services send the same row.</summary>
    [Params(1, 2, 3)]
    public int Services { get; set; }

    [Benchmark(Baseline = true, Description = "row bytes shared (EncodedJson)")]
    public int Shared()
    {
        var row = new Row(OrderSchema, _values);
        var n = 0;
        for (var s = 0; s < Services; s++)
        {
            n += SubscriptionFrames.UpdateFrame(Names[s], "20261124 21:00:00.123456700000", "insert", row).Length;
        }

        return n;
    }

    [Benchmark(Description = "row written into each frame")]
    public int Direct()
    {
        var row = new Row(OrderSchema, _values);
        var n = 0;
        for (var s = 0; s < Services; s++)
        {
            n += WireJson.Serialize((Names[s], row), static (w, st) =>
            {
                w.WriteStartObject();
                w.WriteString("type"u8, "update"u8);
                w.WritePropertyName("service"u8);
                WireJson.WriteString(w, st.Item1);
                w.WritePropertyName("ref"u8);
                WireJson.WriteString(w, "20261124 21:00:00.123456700000");
                w.WritePropertyName("op"u8);
                WireJson.WriteString(w, "insert");
                w.WritePropertyName("row"u8);
                WireJson.WriteRow(w, st.row);
                w.WriteEndObject();
            }).Length;
        }

        return n;
    }
}
