using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Tests.Security;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// The mkio login on PostgreSQL through real Kestrel, with the 1.x config of <see cref="AuthMessageTests"/> (seeded
/// <c>_mkio_users</c> / <c>_mkio_rights</c>): the <c>auth</c> message, rights, SQL checks inside the request's
/// SAVEPOINT and on their own read-only transaction, and rights and role changes written on another node taking
/// effect on this node (its journal tail delivers them) — revoked live subscriptions end.
/// </summary>
public class PostgresLoginTests
{
    private static readonly string Config = AuthMessageTests.Config.Replace("db_path = \"auth.db\"\n", string.Empty, StringComparison.Ordinal);

    [Test, CancelAfter(120_000)]
    public async Task Login_rights_and_sql_checks_work_and_changes_on_another_node_apply_here(CancellationToken ct)
    {
        var cs = await PostgresReqRepSeedTests.NewDatabaseAsync(ct);
        await using var nodeA = await AuthMessageTests.StartAsync(ct, config: Config, options: o => o.Postgres = cs);
        await using var nodeB = await AuthMessageTests.StartAsync(ct, config: Config, options: o => o.Postgres = cs);
        Assert.That(await PostgresReqRepSeedTests.CountAsync(cs, "SELECT count(*) FROM _mkio_users", ct), Is.EqualTo(4), "the login tables were seeded once");

        // The auth message: exact replies.
        await using var anonymous = await nodeA.ConnectAsync(cancellationToken: ct);
        Assert.That((await anonymous.RequestAsync(Auth("alice", "wrong"), ct)).GetRawText(), Is.EqualTo("""{"type":"auth","ok":false,"message":"invalid credentials"}"""));
        Assert.That((await anonymous.RequestAsync(Auth("bob", "bob-pw"), ct)).GetRawText(), Is.EqualTo("""{"type":"auth","ok":true,"user":"bob","role":"trader"}"""), "pbkdf2");
        await using var alice = await AuthMessageTests.LoginAsync(nodeA, "alice", "alice-pw", ct);
        await using var eve = await AuthMessageTests.LoginAsync(nodeA, "eve", "eve-pw", ct);
        await using var rootB = await AuthMessageTests.LoginAsync(nodeB, "root", "root-pw", ct);

        // Rights by name.
        Assert.That((await eve.RequestAsync("""{"type":"subscribe","service":"all_orders","subid":"s1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"nack","service":"all_orders","message":"permission denied","subid":"s1"}"""));
        var sub = await alice.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct);
        Assert.That(sub.GetProperty("type").GetString(), Is.Not.EqualTo("nack"), sub.GetRawText());

        // SQL checks inside the request's savepoint: sent back to back, so they share batches; only the refused
        // request rolls back, and a check sees the earlier write of its batch.
        await using var bobWriter = await AuthMessageTests.LoginAsync(nodeA, "bob", "bob-pw", ct);
        await OkAsync(bobWriter, """{"service":"place","ref":"p8","data":{"id":"8","owner":"bob","desk":"B","qty":1}}""", ct);
        await using var aliceWriter = await AuthMessageTests.LoginAsync(nodeA, "alice", "alice-pw", ct);
        foreach (var message in (string[])[
            """{"service":"place","ref":"p9","data":{"id":"9","owner":"alice","desk":"A","qty":1}}""",
            """{"service":"amend","ref":"a9","data":{"id":"9","qty":2}}""",
            """{"service":"amend","ref":"a8","data":{"id":"8","qty":3}}""",
            """{"service":"place","ref":"p10","data":{"id":"10","owner":"alice","desk":"A","qty":4}}""",
            """{"service":"desk_amend","ref":"d10","data":{"id":"10","qty":5}}""",
            """{"service":"amend","ref":"x","data":{"id":"8' OR '1'='1","qty":9}}"""])
        {
            await aliceWriter.SendAsync(message, cancellationToken: ct);
        }

        var replies = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var r = await aliceWriter.ReceiveUntilAsync(m => m.GetProperty("type").GetString() is "result" or "error", ct);
            replies.Add($"{r.GetProperty("ref").GetString()}:{(r.TryGetProperty("ok", out var ok) && ok.GetBoolean() ? "ok" : r.GetProperty("message").GetString())}");
        }

        Assert.That(replies, Is.EqualTo(new[] { "p9:ok", "a9:ok", "a8:permission denied", "p10:ok", "d10:ok", "x:permission denied" }));
        Assert.That(await PostgresReqRepSeedTests.CountAsync(cs, "SELECT sum(qty) FROM orders", ct), Is.EqualTo(1 + 2 + 5), "8=1, 9=2, 10=5");

        // Outside a transaction (a check) the SQL check runs on its own read-only transaction with the same binds.
        Assert.That((await TxAsync(aliceWriter, """{"service":"amend","type":"check","ref":"c9","data":{"id":"9"}}""", ct)).GetProperty("type").GetString(), Is.EqualTo("result"));
        Assert.That((await TxAsync(aliceWriter, """{"service":"amend","type":"check","ref":"c8","data":{"id":"8"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"c8","service":"amend"}"""));

        // Node B revokes the traders' "view" and makes eve a trader; once node A has followed the journal that far,
        // alice's live subscription on A ends and her next subscribe is refused, and eve's next request has the new role.
        await OkAsync(rootB, """{"service":"revoke","ref":"r1","data":{"role":"trader","right":"view"}}""", ct);
        await OkAsync(rootB, """{"service":"set_role","ref":"r2","data":{"username":"eve","role":"trader"}}""", ct);
        var engineA = Engine(nodeA);
        var positionB = Engine(nodeB).Position;
        await Eventually.WaitUntilAsync(() => engineA.Position >= positionB, "node A followed node B's writes", ct);

        var ended = await alice.ReceiveUntilAsync(m => m.GetProperty("type").GetString() == "error", ct);
        Assert.That(ended.GetRawText(), Is.EqualTo("""{"type":"error","message":"permission denied","service":"all_orders"}"""));
        Assert.That((await alice.RequestAsync("""{"type":"subscribe","service":"all_orders","subid":"s2"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"nack","service":"all_orders","message":"permission denied","subid":"s2"}"""));
        Assert.That((await TxAsync(eve, """{"service":"amend","ref":"e1","data":{"id":"9","qty":7}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"e1","service":"amend"}"""), "eve is a trader now, but order 9 is alice's");
        await OkAsync(eve, """{"service":"place","ref":"e2","data":{"id":"11","owner":"eve","desk":"C","qty":1}}""", ct);
        await OkAsync(eve, """{"service":"amend","ref":"e3","data":{"id":"11","qty":2}}""", ct);
    }

    [Test, CancelAfter(120_000)]
    public async Task Sql_checks_that_do_not_compile_on_the_server_are_startup_errors_naming_the_key(CancellationToken ct)
    {
        var cs = await PostgresReqRepSeedTests.NewDatabaseAsync(ct);
        var config = Config
            .Replace("trade = \"orders WHERE id = :id AND owner = :user\"", "trade = \"nosuch WHERE id = :id\"", StringComparison.Ordinal)
            .Replace("trade = \"orders WHERE id = :id AND desk = :desk\"", "trade = \"orders WHERE id = :id; DELETE FROM orders\"", StringComparison.Ordinal);
        var failure = Assert.CatchAsync<MkioConfigurationException>(async () => await AuthMessageTests.StartAsync(ct, config: config, options: o => o.Postgres = cs));
        Assert.That(failure!.Message, Does.Contain("services.amend.access").And.Contain("SQL check of right 'trade' does not compile on PostgreSQL: relation \"nosuch\" does not exist"));
        Assert.That(failure.Message, Does.Contain("services.desk_amend.access").And.Contain("only one statement is allowed"));
        Assert.That(await PostgresReqRepSeedTests.CountAsync(cs, "SELECT count(*) FROM orders", ct), Is.Zero, "nothing ran");
    }

    private static MkioEngine Engine(MkioTestHost host) =>
        host.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().TryGetEngine()!;

    private static string Auth(string user, string password) =>
        JsonSerializer.Serialize(new { type = "auth", data = new { username = user, password } });
}
