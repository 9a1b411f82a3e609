using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// <c>mkio adduser</c> against a configuration with <c>postgres</c>, as real processes: before the first node
/// starts (it creates <c>_mkio_users</c>) and while a node runs (the next login reads the table); a replaced user
/// logs in with the new password only; an unreachable server is a clear error.
/// </summary>
public sealed class AuthCommandsPostgresTests
{
    private const string Config = """
        postgres = "CONNECTION"

        [tables._mkio_users]
        columns = { username = "TEXT PRIMARY KEY", password = "TEXT NOT NULL", role = "TEXT NOT NULL DEFAULT ''" }

        [tables._mkio_rights]
        columns = { role = "TEXT NOT NULL", right = "TEXT NOT NULL" }

        [services.ping]
        protocol = "reqrep"
        reply = "'pong'"
        access = "auth"
        """;

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
        return (code, p.Stdout.Trim());
    }

    [Test, CancelAfter(180_000)]
    public async Task AddUser_writes_into_postgres_before_and_while_a_node_runs(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("mkio.toml"), Config.Replace("CONNECTION", cs, StringComparison.Ordinal), ct);

        Assert.That(await RunAsync(dir.Path, "pw-alice", ct, "adduser", "alice", "trader"), Is.EqualTo((0, "User 'alice' added with role 'trader'")));
        await using var host = await MkioTestHost.StartAsync(_ => { }, ct, dir, tomlPath: dir.File("mkio.toml"));
        var url = host.BaseUri.ToString();
        Assert.That(await RunAsync(dir.Path, "pw-alice", ct, "reqrep", url, "ping", "--username", "alice"), Is.EqualTo((0, "pong")));

        // While the node runs: a new user (pbkdf2) logs in at once; alice replaced logs in with her new password only.
        Assert.That((await RunAsync(dir.Path, "pw-root", ct, "adduser", "root", "admin", "mkio.toml", "--pbkdf2")).Code, Is.Zero);
        Assert.That(await RunAsync(dir.Path, "pw-root", ct, "reqrep", url, "ping", "--username", "root"), Is.EqualTo((0, "pong")));
        Assert.That((await RunAsync(dir.Path, "pw-2", ct, "adduser", "alice", "viewer")).Code, Is.Zero);
        Assert.That(await RunAsync(dir.Path, "pw-alice", ct, "reqrep", url, "ping", "--username", "alice"), Is.EqualTo((1, "Error: login failed: invalid credentials")));
        Assert.That(await RunAsync(dir.Path, "pw-2", ct, "reqrep", url, "ping", "--username", "alice"), Is.EqualTo((0, "pong")));

        // An unreachable server: exit 1 with one clear line.
        using var other = new TempDirectory();
        await File.WriteAllTextAsync(other.File("mkio.toml"), Config.Replace("CONNECTION", "Host=127.0.0.1;Port=1;Username=postgres;Timeout=2", StringComparison.Ordinal), ct);
        var (code, stdout) = await RunAsync(other.Path, "pw", ct, "adduser", "bob", "trader");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stdout, Does.StartWith("Error: "), stdout);
    }
}
