using System.Buffers;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Mkio.Data;
using Mkio.Protocol;

namespace Mkio.Benchmarks;

/// <summary>
/// Per-message JSON costs on the write and fan-out paths: serialising an order-book row the Python
/// way (<see cref="WireJson"/>), against System.Text.Json's own serializer on the same values, plus the
/// transaction reply frame and parsing the inbound request envelope.
/// </summary>
[MemoryDiagnoser]
public class WireJsonBenchmarks
{
    private static readonly RowSchema OrderSchema = new(["id", "side", "symbol", "qty", "price", "status", "_mkio_ref"]);
    private static readonly byte[] Request = Encoding.UTF8.GetBytes(
        """{"service":"orders","op":"new","msgid":"c0001-0000000042","data":{"side":"Buy","symbol":"AAPL","qty":100,"price":101.25}}""");

    private readonly ArrayBufferWriter<byte> _output = new(1024);
    private Row _row = null!;
    private Dictionary<string, object?> _dictionary = null!;
    private Utf8JsonWriter _writer = null!;
    private JsonDocument _msgidDocument = null!;
    private JsonElement _msgid;

    [GlobalSetup]
    public void Setup()
    {
        object?[] values = [42L, "Buy", "AAPL", 100L, 150.25, "pending", "20261124 21:00:00.123456700000"];
        _row = new Row(OrderSchema, values);
        _dictionary = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (var i = 0; i < OrderSchema.Count; i++)
        {
            _dictionary[OrderSchema.Names[i]] = values[i];
        }

        _writer = WireJson.CreateWriter(_output);
        _msgidDocument = JsonDocument.Parse("\"c0001-0000000042\"");
        _msgid = _msgidDocument.RootElement;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        _msgidDocument.Dispose();
    }

    [Benchmark(Baseline = true, Description = "WireJson.WriteRow (reused writer)")]
    public int WriteRow()
    {
        _output.ResetWrittenCount();
        _writer.Reset(_output);
        WireJson.WriteRow(_writer, _row);
        _writer.Flush();
        return _output.WrittenCount;
    }

    [Benchmark(Description = "WireJson.Serialize row → byte[] (fan-out frame)")]
    public byte[] SerializeRow() => WireJson.Serialize(_row, static (w, row) => WireJson.WriteRow(w, row));

    [Benchmark(Description = "JsonSerializer.SerializeToUtf8Bytes(Dictionary)")]
    public byte[] SystemTextJsonDictionary() => JsonSerializer.SerializeToUtf8Bytes(_dictionary);

    [Benchmark(Description = "Frames.TransactionResult (reply frame)")]
    public byte[] TransactionReply() => Frames.TransactionResult("orders", "20261124 21:00:00.123456700000", _msgid);

    [Benchmark(Description = "JsonDocument.Parse + Envelope (request)")]
    public int ParseRequest()
    {
        using var document = JsonDocument.Parse(Request);
        var envelope = new Envelope(document.RootElement, null);
        return envelope.Echo.ValueKind == JsonValueKind.Object ? 1 : 0;
    }
}
