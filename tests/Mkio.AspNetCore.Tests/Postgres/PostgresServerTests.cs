using Mkio.TestUtilities;
using Npgsql;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>The test fixture itself: a real server that keeps committed data across a crash-like restart.</summary>
[TestFixture]
public sealed class PostgresServerTests
{
    [Test]
    public async Task A_private_server_keeps_committed_rows_across_an_immediate_restart()
    {
        await using var server = await PostgresServer.StartNewAsync();
        var cs = await server.CreateDatabaseAsync();
        await Execute(cs, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO t VALUES (1, 'one'), (2, 'two')");

        await server.RestartAsync(immediate: true);

        Assert.That(await Scalar(cs, "SELECT string_agg(v, ',' ORDER BY id) FROM t"), Is.EqualTo("one,two"));
        Assert.That(server.Port, Is.GreaterThan(0));
    }

    [Test]
    public async Task The_shared_server_hands_out_separate_databases_on_loopback()
    {
        var server = await PostgresServer.SharedAsync();
        var a = await server.CreateDatabaseAsync();
        var b = await server.CreateDatabaseAsync();
        await Execute(a, "CREATE TABLE only_in_a (x INTEGER)");

        Assert.That(await Scalar(b, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"), Is.EqualTo(0L));
        Assert.That(await Scalar(a, "SELECT inet_server_addr()::text"), Is.EqualTo("127.0.0.1/32"));
        Assert.That(await Scalar(a, "SELECT current_setting('server_version_num')::int >= 130000"), Is.True);
    }

    private static async Task Execute(string cs, string sql)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<object?> Scalar(string cs, string sql)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return await cmd.ExecuteScalarAsync();
    }
}
