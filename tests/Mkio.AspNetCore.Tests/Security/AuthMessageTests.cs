using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Mkio.Security;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Security;

/// <summary>
/// The mkio 1.x door end to end through real Kestrel: <c>_mkio_users</c> / <c>_mkio_rights</c> (seeded), the
/// <c>auth</c> message, right names and the table form with SQL checks, rights and role changes through ordinary
/// transaction services, and failed-login rate limits.
/// </summary>
public sealed class AuthMessageTests
{
    /// <summary>The login tables (users with a desk column, rights), seeded from users.csv and rights.csv; shared with <see cref="AccessMatrixTests"/>.</summary>
    internal const string LoginTables = """
        [tables._mkio_users]
        columns = { username = "TEXT PRIMARY KEY", password = "TEXT NOT NULL", role = "TEXT NOT NULL DEFAULT ''", desk = "TEXT" }
        seed = "users.csv"

        [tables._mkio_rights]
        columns = { role = "TEXT NOT NULL", right = "TEXT NOT NULL" }
        seed = "rights.csv"

        """;

    internal const string Config = """
        db_path = "auth.db"
        batch_max_wait_ms = 1.0

        """ + LoginTables + """
        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", owner = "TEXT", desk = "TEXT", qty = "INTEGER" }

        [services.grant]
        type = "transaction"
        table = "_mkio_rights"
        op_type = "insert"
        fields = ["role", "right"]
        access = "admin"

        [services.revoke]
        type = "transaction"
        table = "_mkio_rights"
        op_type = "delete"
        key = ["role", "right"]
        access = "admin"

        [services.set_role]
        type = "transaction"
        table = "_mkio_users"
        op_type = "update"
        key = ["username"]
        fields = ["role"]
        access = "admin"

        [services.place]
        type = "transaction"
        table = "orders"
        op_type = "insert"
        fields = ["id", "owner", "desk", "qty"]
        access = "auth"

        [services.amend]
        type = "transaction"
        table = "orders"
        op_type = "update"
        key = ["id"]
        fields = ["qty"]
        access = { admin = true, trade = "orders WHERE id = :id AND owner = :user" }

        [services.desk_amend]
        type = "transaction"
        table = "orders"
        op_type = "update"
        key = ["id"]
        fields = ["qty"]
        access = { trade = "orders WHERE id = :id AND desk = :desk" }

        [services.all_orders]
        type = "query"
        primary_table = "orders"
        access = "view"
        monitor_access = "admin"

        [services.feed]
        type = "stream"
        primary_table = "orders"
        access = "open"
        """;

    /// <summary>Starts the 1.x config: alice (trader, desk A, bcrypt), bob (trader, desk B, pbkdf2), root (admin), eve (no rights).</summary>
    internal static async Task<MkioTestHost> StartAsync(CancellationToken ct, Action<IServiceCollection>? services = null, string config = Config, Action<MkioOptions>? options = null, Action<Microsoft.AspNetCore.Builder.WebApplication>? app = null)
    {
        var dir = new TempDirectory();
        File.WriteAllText(dir.File("mkio.toml"), config);
        File.WriteAllText(dir.File("users.csv"), $"""
            username,password,role,desk
            alice,{MkioPasswords.Hash("alice-pw", 4)},trader,A
            bob,{MkioPasswords.HashPbkdf2("bob-pw")},trader,B
            root,{MkioPasswords.Hash("root-pw", 4)},admin,A
            eve,{MkioPasswords.Hash("eve-pw", 4)},viewer,C
            """);
        File.WriteAllText(dir.File("rights.csv"), """
            role,right
            admin,admin
            admin,view
            trader,trade
            trader,view
            """);
        return await MkioTestHost.StartAsync(o => options?.Invoke(o), ct, dir, builder: b => services?.Invoke(b.Services), app: app, tomlPath: dir.File("mkio.toml"));
    }

    internal static async Task<TestSocket> LoginAsync(MkioTestHost host, string user, string password, CancellationToken ct)
    {
        var ws = await host.ConnectAsync(cancellationToken: ct);
        var reply = await ws.RequestAsync(Auth(user, password), ct);
        Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True, reply.GetRawText());
        return ws;
    }

    private static string Auth(string user, string password) =>
        JsonSerializer.Serialize(new { type = "auth", data = new { username = user, password } });

    [Test, CancelAfter(60_000)]
    public async Task Login_ExactReplies_BcryptAndPbkdf2_FailureKeepsTheIdentity(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        await using var ws = await host.ConnectAsync(cancellationToken: ct);

        Assert.That((await ws.RequestAsync("""{"type":"auth","data":{"username":"alice"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"auth","ok":false,"message":"missing username or password"}"""));
        Assert.That((await ws.RequestAsync(Auth("nobody", "x"), ct)).GetRawText(),
            Is.EqualTo("""{"type":"auth","ok":false,"message":"invalid credentials"}"""), "unknown user");
        await using var other = await host.ConnectAsync(cancellationToken: ct);
        Assert.That((await other.RequestAsync(Auth("alice", "wrong"), ct)).GetRawText(),
            Is.EqualTo("""{"type":"auth","ok":false,"message":"invalid credentials"}"""), "wrong password: the same text");

        Assert.That((await ws.RequestAsync("""{"type":"auth","ref":"r","reqid":"q","data":{"username":"alice","password":"alice-pw"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"auth","ok":true,"user":"alice","role":"trader"}"""), "bcrypt; no ref/reqid echo");
        Assert.That((await other.RequestAsync(Auth("bob", "bob-pw"), ct)).GetRawText(),
            Is.EqualTo("""{"type":"auth","ok":true,"user":"bob","role":"trader"}"""), "pbkdf2");

        // A later failure keeps alice logged in.
        Assert.That((await ws.RequestAsync(Auth("root", "nope"), ct)).GetProperty("ok").GetBoolean(), Is.False);
        await OkAsync(ws, """{"service":"place","ref":"p1","data":{"id":"1","owner":"alice","desk":"A","qty":1}}""", ct);
    }

    [Test, CancelAfter(60_000)]
    public async Task NoProvider_ImmediateReply_AuthNotAService(CancellationToken ct)
    {
        await using var host = await StartAsync(ct, config: Config.Replace("_mkio_users", "people", StringComparison.Ordinal));
        await using var ws = await host.ConnectAsync(cancellationToken: ct);
        Assert.That((await ws.RequestAsync(Auth("alice", "alice-pw"), ct)).GetRawText(),
            Is.EqualTo("""{"type":"auth","ok":false,"message":"no auth provider configured"}"""));
    }

    [Test, CancelAfter(60_000)]
    public async Task AccessValues_ByMessageType_ExactRefusals(CancellationToken ct)
    {
        await using var host = await StartAsync(ct, options: o => o.LaterProtocol = true);
        await using var anonymous = await host.ConnectAsync(cancellationToken: ct);
        await using var alice = await LoginAsync(host, "alice", "alice-pw", ct);
        await using var eve = await LoginAsync(host, "eve", "eve-pw", ct);
        await using var root = await LoginAsync(host, "root", "root-pw", ct);

        // "auth": anyone logged in; anonymous refused with the txnid echoed and the service named.
        Assert.That((await TxAsync(anonymous, """{"service":"place","txnid":"t1","data":{"id":"1","owner":"x","desk":"A","qty":1}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"authentication required","txnid":"t1","service":"place"}"""));
        await OkAsync(eve, """{"service":"place","ref":"e1","data":{"id":"1","owner":"alice","desk":"A","qty":1}}""", ct);

        // A right name: the role must hold it in _mkio_rights (subscribe → nack; check → error).
        Assert.That((await eve.RequestAsync("""{"type":"subscribe","service":"all_orders","subid":"s1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"nack","service":"all_orders","message":"permission denied","subid":"s1"}"""));
        Assert.That((await anonymous.RequestAsync("""{"type":"subscribe","service":"all_orders","ref":"s2"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"nack","service":"all_orders","message":"authentication required","ref":"s2"}"""));
        Assert.That((await TxAsync(eve, """{"service":"grant","type":"check","ref":"c1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"c1","service":"grant"}"""));
        var sub = await alice.RequestAsync("""{"type":"subscribe","service":"all_orders","subid":"s3"}""", ct);
        Assert.That(sub.GetProperty("type").GetString(), Is.Not.EqualTo("nack"), sub.GetRawText());

        // "open": anonymous may subscribe.
        var feed = await anonymous.RequestAsync("""{"type":"subscribe","service":"feed"}""", ct);
        Assert.That(feed.GetProperty("type").GetString(), Is.Not.EqualTo("nack"), feed.GetRawText());

        // Table form: admin = true grants outright; trade only through the SQL check (own orders).
        await OkAsync(root, """{"service":"amend","ref":"r1","data":{"id":"1","qty":5}}""", ct);
        await OkAsync(alice, """{"service":"amend","ref":"a1","data":{"id":"1","qty":6}}""", ct);
        await OkAsync(eve, """{"service":"place","ref":"e2","data":{"id":"2","owner":"bob","desk":"B","qty":1}}""", ct);
        Assert.That((await TxAsync(alice, """{"service":"amend","txnid":"a2","data":{"id":"2","qty":7}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","txnid":"a2","service":"amend"}"""), "not her order: the SQL check finds no row");
        Assert.That((await TxAsync(eve, """{"service":"amend","ref":"e3","data":{"id":"1","qty":7}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"e3","service":"amend"}"""), "holds no right of the table");

        // Monitor: monitor_access = "admin".
        Assert.That((await alice.RequestAsync("""{"type":"monitor","service":"all_orders","ref":"m1"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"m1"}"""));
        Assert.That((await root.RequestAsync("""{"type":"monitor","service":"all_orders"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"monitor_ack","service":"all_orders"}"""));
        Assert.That((await root.RequestAsync("""{"type":"monitor","service":"feed"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"monitoring disabled"}"""));

        // Rows: only the allowed amends changed anything.
        var rows = await RowsAsync(host, "SELECT id, qty FROM orders ORDER BY id");
        Assert.That(rows, Is.EqualTo(new[] { "1=6", "2=1" }));
    }

    [Test, CancelAfter(60_000)]
    public async Task SqlCheck_RunsInTheRequestSavepoint_RefusalRollsBackOnlyThatRequest(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        await using var alice = await LoginAsync(host, "alice", "alice-pw", ct);

        // One batch: alice places order 9, amends it (the check sees the earlier write of the same batch),
        // amends order 8 of bob (refused), and places order 10 — only the refused request is rolled back.
        await OkAsync(alice, """{"service":"place","ref":"p8","data":{"id":"8","owner":"bob","desk":"B","qty":1}}""", ct);
        using (await host.HoldWriterAsync(ct))
        {
            await alice.SendAsync("""{"service":"place","ref":"p9","data":{"id":"9","owner":"alice","desk":"A","qty":1}}""", cancellationToken: ct);
            await alice.SendAsync("""{"service":"amend","ref":"a9","data":{"id":"9","qty":2}}""", cancellationToken: ct);
            await alice.SendAsync("""{"service":"amend","ref":"a8","data":{"id":"8","qty":3}}""", cancellationToken: ct);
            await alice.SendAsync("""{"service":"place","ref":"p10","data":{"id":"10","owner":"alice","desk":"A","qty":4}}""", cancellationToken: ct);
            await host.WaitForQueuedWritesAsync(4, ct);
        }

        var replies = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var r = await alice.ReceiveUntilAsync(m => m.GetProperty("type").GetString() is "result" or "error", ct);
            replies.Add($"{r.GetProperty("ref").GetString()}:{(r.TryGetProperty("ok", out var ok) && ok.GetBoolean() ? "ok" : r.GetProperty("message").GetString())}");
        }

        Assert.That(replies, Is.EqualTo(new[] { "p9:ok", "a9:ok", "a8:permission denied", "p10:ok" }));
        Assert.That(await RowsAsync(host, "SELECT id, qty FROM orders ORDER BY CAST(id AS INTEGER)"), Is.EqualTo(new[] { "8=1", "9=2", "10=4" }));

        // Outside a transaction (a check) the SQL check runs on a read connection with the same binds.
        var check = await TxAsync(alice, """{"service":"amend","type":"check","ref":"a9","data":{"id":"9"}}""", ct);
        Assert.That(check.GetProperty("type").GetString(), Is.EqualTo("result"), check.GetRawText());
        Assert.That((await TxAsync(alice, """{"service":"amend","type":"check","ref":"a8","data":{"id":"8"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"permission denied","ref":"a8","service":"amend"}"""));
    }

    [Test, CancelAfter(60_000)]
    public async Task InjectionAttempts_ThroughBoundValues_AreJustValues(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        await using var anonymous = await host.ConnectAsync(cancellationToken: ct);
        await using var alice = await LoginAsync(host, "alice", "alice-pw", ct);
        await using var bob = await LoginAsync(host, "bob", "bob-pw", ct);
        await OkAsync(bob, """{"service":"place","ref":"b1","data":{"id":"1","owner":"bob","desk":"B","qty":1}}""", ct);

        foreach (var id in (string[])["1' OR '1'='1", "1 OR 1=1", "1; DELETE FROM orders; --", "1\" OR \"\"=\""])
        {
            var json = JsonSerializer.Serialize(new { service = "amend", @ref = "x", data = new { id, qty = 9 } });
            Assert.That((await TxAsync(alice, json, ct)).GetProperty("message").GetString(), Is.EqualTo("permission denied"), id);
        }

        // Data cannot override identity values: :desk and :user come from the users table.
        Assert.That((await TxAsync(alice, """{"service":"desk_amend","ref":"d1","data":{"id":"1","qty":9,"desk":"B","user":"bob"}}""", ct)).GetProperty("message").GetString(),
            Is.EqualTo("permission denied"));
        await OkAsync(bob, """{"service":"desk_amend","ref":"d2","data":{"id":"1","qty":2}}""", ct);

        // Login values are bound too.
        Assert.That((await anonymous.RequestAsync(Auth("alice' OR '1'='1", "x"), ct)).GetProperty("message").GetString(), Is.EqualTo("invalid credentials"));
        Assert.That((await anonymous.RequestAsync(Auth("alice' --", "alice-pw"), ct)).GetProperty("message").GetString(), Is.EqualTo("invalid credentials"));
        Assert.That(await RowsAsync(host, "SELECT id, qty FROM orders"), Is.EqualTo(new[] { "1=2" }));
    }

    [Test, CancelAfter(60_000)]
    public async Task RightsAndRoleChanges_ApplyToTheNextRequest_RevokedSubscriptionEnds(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        await using var root = await LoginAsync(host, "root", "root-pw", ct);
        await using var alice = await LoginAsync(host, "alice", "alice-pw", ct);
        await using var eve = await LoginAsync(host, "eve", "eve-pw", ct);

        var sub = await alice.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct);
        Assert.That(sub.GetProperty("type").GetString(), Is.Not.EqualTo("nack"), sub.GetRawText());

        // Grant viewer 'view' through the ordinary transaction service: eve's next subscribe works.
        await OkAsync(root, """{"service":"grant","ref":"g1","data":{"role":"viewer","right":"view"}}""", ct);
        var eveSub = await eve.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct);
        Assert.That(eveSub.GetProperty("type").GetString(), Is.Not.EqualTo("nack"), eveSub.GetRawText());

        // Revoke trader 'view': alice's subscription ends with an error, her next subscribe is refused.
        await OkAsync(root, """{"service":"revoke","ref":"r1","data":{"role":"trader","right":"view"}}""", ct);
        var ended = await alice.ReceiveUntilAsync(m => m.GetProperty("type").GetString() == "error", ct);
        Assert.That(ended.GetRawText(), Is.EqualTo("""{"type":"error","message":"permission denied","service":"all_orders"}"""));
        Assert.That(Listener(host, "all_orders").SubscriberCount, Is.EqualTo(1), "eve's subscription stays");
        await OkAsync(root, """{"service":"place","ref":"p1","data":{"id":"5","owner":"root","desk":"A","qty":1}}""", ct);
        await eve.ReceiveUntilAsync(m => m.GetRawText().Contains("\"5\"", StringComparison.Ordinal), ct);
        await AssertSilentAsync(alice, ct, checkService: "place");
        Assert.That((await alice.RequestAsync("""{"type":"subscribe","service":"all_orders","ref":"again"}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"nack","service":"all_orders","message":"permission denied","ref":"again"}"""));

        // A role change: eve becomes admin for her next request, without logging in again.
        Assert.That((await TxAsync(eve, """{"service":"grant","ref":"e1","data":{"role":"viewer","right":"x"}}""", ct)).GetProperty("message").GetString(), Is.EqualTo("permission denied"));
        await OkAsync(root, """{"service":"set_role","ref":"s1","data":{"username":"eve","role":"admin"}}""", ct);
        await OkAsync(eve, """{"service":"grant","ref":"e2","data":{"role":"trader","right":"view"}}""", ct);
        var back = await alice.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct);
        Assert.That(back.GetProperty("type").GetString(), Is.Not.EqualTo("nack"), back.GetRawText());
    }

    [Test, CancelAfter(60_000)]
    public async Task FailedLogins_RateLimitedPerConnectionAndUser_SameTextForUnknownUsers_PasswordNeverLogged(CancellationToken ct)
    {
        await using var host = await StartAsync(ct, services: s => s.AddFakeLogging(o => o.FilteredLevels.Add(LogLevel.Warning)));
        var logs = host.Services.GetFakeLogCollector();
        await using var first = await host.ConnectAsync(cancellationToken: ct);

        // Per user: the first three failures are answered normally, then alice is limited on any connection.
        for (var i = 0; i < 3; i++)
        {
            Assert.That((await first.RequestAsync(Auth("alice", "guess-" + i), ct)).GetProperty("message").GetString(), Is.EqualTo("invalid credentials"), $"attempt {i + 1}");
        }

        await using var second = await host.ConnectAsync(cancellationToken: ct);
        Assert.That((await second.RequestAsync(Auth("alice", "alice-pw"), ct)).GetRawText(),
            Is.EqualTo("""{"type":"auth","ok":false,"message":"too many failed logins; try again later"}"""), "even the right password");

        // Per connection: the first connection is out of attempts for any user name, known or not.
        Assert.That((await first.RequestAsync(Auth("bob", "bob-pw"), ct)).GetProperty("message").GetString(), Is.EqualTo("too many failed logins; try again later"));
        Assert.That((await second.RequestAsync(Auth("bob", "bob-pw"), ct)).GetProperty("ok").GetBoolean(), Is.True, "another user on another connection");

        // Unknown users are counted and answered the same way.
        await using var third = await host.ConnectAsync(cancellationToken: ct);
        for (var i = 0; i < 3; i++)
        {
            Assert.That((await third.RequestAsync(Auth("ghost", "guess-" + i), ct)).GetProperty("message").GetString(), Is.EqualTo("invalid credentials"));
        }

        Assert.That((await third.RequestAsync(Auth("ghost", "x"), ct)).GetProperty("message").GetString(), Is.EqualTo("too many failed logins; try again later"));

        var records = logs.GetSnapshot();
        Assert.That(records.Count(r => r.Id.Id == 4212), Is.EqualTo(6), "one warning per failed login");
        Assert.That(records.Count(r => r.Id.Id == 4213), Is.EqualTo(3), "one warning per limited attempt");
        Assert.That(records.Where(r => r.Message.Contains("guess-", StringComparison.Ordinal) || r.Message.Contains("-pw", StringComparison.Ordinal)), Is.Empty);
    }

    [Test, CancelAfter(60_000)]
    public async Task IdentityService_BeforeLogin_IdentityOnly(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        await using var ws = await host.ConnectAsync(cancellationToken: ct);
        var before = await ws.RequestAsync("""{"type":"request","service":"_mkio","reqid":"i1","data":{"protocol":"1.0"}}""", ct);
        Assert.That(before.GetProperty("row").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "name", "version", "mkio", "protocol", "compatible", "compatibility" }));
        Assert.That((await ws.RequestAsync("""{"type":"request","service":"_mkio","reqid":"i2","data":{"table":"orders"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"error","message":"authentication required","reqid":"i2","service":"_mkio"}"""));

        Assert.That((await ws.RequestAsync(Auth("eve", "eve-pw"), ct)).GetProperty("ok").GetBoolean(), Is.True);
        var after = await ws.RequestAsync("""{"type":"request","service":"_mkio","reqid":"i3"}""", ct);
        Assert.That(after.GetProperty("row").TryGetProperty("services", out _), Is.True, after.GetRawText());
        var schema = await ws.RequestAsync("""{"type":"request","service":"_mkio","reqid":"i4","data":{"table":"orders"}}""", ct);
        Assert.That(schema.GetProperty("type").GetString(), Is.EqualTo("reply"), schema.GetRawText());
    }

    [Test, CancelAfter(60_000)]
    public async Task Discovery_AnonymousSeesOnlyOpenServices(CancellationToken ct)
    {
        await using var host = await StartAsync(ct);
        using var http = host.CreateHttpClient();
        using var response = await http.GetAsync(new Uri("api/services", UriKind.Relative), ct);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        Assert.That(doc.RootElement.EnumerateArray().Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "feed" }));
    }

    [Test, CancelAfter(60_000)]
    public async Task CustomAuthenticator_ReplacesTheUsersTable_ItsRefusalTextIsTheReply(CancellationToken ct)
    {
        await using var host = await StartAsync(ct, services: s => s.AddSingleton<IMkioAuthenticator, TokenAuthenticator>());
        await using var ws = await host.ConnectAsync(cancellationToken: ct);
        Assert.That((await ws.RequestAsync("""{"type":"auth","data":{"token":"bad"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"auth","ok":false,"message":"token rejected"}"""));
        Assert.That((await ws.RequestAsync(Auth("alice", "alice-pw"), ct)).GetProperty("message").GetString(), Is.EqualTo("token rejected"), "the users table is not used");
        Assert.That((await ws.RequestAsync("""{"type":"auth","data":{"token":"carl/trader/A"}}""", ct)).GetRawText(),
            Is.EqualTo("""{"type":"auth","ok":true,"user":"carl","role":"trader"}"""));

        // Its values bind like users-table columns: desk A.
        await OkAsync(ws, """{"service":"place","ref":"p1","data":{"id":"1","owner":"x","desk":"A","qty":1}}""", ct);
        await OkAsync(ws, """{"service":"desk_amend","ref":"d1","data":{"id":"1","qty":2}}""", ct);
    }

    [Test, CancelAfter(60_000)]
    public void StartUp_BadSqlCheck_FailsNamingTheKey()
    {
        var bad = Config.Replace("orders WHERE id = :id AND owner = :user", "nosuch WHERE id = :id", StringComparison.Ordinal);
        var ex = Assert.ThrowsAsync<MkioConfigurationException>(async () => await (await StartAsync(CancellationToken.None, config: bad)).DisposeAsync());
        Assert.That(ex!.Message, Does.Contain("services.amend.access.trade").And.Contain(StoreErrors.NoSuchTable("nosuch")));
    }

    private static async Task<string[]> RowsAsync(MkioTestHost host, string sql)
    {
        var rows = await host.QueryStoreAsync(sql);
        return [.. rows.Select(r => $"{r[0].Value}={r[1].Value}")];
    }

    /// <summary>A token login: <c>user/role/desk</c>; <c>bad</c> or anything else is refused.</summary>
    private sealed class TokenAuthenticator : IMkioAuthenticator
    {
        public ValueTask<MkioLogin> AuthenticateAsync(JsonElement data, CancellationToken cancellationToken)
        {
            var token = data.TryGetProperty("token", out var t) ? t.GetString() ?? string.Empty : string.Empty;
            var parts = token.Split('/');
            if (parts.Length != 3)
            {
                throw new MkioAuthenticationException("token rejected");
            }

            return ValueTask.FromResult(new MkioLogin(parts[0], parts[1], new Dictionary<string, object?> { ["desk"] = parts[2] }));
        }
    }
}
