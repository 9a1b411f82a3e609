using Microsoft.Data.Sqlite;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary><c>mkio adduser</c>, <c>mkio hashpass</c> and <c>--username</c> as real processes (the server in-process).</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class AuthCommandsTests
{
    private const string Config = """
        db_path = "auth.db"

        [tables._mkio_users]
        columns = { username = "TEXT PRIMARY KEY", password = "TEXT NOT NULL", role = "TEXT NOT NULL DEFAULT ''" }

        [tables._mkio_rights]
        columns = { role = "TEXT NOT NULL", right = "TEXT NOT NULL" }

        [services.ping]
        protocol = "reqrep"
        reply = "'pong'"
        access = "auth"

        [services.secret]
        protocol = "reqrep"
        reply = "'s3cret'"
        access = "admin"
        """;

    private static TempDirectory Setup(string config = Config)
    {
        var dir = new TempDirectory();
        File.WriteAllText(dir.File("mkio.toml"), config);
        return dir;
    }

    private static async Task<(int Code, string Stdout)> RunAsync(string dir, string? password, CancellationToken ct, params string[] args)
    {
        var environment = new Dictionary<string, string?>();
        if (password is not null)
        {
            environment["MKIO_PASSWORD"] = password;
        }

        await using var p = MkioProcess.StartWithEnvironment(dir, environment, args);
        var code = await p.WaitForExitAsync(ct);
        Assert.That(p.Output, Does.Not.Contain("   at "), "no stack trace");
        return (code, p.Stdout);
    }

    private static string StoredHash(TempDirectory dir, string user)
    {
        using var c = new SqliteConnection($"Data Source={dir.File("auth.db")};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT password || '|' || role FROM _mkio_users WHERE username = $u";
        cmd.Parameters.AddWithValue("$u", user);
        return (string)cmd.ExecuteScalar()!;
    }

    [Test, CancelAfter(120_000)]
    public async Task AddUser_OfflineBeforeFirstStart_ThenUsernameLogsInEveryRequest(CancellationToken ct)
    {
        using var dir = Setup();
        var (code, stdout) = await RunAsync(dir.Path, "pw-alice", ct, "adduser", "alice", "trader");
        Assert.That((code, stdout.Trim()), Is.EqualTo((0, "User 'alice' added with role 'trader'")));
        Assert.That(StoredHash(dir, "alice"), Does.Match(@"^\$2b\$12\$.{53}\|trader$"));
        (code, _) = await RunAsync(dir.Path, "pw-root", ct, "adduser", "root", "boss", "mkio.toml", "--pbkdf2");
        Assert.That(code, Is.Zero);
        Assert.That(StoredHash(dir, "root"), Does.Match("^pbkdf2:[0-9a-f]{32}:[0-9a-f]{64}\\|boss$"));

        await using var host = await MkioTestHost.StartAsync(_ => { }, ct, dir, tomlPath: dir.File("mkio.toml"));
        var url = host.BaseUri.ToString();
        Assert.That(await RunAsync(dir.Path, null, ct, "reqrep", url, "ping"), Is.EqualTo((1, "Error: authentication required")));
        Assert.That(await RunAsync(dir.Path, "pw-alice", ct, "reqrep", url, "ping", "--username", "alice"), Is.EqualTo((0, "pong")));
        Assert.That(await RunAsync(dir.Path, "pw-root", ct, "reqrep", "--username=root", url, "ping"), Is.EqualTo((0, "pong")), "pbkdf2 hash");
        Assert.That(await RunAsync(dir.Path, "wrong", ct, "reqrep", url, "ping", "--username", "alice"), Is.EqualTo((1, "Error: login failed: invalid credentials")));
        Assert.That(await RunAsync(dir.Path, "pw-alice", ct, "reqrep", url, "secret", "--username", "alice"), Is.EqualTo((1, "Error: permission denied")));
        Assert.That((await RunAsync(dir.Path, null, ct, "reqrep", url, "ping", "--username", "alice")).Stdout, Is.EqualTo("Error: no password: set MKIO_PASSWORD or run on a terminal."), "stdin is not a terminal");

        Assert.That(await RunAsync(dir.Path, "wrong", ct, "monitor", url, "ping", "--username", "alice"), Is.EqualTo((1, "Error: login failed: invalid credentials")));
        Assert.That(await RunAsync(dir.Path, null, ct, "schema", url, "_mkio_users"), Is.EqualTo((1, "Error: authentication required")), "schema before login");
        Assert.That((await RunAsync(dir.Path, "pw-alice", ct, "schema", url, "_mkio_users", "--username", "alice")).Stdout, Does.StartWith("Table: _mkio_users"));

        // While the server owns the database, adduser refuses.
        (code, stdout) = await RunAsync(dir.Path, "pw", ct, "adduser", "carol", "trader");
        Assert.That(code, Is.EqualTo(1), stdout);
    }

    [Test, CancelAfter(120_000)]
    public async Task Username_OnSendAndSubscribe_LogsInBeforeTheRequest(CancellationToken ct)
    {
        using var dir = Setup(Config + """

            [tables.orders]
            columns = { id = "TEXT PRIMARY KEY", qty = "INTEGER" }

            [services.place]
            type = "transaction"
            table = "orders"
            op_type = "insert"
            fields = ["id", "qty"]
            access = "auth"

            [services.book]
            type = "query"
            primary_table = "orders"
            access = "auth"
            """);
        Assert.That((await RunAsync(dir.Path, "pw-alice", ct, "adduser", "alice", "trader")).Code, Is.Zero);
        await using var host = await MkioTestHost.StartAsync(_ => { }, ct, dir, tomlPath: dir.File("mkio.toml"));
        var url = host.BaseUri.ToString();

        var (code, stdout) = await RunAsync(dir.Path, null, ct, "send", url, "place", """{"id":"1","qty":5}""");
        Assert.That((code, stdout), Is.EqualTo((1, "[1/1] error: authentication required")), "anonymous");
        Assert.That(await RunAsync(dir.Path, "wrong", ct, "send", url, "place", """{"id":"1","qty":5}""", "--username", "alice"), Is.EqualTo((1, "Error: login failed: invalid credentials")));
        Assert.That((await RunAsync(dir.Path, null, ct, "send", url, "place", """{"id":"1","qty":5}""", "--username", "alice")).Stdout, Is.EqualTo("Error: no password: set MKIO_PASSWORD or run on a terminal."));
        (code, stdout) = await RunAsync(dir.Path, "pw-alice", ct, "send", "--username", "alice", url, "place", """{"id":"1","qty":5}""");
        Assert.That(code, Is.Zero, stdout);

        Assert.That(await RunAsync(dir.Path, "wrong", ct, "subscribe", url, "book", "--username", "alice"), Is.EqualTo((1, "Error: login failed: invalid credentials")));
        (code, stdout) = await RunAsync(dir.Path, null, ct, "subscribe", url, "book");
        Assert.That((code, stdout.Split('\n')[^1]), Is.EqualTo((1, "Error: authentication required")), "anonymous");
        var environment = new Dictionary<string, string?> { ["MKIO_PASSWORD"] = "pw-alice" };
        await using var p = MkioProcess.StartWithEnvironment(dir.Path, environment, "subscribe", url, "book", "--username=alice");
        await p.WaitForStdoutAsync(new System.Text.RegularExpressions.Regex("""\{"id": "1", "qty": 5, "_mkio_ref": """), ct);
        Assert.That(p.Output, Does.Not.Contain("pw-alice"), "the password is never printed");
    }

    [Test, CancelAfter(60_000)]
    public async Task AddUser_Errors(CancellationToken ct)
    {
        using var dir = Setup();
        Assert.That(await RunAsync(dir.Path, "", ct, "adduser", "alice", "trader"), Is.EqualTo((1, "Error: MKIO_PASSWORD is set but empty.")));
        Assert.That(await RunAsync(dir.Path, null, ct, "adduser", "alice", "trader"), Is.EqualTo((1, "Error: no password: set MKIO_PASSWORD or run on a terminal.")));
        Assert.That(File.Exists(dir.File("auth.db")), Is.False, "nothing written");

        using var noUsers = Setup(Config.Replace("_mkio_users", "people", StringComparison.Ordinal));
        Assert.That(await RunAsync(noUsers.Path, "pw", ct, "adduser", "alice", "trader"), Is.EqualTo((1, "Error: mkio.toml declares no [tables._mkio_users] table.")));

        using var memory = Setup(Config.Replace("auth.db", ":memory:", StringComparison.Ordinal));
        Assert.That(await RunAsync(memory.Path, "pw", ct, "adduser", "alice", "trader"), Is.EqualTo((1, "Error: db_path is \":memory:\": adduser needs a database file.")));
    }

    [Test, CancelAfter(60_000)]
    public async Task HashPass_PrintsAVerifiableHash(CancellationToken ct)
    {
        using var dir = Setup();
        var (code, stdout) = await RunAsync(dir.Path, "secret", ct, "hashpass");
        Assert.That(code, Is.Zero);
        Assert.That(BCrypt.Net.BCrypt.Verify("secret", stdout.Trim()), Is.True, stdout);
        (code, stdout) = await RunAsync(dir.Path, "secret", ct, "hashpass", "--pbkdf2");
        Assert.That(code, Is.Zero);
        Assert.That(stdout, Does.Match("^pbkdf2:[0-9a-f]{32}:[0-9a-f]{64}$"));
        Assert.That(await RunAsync(dir.Path, "", ct, "hashpass"), Is.EqualTo((1, "Error: MKIO_PASSWORD is set but empty.")));
    }
}
