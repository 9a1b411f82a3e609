using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>The tests of <see cref="TransactionErrorTests"/> that only apply to SQLite (left out of the PostgreSQL conformance run, tests/Mkio.Postgres.Tests).</summary>
public partial class TransactionErrorTests
{
    [Test, CancelAfter(30_000)]
    // SQLite accepts a NULL in a TEXT PRIMARY KEY (a SQLite quirk this test pins); PostgreSQL refuses it. Its constraint texts run on PostgreSQL in SmokeTests, ConcurrencyTests and others.
    [Category(StoreCategories.SqliteOnly)]
    public async Task Insert_ConstraintViolations_SqliteTextVerbatim(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Fixture, ct);
        await using var ws = await host.ConnectAsync("ws", ct);
        var replies = await TxTest.PipelineAsync(ws,
        [
            """{"service":"add_order","ref":"r1","data":{"id":"1","symbol":"AAPL","qty":1}}""",
            """{"service":"add_order","ref":"r1b","data":{"id":"1","symbol":"AAPL","qty":1}}""",
            """{"service":"add_order","ref":"r2","data":{"id":"2","symbol":null,"qty":1}}""",
            """{"service":"add_order","ref":"r3","data":{"id":null,"symbol":"A","qty":1}}""",
            """{"service":"update_order","ref":"r4","data":{"id":"1","qty":2}}""",
        ], ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(replies[0].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"r1","ok":true}"""));
            Assert.That(replies[1].Text, Is.EqualTo($$"""{"type":"error","message":"{{StoreErrors.UniqueJson("orders", "id")}}","ref":"r1b"}"""));
            Assert.That(replies[2].Text, Is.EqualTo($$"""{"type":"error","message":"{{StoreErrors.NotNullJson("orders", "symbol")}}","ref":"r2"}"""));
            Assert.That(replies[3].Text, Is.EqualTo("""{"type":"result","service":"add_order","ref":"r3","ok":true}"""), "SQLite allows a NULL TEXT primary key (reference behaviour)");
            Assert.That(replies[4].Text, Is.EqualTo("""{"type":"result","service":"update_order","ref":"r4","ok":true}"""));
            Assert.That(TxTest.Query(host, "SELECT id, qty, _mkio_ref FROM orders ORDER BY _mkio_ref"), Is.EqualTo(new[]
            {
                new object?[] { null, 1L, "r3" },
                new object?[] { "1", 2L, "r4" },
            }));
        }
    }
}
