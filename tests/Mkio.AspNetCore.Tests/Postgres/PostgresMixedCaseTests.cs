using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Tests.Later;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// A table and columns with upper-case letters on PostgreSQL: the table keeps its TOML name (quoted in every SQL text
/// mkio generates), inserts, updates, upserts and deletes commit, query/subpub/stream services and a reqrep service
/// (its SQL double-quoting the names) serve the rows with their TOML column names, and a client resumes on another
/// node with a <c>delta</c>.
/// </summary>
public class PostgresMixedCaseTests
{
    private const string Config = """
        batch_max_wait_ms = 1.0

        [tables.OrderLines]
        columns = { Id = "INTEGER PRIMARY KEY AUTOINCREMENT", orderId = "TEXT NOT NULL", Qty = "INTEGER DEFAULT 0" }
        seed = "lines.csv"

        [services.add_line]
        type = "transaction"
        table = "OrderLines"
        op_type = "insert"
        fields = ["orderId", "Qty"]

        [services.set_qty]
        type = "transaction"
        table = "OrderLines"
        op_type = "update"
        key = ["Id"]
        fields = ["Qty"]

        [services.put_line]
        type = "transaction"
        table = "OrderLines"
        op_type = "upsert"
        key = ["Id"]
        fields = ["Id", "orderId", "Qty"]

        [services.remove_line]
        type = "transaction"
        table = "OrderLines"
        op_type = "delete"
        key = ["Id"]

        [services.lines]
        type = "query"
        primary_table = "OrderLines"

        [services.by_id]
        type = "subpub"
        primary_table = "OrderLines"
        key = "Id"

        [services.line_feed]
        type = "stream"
        primary_table = "OrderLines"

        [services.big_lines]
        type = "query"
        primary_table = "OrderLines"
        sql = 'SELECT "Id", "orderId", "Qty" FROM "OrderLines" WHERE "Qty" >= 10'

        [services.qty_of]
        protocol = "reqrep"
        sql = 'SELECT "Qty" FROM "OrderLines" WHERE "Id" = :id'
        """;

    [Test, CancelAfter(120_000)]
    public async Task Mixed_case_names_write_subscribe_and_resume_on_another_node(CancellationToken ct)
    {
        var cs = await PostgresReqRepSeedTests.NewDatabaseAsync(ct);
        using var dirA = new TempDirectory();
        using var dirB = new TempDirectory();
        foreach (var d in new[] { dirA, dirB })
        {
            await File.WriteAllTextAsync(d.File("lines.csv"), "Id,orderId,Qty\n1,o-1,3\n", ct);
        }

        var (nodeA, _) = await LaterHost.StartAsync(ct, Config, o => o.Postgres = cs, dir: dirA);
        await using (nodeA)
        {
            var (nodeB, _) = await LaterHost.StartAsync(ct, Config, o => o.Postgres = cs, dir: dirB);
            await using (nodeB)
            {
                Assert.That(await PostgresReqRepSeedTests.CountAsync(cs, "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'OrderLines'", ct), Is.EqualTo(1), "the TOML name, case kept");
                Assert.That(await PostgresReqRepSeedTests.CountAsync(cs, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'OrderLines' AND column_name IN ('Id', 'orderId', 'Qty')", ct), Is.EqualTo(3));

                await using var ws = await nodeA.ConnectAsync("ws", ct);
                await using var feed = await nodeA.ConnectAsync("ws", ct);
                var stream = await feed.RequestAsync("""{"service":"line_feed","type":"subscribe"}""", ct);
                Assert.That(stream.GetRawText(), Does.Contain("\"orderId\":\"o-1\""), stream.GetRawText());

                await OkAsync(ws, """{"service":"add_line","ref":"m1","data":{"orderId":"o-2","Qty":5}}""", ct);
                var snapshot = await ws.RequestAsync("""{"service":"lines","type":"subscribe"}""", ct);
                Assert.That(Lines(snapshot.GetProperty("rows")), Is.EquivalentTo(new[] { "1:o-1:3", "2:o-2:5" }), snapshot.GetRawText());
                var lastRef = snapshot.GetProperty("ref").GetString();
                Assert.That(lastRef, Is.EqualTo("m1"));

                await OkAsync(ws, """{"service":"set_qty","ref":"m2","data":{"Id":2,"Qty":12}}""", ct);
                await OkAsync(ws, """{"service":"put_line","ref":"m3","data":{"Id":1,"orderId":"o-1b","Qty":4}}""", ct);
                await OkAsync(ws, """{"service":"add_line","ref":"m4","data":{"orderId":"o-3","Qty":20}}""", ct);
                await OkAsync(ws, """{"service":"remove_line","ref":"m5","data":{"Id":1}}""", ct);
                var inserted = await feed.ReceiveUntilAsync(m => m.GetRawText().Contains("\"m4\"", StringComparison.Ordinal), ct);
                Assert.That(inserted.GetRawText(), Does.Contain("\"orderId\":\"o-3\""), inserted.GetRawText());

                // The journal rows carry the TOML column names.
                Assert.That(await PostgresReqRepSeedTests.CountAsync(cs, "SELECT count(*) FROM _mkio_journal WHERE tbl = 'OrderLines' AND row LIKE '%\"orderId\"%'", ct), Is.EqualTo(5));

                // Node B: a resume with m1 gets exactly m2..m5 as a delta; the subpub and the quoted custom SQL serve the rows.
                var engineB = nodeB.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().TryGetEngine()!;
                var engineA = nodeA.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().TryGetEngine()!;
                await Eventually.WaitUntilAsync(() => engineB.Position >= engineA.Position, "node B followed node A", ct);
                await using var onB = await nodeB.ConnectAsync("ws", ct);
                var delta = await onB.RequestAsync("""{"service":"lines","type":"subscribe","ref":"m1"}""", ct);
                Assert.That(delta.GetProperty("type").GetString(), Is.EqualTo("delta"), delta.GetRawText());
                Assert.That(delta.GetProperty("ref").GetString(), Is.EqualTo("m5"), delta.GetRawText());
                var changes = delta.GetProperty("changes").EnumerateArray().ToList();
                Assert.That(changes, Has.Count.EqualTo(4), delta.GetRawText());
                Assert.That(changes[0].GetProperty("row").GetProperty("Qty").GetInt64(), Is.EqualTo(12));
                Assert.That(changes[1].GetProperty("row").GetProperty("orderId").GetString(), Is.EqualTo("o-1b"));
                Assert.That(changes[2].GetProperty("row").GetProperty("_mkio_ref").GetString(), Is.EqualTo("m4"));
                Assert.That(changes[3].GetProperty("op").GetString(), Is.EqualTo("delete"));

                var big = await onB.RequestAsync("""{"service":"big_lines","type":"subscribe"}""", ct);
                Assert.That(Lines(big.GetProperty("rows")), Is.EquivalentTo(new[] { "2:o-2:12", "3:o-3:20" }), big.GetRawText());
                var byId = await onB.RequestAsync("""{"service":"by_id","type":"subscribe"}""", ct);
                Assert.That(byId.GetRawText(), Does.Contain("\"orderId\":\"o-3\"").And.Not.Contain("o-1b"), byId.GetRawText());
                Assert.That(await onB.AskAsync("""{"type":"request","service":"qty_of","reqid":"q","data":{"id":3}}""", ct),
                    Is.EqualTo("""{"type":"reply","service":"qty_of","reqid":"q","rows":[{"Qty":20}]}"""));
            }
        }
    }

    private static IEnumerable<string> Lines(JsonElement rows) =>
        rows.EnumerateArray().Select(r => $"{r.GetProperty("Id").GetInt64()}:{r.GetProperty("orderId").GetString()}:{r.GetProperty("Qty").GetInt64()}");
}
