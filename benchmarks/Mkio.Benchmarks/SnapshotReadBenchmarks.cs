using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Mkio.Protocol;
using Mkio.Services.Listeners;
using Mkio.Storage;

namespace Mkio.Benchmarks;

/// <summary>
/// One 100,000-row query snapshot read and serialised: rows first (<see cref="MkioDatabase.QueryAll"/>, then
/// <see cref="SerializedRows"/>) against the statement encoded straight into wire bytes (<see cref="DirectSnapshot"/>),
/// with the row count known from an earlier read and unknown (the first read after a start).
/// </summary>
[MemoryDiagnoser]
public class SnapshotReadBenchmarks
{
    private const int Rows = 100_000;
    private const string Sql = "SELECT * FROM orders";
    private string _directory = null!;
    private SqliteConnection _connection = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("mkio-bench-snapshot-").FullName;
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(_directory, "o.db"), Pooling = false }.ToString());
        _connection.Open();
        using var tx = _connection.BeginTransaction();
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = "CREATE TABLE orders (id INTEGER PRIMARY KEY, side TEXT, symbol TEXT, qty INTEGER, price REAL, status TEXT, _mkio_ref TEXT)";
        cmd.ExecuteNonQuery();
        cmd.CommandText = "INSERT INTO orders VALUES ($id, 'Buy', $symbol, $qty, $price, 'pending', $ref)";
        var id = cmd.Parameters.Add("$id", SqliteType.Integer);
        var symbol = cmd.Parameters.Add("$symbol", SqliteType.Text);
        var qty = cmd.Parameters.Add("$qty", SqliteType.Integer);
        var price = cmd.Parameters.Add("$price", SqliteType.Real);
        var @ref = cmd.Parameters.Add("$ref", SqliteType.Text);
        string[] symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "IBM"];
        for (var i = 1; i <= Rows; i++)
        {
            id.Value = i;
            symbol.Value = symbols[i % symbols.Length];
            qty.Value = i % 500;
            price.Value = 100 + (i % 1000 / 4.0);
            @ref.Value = $"20261206 05:00:00.{i:D12}";
            cmd.ExecuteNonQuery();
        }

        tx.Commit();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _connection.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "rows, then serialised")]
    public int RowsThenSerialised() => new SerializedRows(MkioDatabase.QueryAll(_connection, Sql)).Count;

    [Benchmark(Description = "direct, count known")]
    public int DirectCountKnown() => DirectSnapshot.TryRead(_connection, Sql, Rows)!.Count;

    [Benchmark(Description = "direct, count unknown (counted first)")]
    public int DirectCountUnknown() => DirectSnapshot.TryRead(_connection, Sql, -1)!.Count;
}
