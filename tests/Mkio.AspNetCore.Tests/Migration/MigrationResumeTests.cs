using System.Text.Json;
using Microsoft.Data.Sqlite;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Migration;

/// <summary>
/// Start-up migration in an embedded host (<c>AddMkio</c>; no terminal, so <c>auto_migrate</c>
/// decides) and resume by ref across a table rebuild (fix F5 with F18): a client that subscribed
/// before the restart resumes with its ref on the migrated database and gets exactly the changes it
/// missed — or nothing when it missed none — from subpub, query and stream services alike, because
/// the rebuild keeps rows, rowids, <c>_mkio_ref</c> values and AUTOINCREMENT counters.
/// </summary>
public class MigrationResumeTests
{
    private const string DbFile = "live.db";

    private static void V1(MkioOptions o)
    {
        o.DbPath = DbFile;
        o.BatchMaxWaitMs = 1.0;
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER")
                .Column("price", "REAL DEFAULT 0"))
            .Table("audit_log", t => t
                .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                .Column("event", "TEXT")
                .Column("detail", "TEXT"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "symbol", "qty"]))
            .Transaction("update_order", tx => tx.Update("orders", ["id"], ["qty"]))
            .Transaction("delete_order", tx => tx.Delete("orders", ["id"]))
            .Transaction("add_audit", tx => tx.Insert("audit_log", ["event"]))
            .Query("all_orders", s => s.From("orders").ChangeLogSize(100))
            .SubPub("last_trade", s => s.From("orders").Key("id").ChangeLogSize(100))
            .Stream("audit_feed", s => s.From("audit_log").BufferSize(100));
    }

    /// <summary>
    /// V1 with both tables rebuilt: orders loses <c>price</c> (destructive) and gains a column with a
    /// non-constant default; audit_log loses <c>detail</c> and gains an expression-default column.
    /// </summary>
    private static void V2(MkioOptions o, MkioAutoMigrate autoMigrate)
    {
        o.DbPath = DbFile;
        o.BatchMaxWaitMs = 1.0;
        o.AutoMigrate = autoMigrate;
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("symbol", "TEXT NOT NULL")
                .Column("qty", "INTEGER")
                .Column("created", "TEXT DEFAULT CURRENT_TIMESTAMP"))
            .Table("audit_log", t => t
                .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                .Column("event", "TEXT")
                .Column("note", "TEXT DEFAULT (lower('X'))"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "symbol", "qty"]))
            .Transaction("update_order", tx => tx.Update("orders", ["id"], ["qty"]))
            .Transaction("delete_order", tx => tx.Delete("orders", ["id"]))
            .Transaction("add_audit", tx => tx.Insert("audit_log", ["event"]))
            .Query("all_orders", s => s.From("orders").ChangeLogSize(100))
            .SubPub("last_trade", s => s.From("orders").Key("id").ChangeLogSize(100))
            .Stream("audit_feed", s => s.From("audit_log").BufferSize(100));
    }

    private static async Task<string> OkAsync(TestSocket ws, string json, CancellationToken ct)
    {
        var reply = await ws.RequestAsync(json, ct);
        Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
        return reply.GetProperty("ref").GetString()!;
    }

    private static async Task<List<JsonElement>> ReceiveAsync(TestSocket ws, int count, CancellationToken ct)
    {
        var messages = new List<JsonElement>();
        for (var i = 0; i < count; i++)
        {
            messages.Add(await ws.ReceiveAsync(ct));
        }

        return messages;
    }

    private static List<string> Strings(string dbPath, string sql)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dbPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var values = new List<string>();
        while (r.Read())
        {
            values.Add(Convert.ToString(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        }

        return values;
    }

    private static string Change(JsonElement update) => $$"""{"op":"{{update.GetProperty("op").GetString()}}","row":{{update.GetProperty("row").GetRawText()}}}""";

    [Test, CancelAfter(120_000)]
    public async Task Resume_AfterTableRebuild_ExactlyTheMissedChanges(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        string orderCursor;
        string auditCursor;
        List<JsonElement> queryMissed, subpubMissed, streamMissed;
        await using (var first = await MkioTestHost.StartAsync(V1, ct, directory: dir))
        {
            await using var ws = await first.ConnectAsync("ws", ct);
            await OkAsync(ws, """{"service":"add_order","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
            await OkAsync(ws, """{"service":"add_order","data":{"id":"2","symbol":"IBM","qty":2}}""", ct);
            orderCursor = await OkAsync(ws, """{"service":"add_order","data":{"id":"3","symbol":"MSFT","qty":3}}""", ct);
            await OkAsync(ws, """{"service":"add_audit","data":{"event":"e1"}}""", ct);
            auditCursor = await OkAsync(ws, """{"service":"add_audit","data":{"event":"e2"}}""", ct);

            // Subscribers that stay connected record what the resumed clients must get later.
            await using var query = await first.ConnectAsync("ws", ct);
            await using var subpub = await first.ConnectAsync("ws", ct);
            await using var stream = await first.ConnectAsync("ws", ct);
            Assert.That((await query.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct)).GetProperty("ref").GetString(), Is.EqualTo(orderCursor));
            Assert.That((await subpub.RequestAsync("""{"service":"last_trade","type":"subscribe"}""", ct)).GetProperty("ref").GetString(), Is.EqualTo(orderCursor));
            Assert.That((await stream.RequestAsync("""{"service":"audit_feed","type":"subscribe"}""", ct)).GetProperty("ref").GetString(), Is.EqualTo(auditCursor));

            await OkAsync(ws, """{"service":"add_order","data":{"id":"4","symbol":"ORCL","qty":4}}""", ct);
            await OkAsync(ws, """{"service":"update_order","data":{"id":"1","qty":11}}""", ct);
            await OkAsync(ws, """{"service":"delete_order","data":{"id":"2"}}""", ct);
            await OkAsync(ws, """{"service":"add_audit","data":{"event":"e3"}}""", ct);
            await OkAsync(ws, """{"service":"update_order","data":{"id":"4","qty":44}}""", ct);
            await OkAsync(ws, """{"service":"add_audit","data":{"event":"e4"}}""", ct);
            queryMissed = await ReceiveAsync(query, 4, ct);
            subpubMissed = await ReceiveAsync(subpub, 4, ct);
            streamMissed = await ReceiveAsync(stream, 2, ct);
        }

        // The new config rebuilds both tables; auto_migrate = true applies it without asking.
        await using var host = await MkioTestHost.StartAsync(o => V2(o, MkioAutoMigrate.Destructive), ct, directory: dir);
        var db = dir.File(DbFile);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Strings(db, "SELECT name FROM pragma_table_info('orders')"), Is.EqualTo(new[] { "id", "symbol", "qty", "created", "_mkio_ref" }));
            Assert.That(Strings(db, "SELECT name FROM pragma_table_info('audit_log')"), Is.EqualTo(new[] { "id", "event", "note", "_mkio_ref" }));
            Assert.That(Strings(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"), Is.EqualTo(new[] { "_mkio_journal_batch", "_mkio_journal_state", "audit_log", "orders", "sqlite_sequence" }));
            Assert.That(Strings(db, "SELECT COUNT(*) FROM orders WHERE _mkio_ref = '' OR created IS NULL"), Is.EqualTo(new[] { "0" }), "refs carried over; the new column filled");
        }

        await using var client = await host.ConnectAsync("ws", ct);

        // Query and subpub: a delta of exactly the changes after the cursor, as they were published.
        foreach (var (service, missed) in new[] { ("all_orders", queryMissed), ("last_trade", subpubMissed) })
        {
            var delta = await client.RequestAsync($$$"""{"service":"{{{service}}}","type":"subscribe","ref":"{{{orderCursor}}}"}""", ct);
            var last = missed[^1].GetProperty("ref").GetString()!;
            Assert.That(delta.GetRawText(), Is.EqualTo($$"""{"type":"delta","service":"{{service}}","ref":"{{last}}","changes":[{{string.Join(",", missed.Select(Change))}}]}"""), service);

            await using var upToDate = await host.ConnectAsync("ws", ct);
            var nothing = await upToDate.RequestAsync($$$"""{"service":"{{{service}}}","type":"subscribe","ref":"{{{last}}}"}""", ct);
            Assert.That(nothing.GetRawText(), Is.EqualTo($$"""{"type":"delta","service":"{{service}}","ref":"{{last}}","changes":[]}"""), $"{service}: nothing missed");
        }

        // Stream: the rows inserted after the cursor, from the rebuilt table (new shape, same ids and refs).
        await using var feed = await host.ConnectAsync("ws", ct);
        var snapshot = await feed.RequestAsync($$$"""{"service":"audit_feed","type":"subscribe","ref":"{{{auditCursor}}}"}""", ct);
        var rows = string.Join(",", streamMissed.Select(u =>
        {
            var row = u.GetProperty("row");
            return $$"""{"id":{{row.GetProperty("id").GetInt64()}},"event":"{{row.GetProperty("event").GetString()}}","note":"x","_mkio_ref":"{{row.GetProperty("_mkio_ref").GetString()}}"}""";
        }));
        var lastAudit = streamMissed[^1].GetProperty("ref").GetString()!;
        Assert.That(snapshot.GetRawText(), Is.EqualTo($$"""{"type":"snapshot","service":"audit_feed","ref":"{{lastAudit}}","rows":[{{rows}}]}"""));
        await using (var upToDate = await host.ConnectAsync("ws", ct))
        {
            Assert.That((await upToDate.RequestAsync($$$"""{"service":"audit_feed","type":"subscribe","ref":"{{{lastAudit}}}"}""", ct)).GetRawText(),
                Is.EqualTo($$"""{"type":"snapshot","service":"audit_feed","ref":"{{lastAudit}}","rows":[]}"""));
        }

        // The resumed stream is live, and AUTOINCREMENT did not restart.
        var live = await OkAsync(client, """{"service":"add_audit","data":{"event":"e5"}}""", ct);
        Assert.That((await feed.ReceiveAsync(ct)).GetRawText(),
            Is.EqualTo($$$"""{"type":"update","service":"audit_feed","ref":"{{{live}}}","op":"insert","row":{"id":5,"event":"e5","note":"x","_mkio_ref":"{{{live}}}"}}"""));
    }

    [Test, CancelAfter(120_000)]
    public async Task Embedded_RiskyChangesWithoutAutoMigrate_StartUpFailsWithTheTableAndNothingChanges(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using (var first = await MkioTestHost.StartAsync(V1, ct, directory: dir))
        {
            await using var ws = await first.ConnectAsync("ws", ct);
            await OkAsync(ws, """{"service":"add_order","data":{"id":"1","symbol":"AAPL","qty":1}}""", ct);
        }

        var db = dir.File(DbFile);
        var schema = Strings(db, "SELECT sql FROM sqlite_master ORDER BY name");
        var ex = Assert.CatchAsync(async () => await MkioTestHost.StartAsync(o => V2(o, MkioAutoMigrate.Off), ct, directory: dir));
        var config = ex as MkioConfigurationException ?? (ex as AggregateException)?.InnerExceptions.OfType<MkioConfigurationException>().FirstOrDefault();
        Assert.That(config, Is.Not.Null, ex?.ToString());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(config!.Message, Does.Contain($"Schema changes detected for database \"{db}\":"));
            Assert.That(config.Message, Does.Contain("  orders               Remove column \"price\"                         DESTRUCTIVE               Data in column \"price\" will be lost"));
            Assert.That(config.Message, Does.Contain("  ERROR: Destructive/potentially destructive changes require confirmation."));
            Assert.That(Strings(db, "SELECT sql FROM sqlite_master ORDER BY name"), Is.EqualTo(schema), "nothing applied");
        }

        // auto_migrate = "risky" is not enough for a removed column; "destructive" (true) is.
        Assert.CatchAsync(async () => await MkioTestHost.StartAsync(o => V2(o, MkioAutoMigrate.Risky), ct, directory: dir));
        await using var host = await MkioTestHost.StartAsync(o => V2(o, MkioAutoMigrate.Destructive), ct, directory: dir);
        Assert.That(Strings(db, "SELECT id || ':' || symbol || ':' || qty FROM orders"), Is.EqualTo(new[] { "1:AAPL:1" }));
    }
}
