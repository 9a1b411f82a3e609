using Mkio.TestUtilities;
using Npgsql;

namespace Mkio.Cli.Tests;

/// <summary>
/// <c>mkio dbupdate</c> against a PostgreSQL configuration through the real <c>mkio</c> process: the SQLite summary
/// and classification, <c>--dry-run</c> changing nothing, the flags refusing and allowing, data and refs kept across
/// a type change; and <c>mkio archive</c>/<c>restore</c> refusing a PostgreSQL configuration with a clear error.
/// </summary>
public sealed class PostgresDbUpdateTests
{
    private static string V1(string cs) => $$"""
        postgres = "{{cs}}"

        [tables.orders]
        columns = { id = "INTEGER PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "INTEGER", price = "REAL" }

        [tables.legacy]
        columns = { id = "INTEGER PRIMARY KEY", x = "TEXT" }
        """;

    private static string V2(string cs) => $$"""
        postgres = "{{cs}}"

        [tables.orders]
        columns = { id = "INTEGER PRIMARY KEY", symbol = "TEXT NOT NULL", qty = "REAL", note = "TEXT DEFAULT 'n/a'" }

        [tables.extra]
        columns = { id = "INTEGER PRIMARY KEY", body = "TEXT" }
        """;

    private static async Task<(int Code, string Output)> RunAsync(TempDirectory dir, CancellationToken ct, params string[] args)
    {
        await using var p = MkioProcess.Start(dir.Path, args);
        var code = await p.WaitForExitAsync(ct);
        return (code, p.Stdout + "\n" + p.Stderr);
    }

    private static async Task<List<string>> ColumnsAsync(string cs, string table, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT column_name || ':' || data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position", c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = table });
        var result = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            result.Add(r.GetString(0));
        }

        return result;
    }

    private static async Task ExecAsync(string cs, string sql, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    [Test, CancelAfter(240_000)]
    public async Task Dbupdate_on_postgres_classifies_refuses_without_flags_and_applies_keeping_rows_and_refs(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("v1.toml"), V1(cs), ct);
        await File.WriteAllTextAsync(dir.File("v2.toml"), V2(cs), ct);

        var (code, output) = await RunAsync(dir, ct, "dbupdate", "v1.toml");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("Create new table"));
        await ExecAsync(cs, "INSERT INTO orders (id, symbol, qty, price, _mkio_ref) VALUES (1, 'A', 5, 1.5, 'r1'), (2, 'B', 7, 2.5, 'r2'); INSERT INTO legacy (x) VALUES ('a'), ('b')", ct);

        (code, output) = await RunAsync(dir, ct, "dbupdate", "v2.toml", "--dry-run");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.Zero, output);
            Assert.That(output, Does.Contain("Add column \"note\"").And.Contain("SAFE"));
            Assert.That(output, Does.Contain("Remove column \"price\"").And.Contain("DESTRUCTIVE"));
            Assert.That(output, Does.Contain("Change column \"qty\" type from INTEGER to REAL").And.Contain("POTENTIALLY DESTRUCTIVE"));
            Assert.That(output, Does.Contain("extra").And.Contain("Create new table"));
            Assert.That(output, Does.Contain("All 2 rows will be lost"));
            Assert.That(output, Does.Contain("SQL steps (one transaction):").And.Contain("ALTER TABLE orders ALTER COLUMN qty TYPE DOUBLE PRECISION"));
            Assert.That(output, Does.Contain("Dry run: nothing was applied; applying it needs --allow-destructive."));
            Assert.That(output, Does.Not.Contain("postgres = ").And.Not.Contain(cs), "the connection string is never printed");
        }

        Assert.That(await ColumnsAsync(cs, "orders", ct), Does.Contain("price:double precision"), "the dry run changed nothing");

        (code, output) = await RunAsync(dir, ct, "dbupdate", "v2.toml", "--allow-risky");
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain(DbUpdateCommand.DestructiveNeedsFlag.Trim()).And.Contain(DbUpdateCommand.NothingApplied.Trim()));
        Assert.That(await ColumnsAsync(cs, "legacy", ct), Is.Not.Empty, "nothing was applied");

        (code, output) = await RunAsync(dir, ct, "dbupdate", "v2.toml", "--allow-destructive");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("No backup taken").And.Contain("pg_dump").And.Contain("Schema changes applied successfully."));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await ColumnsAsync(cs, "orders", ct), Is.EqualTo(new[] { "id:bigint", "symbol:text", "qty:double precision", "_mkio_ref:text", "note:text" }));
            Assert.That(await ColumnsAsync(cs, "legacy", ct), Is.Empty);
            Assert.That(await ColumnsAsync(cs, "extra", ct), Is.Not.Empty);
        }

        await using (var c = new NpgsqlConnection(cs))
        {
            await c.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT string_agg(id || ':' || qty || ':' || _mkio_ref || ':' || note, ',' ORDER BY id) FROM orders", c);
            Assert.That(await cmd.ExecuteScalarAsync(ct), Is.EqualTo("1:5:r1:n/a,2:7:r2:n/a"), "rows, their refs and the new default");
        }

        (code, output) = await RunAsync(dir, ct, "dbupdate", "v2.toml");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("matches the config; no schema changes."));
    }

    [Test, CancelAfter(240_000)]
    public async Task Dbupdate_on_postgres_discards_redo_state_unless_kept_and_drops_history_on_request(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        using var dir = new TempDirectory();
        var table = $$"""
            postgres = "{{cs}}"

            [tables.docs]
            columns = { id = "TEXT PRIMARY KEY", body = "TEXT" }
            """;
        await File.WriteAllTextAsync(dir.File("versioned.toml"), table + "\nversioned = true\n", ct);
        await File.WriteAllTextAsync(dir.File("plain.toml"), table, ct);
        var (code, output) = await RunAsync(dir, ct, "dbupdate", "versioned.toml");
        Assert.That(code, Is.Zero, output);

        // d1 is at version 1 with an undone version 2 above it: redo state.
        await ExecAsync(cs, "INSERT INTO docs (id, body, _mkio_ref, _mkio_version) VALUES ('d1', 'one', 'r1', 1); "
            + "INSERT INTO docs__history (_mkio_version, _mkio_op, _mkio_ref, id, body) VALUES (1, 'insert', 'r1', 'd1', 'one'), (2, 'update', 'r2', 'd1', 'two')", ct);
        (code, output) = await RunAsync(dir, ct, "dbupdate", "versioned.toml", "--keep-redo");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Not.Contain("Discarded redo history"));
        (code, output) = await RunAsync(dir, ct, "dbupdate", "versioned.toml");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("Discarded redo history from docs__history: 1 undone version(s), 0 version(s) of rows undone past their first version")
            .And.Contain("These are no longer redo-able. Use --keep-redo to keep them."));

        (code, output) = await RunAsync(dir, ct, "dbupdate", "plain.toml");
        Assert.That(code, Is.Zero, output);
        Assert.That(await ColumnsAsync(cs, "docs__history", ct), Is.Not.Empty, "history stays without --drop-history");
        (code, output) = await RunAsync(dir, ct, "dbupdate", "plain.toml", "--drop-history");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("Dropped history table docs__history"));
        Assert.That(await ColumnsAsync(cs, "docs__history", ct), Is.Empty);
    }

    [Test, CancelAfter(120_000)]
    public async Task Archive_and_restore_refuse_a_postgres_config(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await File.WriteAllTextAsync(dir.File("pg.toml"), """
            postgres = "Host=127.0.0.1;Database=nowhere"

            [tables.docs]
            columns = { id = "TEXT PRIMARY KEY", body = "TEXT" }
            versioned = true
            """, ct);
        await File.WriteAllTextAsync(dir.File("docs__history.csv"), "id\n", ct);
        var (code, output) = await RunAsync(dir, ct, "archive", "pg.toml", "--older-than", "1d");
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain("mkio archive and mkio restore work on SQLite database files only; this config uses 'postgres'"));
        (code, output) = await RunAsync(dir, ct, "restore", "pg.toml", "docs__history.csv");
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain("this config uses 'postgres'"));
    }
}
