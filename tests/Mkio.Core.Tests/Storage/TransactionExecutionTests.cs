namespace Mkio.Core.Tests.Storage;

/// <summary>
/// Request → parameters → SQLite at the transaction-service level (SERVICES.md §4, §5.2–5.4): the
/// exact failure texts and how JSON values are bound.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public class TransactionExecutionTests
{
    private static void Fixture(MkioOptions o)
    {
        StorageTestEngine.FixtureA(o);
        o.Table("vals", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("note", "TEXT")
                .Column("v", "BLOB"))
            .Transaction("put", tx => tx.Insert("vals", ["id", "note", "v"]))
            .Transaction("named", tx => tx
                .Op("one", ops => ops.Insert("vals", ["id"]))
                .Op("two", ops => ops.Insert("vals", ["id", "v"])));
    }

    [TestCase("add_order", """{"ref":"r","data":{"id":"1"}}""", "Missing field: 'symbol'")]
    [TestCase("add_order", """{"ref":"r","data":{"symbol":"S"}}""", "Missing field: 'id'")]
    [TestCase("update_order", """{"ref":"r","data":{"qty":1}}""", "Missing field: 'id'")]
    [TestCase("add_order", """{"ref":"r","data":null}""", "argument of type 'NoneType' is not iterable")]
    [TestCase("add_order", """{"ref":"r","data":[]}""", "list indices must be integers or slices, not str")]
    [TestCase("add_order", """{"ref":"r","op":"x","data":{}}""", "Unknown op: 'x'")]
    [TestCase("named", """{"ref":"r","data":{"id":"1"}}""", "Multiple ops defined — specify 'op' field")]
    [TestCase("named", """{"ref":"r","op":"three","data":{"id":"1"}}""", "Unknown op: 'three'. Available ops: one, two")]
    [TestCase("named", """{"ref":"r","op":7,"data":{"id":"1"}}""", "Unknown op: 7. Available ops: one, two")]
    [TestCase("named", """{"ref":"r","op":"tow","data":{"id":"1"}}""", "Unknown op: 'tow'. Available ops: one, two. Did you mean 'two'?")]
    [TestCase("add_order", """{"ref":"r","data":{"id":"1","symbol":{"a":1}}}""", "Error binding parameter 2: type 'dict' is not supported")]
    [TestCase("put", """{"ref":"r","data":{"id":"1","v":[1]}}""", "Error binding parameter 2: type 'list' is not supported")]
    [TestCase("put", """{"ref":"r","data":{"id":"1","note":null,"v":{}}}""", "Error binding parameter 3: type 'dict' is not supported")]
    [TestCase("add_order", """{"ref":"r","data":{"id":"1","symbol":"S","qty":18446744073709551616}}""", "Python int too large to convert to SQLite INTEGER")]
    [TestCase("add_order", """{"ref":"r","data":{"id":"1","symbol":null}}""", "NOT NULL constraint failed: orders.symbol")]
    [CancelAfter(30_000)]
    public async Task ExecuteAsync_InvalidRequest_ExactErrorAndNothingWritten(string service, string request, string error, CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 1, batchMaxWaitMs: 0, ct, Fixture);
        var outcome = await t.Submit(service, request, ct);
        var rows = await t.QueryAsync("SELECT (SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM vals)", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcome, Is.EqualTo(new Mkio.Storage.WriteOutcome(false, "r", error)));
            Assert.That(rows[0][0], Is.EqualTo(0L));
            Assert.That(t.Events, Is.Empty);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task ExecuteAsync_NonStringRef_RejectedWithoutRef(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 1, batchMaxWaitMs: 0, ct, Fixture);
        var outcome = await t.Submit("add_order", """{"ref":5,"data":{"id":"1","symbol":"S"}}""", ct);
        var rows = await t.QueryAsync("SELECT COUNT(*) FROM orders", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcome, Is.EqualTo(new Mkio.Storage.WriteOutcome(false, string.Empty, "Invalid 'ref' field: must be a string")));
            Assert.That(rows[0][0], Is.EqualTo(0L));
        }
    }

    [TestCase("1e2", "real", 100.0)]
    [TestCase("2.5", "real", 2.5)]
    [TestCase("100", "integer", 100L)]
    [TestCase("true", "integer", 1L)]
    [TestCase("false", "integer", 0L)]
    [TestCase("null", "null", null)]
    [TestCase("\"x\"", "text", "x")]
    [CancelAfter(30_000)]
    public async Task ExecuteAsync_JsonValue_BoundWithItsStorageClass(string json, string storageClass, object? value, CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 1, batchMaxWaitMs: 0, ct, Fixture);
        var outcome = await t.Submit("put", $$$"""{"ref":"r","data":{"id":"1","v":{{{json}}}}}""", ct);
        var rows = await t.QueryAsync("SELECT typeof(v), v, note FROM vals", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcome.Ok, Is.True, outcome.Error);
            Assert.That(rows, Has.Count.EqualTo(1));
            Assert.That(rows[0][0], Is.EqualTo(storageClass));
            Assert.That(rows[0][1], Is.EqualTo(value));
            Assert.That(rows[0][1]?.GetType(), Is.EqualTo(value?.GetType()));
            Assert.That(rows[0][2], Is.Null, "the omitted nullable field is NULL (F14)");
        }
    }
}
