using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Tests.Later;
using Mkio.TestUtilities;
using Npgsql;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// <c>reqrep</c> services and table <c>seed</c> files on PostgreSQL through real Kestrel: the replies and errors of
/// SQLite (the later-style shop of <see cref="LaterHost"/>, seeded from CSV), seeding exactly once when two nodes
/// start together, seeded rows outside the journal (as on SQLite), identity ids continuing after seeded ids, and a
/// bad seed that stops start-up and leaves no table behind.
/// </summary>
public class PostgresReqRepSeedTests
{
    /// <summary>The shop config of <see cref="LaterHost"/> on PostgreSQL (its <c>db_path</c> removed).</summary>
    private static readonly string ShopConfig = LaterHost.Config.Replace("db_path = \"later.db\"\n", string.Empty, StringComparison.Ordinal);

    [Test, CancelAfter(120_000)]
    public async Task ReqRep_answers_as_on_sqlite_bounded_in_rows_and_time_and_read_only(CancellationToken ct)
    {
        var cs = await NewDatabaseAsync(ct);
        var (host, dir) = await LaterHost.StartAsync(ct, ShopConfig, o =>
        {
            o.Postgres = cs;
            o.ReqRepTimeoutMs = 200;
            o.ReqRepMaxRows = 2;
        });
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            (string Request, string Expected)[] cases =
            [
                ("""{"type":"request","service":"price","reqid":"r1","data":{"item":"a1"}}""", """{"type":"reply","service":"price","reqid":"r1","value":3.0}"""),
                ("""{"type":"request","service":"price","reqid":"r2","data":{"item":"zz"}}""", """{"type":"reply","service":"price","reqid":"r2","value":null}"""),
                ("""{"type":"request","service":"price","reqid":"sqli","data":{"item":"a1' OR '1'='1"}}""", """{"type":"reply","service":"price","reqid":"sqli","value":null}"""),
                ("""{"type":"request","service":"list","reqid":7,"data":{"min":3}}""", """{"type":"reply","service":"list","reqid":7,"rows":[{"id":"A1","qty":10},{"id":"B2","qty":3}]}"""),
                ("""{"type":"request","service":"list","reqid":"s","data":{"min":"3"}}""", """{"type":"reply","service":"list","reqid":"s","rows":[{"id":"A1","qty":10},{"id":"B2","qty":3}]}"""),
                ("""{"type":"request","service":"list","reqid":"m","data":{}}""", """{"type":"error","message":"You did not supply a value for binding parameter :min.","reqid":"m"}"""),
                ("""{"type":"request","service":"priced","reqid":"p"}""", """{"type":"error","message":"Service 'priced': the result has more than 2 rows (ReqRepMaxRows)","reqid":"p"}"""),
                ("""{"type":"request","service":"wipe","reqid":"w"}""", """{"type":"error","message":"attempt to write a readonly database","reqid":"w"}"""),
                ("""{"type":"request","service":"spin","reqid":"t"}""", """{"type":"error","message":"Service 'spin': the query was interrupted after 200 ms (ReqRepTimeoutMs)","reqid":"t"}"""),
                ("""{"type":"request","service":"price","reqid":"after","data":{"item":"b2"}}""", """{"type":"reply","service":"price","reqid":"after","value":4.5}"""),
                ("""{"type":"request","service":"tax","data":{"amount":50}}""", """{"type":"reply","service":"tax","value":10.0}"""),
            ];
            foreach (var (request, expected) in cases)
            {
                Assert.That(await ws.AskAsync(request, ct), Is.EqualTo(expected), request);
            }

            // A request sees the connection's earlier write.
            await ws.WriteAsync("""{"service":"add_item","ref":"w1","data":{"id":"D4","name":"dates","price":2.0,"qty":5}}""", ct);
            Assert.That(await ws.AskAsync("""{"type":"request","service":"list","reqid":"l","data":{"min":4}}""", ct),
                Is.EqualTo("""{"type":"reply","service":"list","reqid":"l","rows":[{"id":"A1","qty":10},{"id":"D4","qty":5}]}"""));
            Assert.That(await CountAsync(cs, "SELECT count(*) FROM items", ct), Is.EqualTo(4), "wipe deleted nothing");
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task Two_nodes_starting_together_seed_once_outside_the_journal_and_ids_continue(CancellationToken ct)
    {
        var cs = await NewDatabaseAsync(ct);
        var config = ShopConfig + """

            [tables.events]
            columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", text = "TEXT" }
            seed = "events.json"

            [services.log]
            protocol = "transaction"
            table = "events"
            op_type = "insert"
            fields = ["text"]

            [services.event_feed]
            protocol = "query"
            primary_table = "events"
            """;
        using var dirA = SeedDirectory();
        using var dirB = SeedDirectory();
        var starting = new[] { dirA, dirB }.Select(d => LaterHost.StartAsync(ct, config, o => o.Postgres = cs, dir: d)).ToList();
        var started = await Task.WhenAll(starting);
        await using var nodeA = started[0].Host;
        await using var nodeB = started[1].Host;

        Assert.That(await CountAsync(cs, "SELECT count(*) FROM items", ct), Is.EqualTo(3), "seeded once");
        Assert.That(await CountAsync(cs, "SELECT count(*) FROM events", ct), Is.EqualTo(2), "seeded once");
        Assert.That(await CountAsync(cs, "SELECT count(*) FROM _mkio_journal", ct), Is.EqualTo(0), "seeded rows are the tables' starting state, not journaled (as on SQLite)");
        Assert.That(await CountAsync(cs, "SELECT count(DISTINCT _mkio_ref) FROM items WHERE _mkio_ref <> ''", ct), Is.EqualTo(3), "each seeded row has its own ref");

        // Both nodes serve the seeded rows; an insert continues after the seeded ids.
        await using var onB = await nodeB.ConnectAsync("ws", ct);
        var snapshot = await onB.RequestAsync("""{"service":"items","type":"subscribe"}""", ct);
        Assert.That(snapshot.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("id").GetString()), Is.EquivalentTo(new[] { "A1", "B2", "C3" }), snapshot.GetRawText());
        await using var onA = await nodeA.ConnectAsync("ws", ct);
        await onA.WriteAsync("""{"service":"log","ref":"e1","data":{"text":"third"}}""", ct);
        var events = await onA.RequestAsync("""{"service":"event_feed","type":"subscribe"}""", ct);
        Assert.That(events.GetProperty("rows").EnumerateArray().Select(r => $"{r.GetProperty("id").GetInt64()}:{r.GetProperty("text").GetString()}"),
            Is.EquivalentTo(new[] { "1:first", "2:second", "3:third" }), events.GetRawText());

        // A later start finds the tables and seeds nothing.
        using var dirC = SeedDirectory();
        var (nodeC, _) = await LaterHost.StartAsync(ct, config, o => o.Postgres = cs, dir: dirC);
        await using (nodeC)
        {
            Assert.That(await CountAsync(cs, "SELECT count(*) FROM events", ct), Is.EqualTo(3));
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task A_bad_seed_stops_startup_leaves_no_table_and_the_next_start_seeds(CancellationToken ct)
    {
        var cs = await NewDatabaseAsync(ct);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("items.csv"), "id,name,nope\nA1,apple,1\n", Encoding.UTF8, ct);
        var failure = Assert.CatchAsync<MkioConfigurationException>(async () => await LaterHost.StartAsync(ct, ShopConfig, o => o.Postgres = cs, dir: dir));
        Assert.That(failure!.Message, Does.Contain("tables.items.seed: unknown column in ").And.Contain("items.csv line 2: nope"));
        Assert.That(await CountAsync(cs, "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'items'", ct), Is.EqualTo(0), "the failed start's table was rolled back");

        await File.WriteAllTextAsync(dir.File("items.csv"), "id,name,qty\nA1,apple,many\n", Encoding.UTF8, ct);
        failure = Assert.CatchAsync<MkioConfigurationException>(async () => await LaterHost.StartAsync(ct, ShopConfig, o => o.Postgres = cs, dir: dir));
        Assert.That(failure!.Message, Does.Contain("tables.items.seed: ").And.Contain("line 2: datatype mismatch: items.qty is INTEGER in PostgreSQL and cannot store 'many'"));

        await File.WriteAllTextAsync(dir.File("items.csv"), LaterHost.Csv, Encoding.UTF8, ct);
        var (host, _) = await LaterHost.StartAsync(ct, ShopConfig, o => o.Postgres = cs, dir: dir);
        await using (host)
        {
            Assert.That(await CountAsync(cs, "SELECT count(*) FROM items", ct), Is.EqualTo(3));
        }
    }

    private static TempDirectory SeedDirectory()
    {
        var dir = new TempDirectory();
        File.WriteAllText(dir.File("items.csv"), LaterHost.Csv);
        File.WriteAllText(dir.File("events.json"), """[{"id": 1, "text": "first"}, {"id": 2, "text": "second"}]""");
        return dir;
    }

    internal static async Task<string> NewDatabaseAsync(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        return await server.CreateDatabaseAsync(cancellationToken: ct);
    }

    internal static async Task<long> CountAsync(string cs, string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}
