using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>The tests of <see cref="ValueBindingTests"/> that only apply to SQLite (left out of the PostgreSQL conformance run, tests/Mkio.Postgres.Tests).</summary>
public partial class ValueBindingTests
{
    /// <summary>The <c>v</c> column has no affinity (BLOB), so it keeps the storage class the value was bound with.</summary>
    [TestCase("1e2", "real", 100.0)]
    [TestCase("1E2", "real", 100.0)]
    [TestCase("100.0", "real", 100.0)]
    [TestCase("2.5", "real", 2.5)]
    [TestCase("-0.5e-1", "real", -0.05)]
    [TestCase("100", "integer", 100L)]
    [TestCase("-7", "integer", -7L)]
    [TestCase("9223372036854775807", "integer", long.MaxValue)]
    [TestCase("-9223372036854775808", "integer", long.MinValue)]
    [TestCase("true", "integer", 1L)]
    [TestCase("false", "integer", 0L)]
    [TestCase("null", "null", null)]
    [TestCase("\"100\"", "text", "100")]
    [TestCase("\"\\u00dcn\\u00ef\"", "text", "Ünï")]
    [CancelAfter(30_000)]
    // PostgreSQL columns are typed: SQLite's dynamic typing (a BLOB column keeps any storage class, an INTEGER column keeps 2.5) is a datatype mismatch there.
    [Category(StoreCategories.SqliteOnly)]
    public async Task Bind_JsonValue_StoredWithMatchingStorageClass(string json, string storageClass, object? stored, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync($$$"""{"service":"put","ref":"v","data":{"id":"1","v":{{{json}}}}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"put","ref":"v","ok":true}"""));
            var row = TxTest.Query(host, "SELECT typeof(v), v FROM vals").Single();
            Assert.That(row[0], Is.EqualTo(storageClass));
            Assert.That(row[1], Is.EqualTo(stored));
            if (stored is not null)
            {
                Assert.That(row[1]!.GetType(), Is.EqualTo(stored.GetType()));
            }
        }
    }

    [Test, CancelAfter(30_000)]
    // PostgreSQL columns are typed: SQLite's dynamic typing (a BLOB column keeps any storage class, an INTEGER column keeps 2.5) is a datatype mismatch there.
    [Category(StoreCategories.SqliteOnly)]
    public async Task Bind_BooleansAndNumbers_ColumnAffinityApplies(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"put","ref":"a","data":{"id":"a","t":true,"i":1e2}}""",
            """{"service":"put","ref":"b","data":{"id":"b","t":2.5,"i":"12"}}""",
            """{"service":"put","ref":"c","data":{"id":"c","t":false,"i":2.5}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Json.GetProperty("type").GetString()), Is.All.EqualTo("result"));
            Assert.That(TxTest.Query(host, "SELECT id, t, typeof(t), i, typeof(i) FROM vals ORDER BY id"), Is.EqualTo(new[]
            {
                new object?[] { "a", "1", "text", 100L, "integer" },
                new object?[] { "b", "2.5", "text", 12L, "integer" },
                new object?[] { "c", "0", "text", 2.5, "real" },
            }));
        }
    }

    [Test, CancelAfter(30_000)]
    // PostgreSQL columns are typed: SQLite's dynamic typing (a BLOB column keeps any storage class, an INTEGER column keeps 2.5) is a datatype mismatch there.
    [Category(StoreCategories.SqliteOnly)]
    public async Task Bind_OpDefaults_BindByTomlType(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var reply = await ws.RequestAsync("""{"service":"put_defaults","ref":"d","data":{"id":"d"}}""", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reply.GetRawText(), Is.EqualTo("""{"type":"result","service":"put_defaults","ref":"d","ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT typeof(v), v, typeof(t), t, typeof(i), i FROM vals"), Is.EqualTo(new[]
            {
                new object?[] { "real", 2.5, "text", "1", "integer", 0L },
            }));
        }
    }

    /// <summary>
    /// Text is bound from a stack or pooled buffer with its length: a NUL character and what follows it are kept,
    /// "" stays "" (an empty span would bind NULL), and a value longer than the stack buffer goes through the pooled one.
    /// </summary>
    [Test, CancelAfter(30_000)]
    // PostgreSQL text cannot hold a NUL character.
    [Category(StoreCategories.SqliteOnly)]
    public async Task Bind_TextWithNul_EmptyText_LongText_StoredWhole(CancellationToken ct)
    {
        var longText = string.Concat(Enumerable.Repeat("é\"x", 120));
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"put","ref":"a","data":{"id":"a","t":"A\u0000B"}}""",
            """{"service":"put","ref":"b","data":{"id":"b","t":""}}""",
            $$$"""{"service":"put","ref":"c","data":{"id":"c","t":"{{{longText.Replace("\"", "\\\"", StringComparison.Ordinal)}}}"}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies.Select(r => r.Json.GetProperty("ok").GetBoolean()), Is.All.True);
            var rows = TxTest.Query(host, "SELECT id, typeof(t), hex(t), t FROM vals ORDER BY id");
            Assert.That(rows[0], Is.EqualTo(new object?[] { "a", "text", "410042", "A\0B" }));
            Assert.That(rows[1], Is.EqualTo(new object?[] { "b", "text", string.Empty, string.Empty }));
            Assert.That(rows[2][3], Is.EqualTo(longText));
        }
    }
}
