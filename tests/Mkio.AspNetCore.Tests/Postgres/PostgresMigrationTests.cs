using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Hosting;
using Mkio.Storage.Postgres;
using Mkio.TestUtilities;
using Npgsql;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// Node start on PostgreSQL migrates with the SQLite rules: safe changes always, others only as <c>auto_migrate</c>
/// allows (refused otherwise, nothing applied, the message naming <c>mkio dbupdate</c>); after a type change and a
/// removed column, a client resumes with its ref and gets exactly the changes it missed.
/// </summary>
public sealed class PostgresMigrationTests
{
    private static Action<MkioOptions> Node(string cs, bool v2, MkioAutoMigrate mode = MkioAutoMigrate.Off) => o =>
    {
        o.Postgres = cs;
        o.BatchMaxWaitMs = 1.0;
        o.AutoMigrate = mode;
        o.Table("orders", t =>
        {
            t.Column("id", "INTEGER PRIMARY KEY").Column("symbol", "TEXT NOT NULL");
            if (v2)
            {
                t.Column("qty", "REAL").Column("note", "TEXT");
            }
            else
            {
                t.Column("qty", "INTEGER").Column("price", "REAL");
            }
        });
        o.Transaction("orders_tx", tx => tx.Op("add", ops => ops.Insert("orders", ["id", "symbol", "qty"])))
            .SubPub("book", s => s.From("orders").Key("id"))
            .Query("all_orders", q => q.From("orders"));
    };

    private static async Task AddAsync(TestSocket ws, string @ref, int id, CancellationToken ct)
    {
        var reply = await ws.RequestAsync($$$"""{"service":"orders_tx","op":"add","ref":"{{{@ref}}}","data":{"id":{{{id}}},"symbol":"S{{{id}}}","qty":{{{id}}}}}""", ct);
        Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
    }

    [Test, CancelAfter(180_000)]
    public async Task A_node_refuses_unsafe_changes_unless_auto_migrate_allows_them_and_resume_stays_exact(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        await using (var v1 = await MkioTestHost.StartAsync(Node(cs, v2: false), ct))
        {
            await using var ws = await v1.ConnectAsync("ws", ct);
            await AddAsync(ws, "m1", 1, ct);
            await AddAsync(ws, "m2", 2, ct);
        }

        // Off: a removed column and a type change are refused; nothing is applied (a later start still sees them).
        var refused = Assert.ThrowsAsync<MkioConfigurationException>(() => MkioTestHost.StartAsync(Node(cs, v2: true), ct))!;
        Assert.That(refused.Message, Does.Contain("Remove column \"price\"").And.Contain("Change column \"qty\" type from INTEGER to REAL").And.Contain("mkio dbupdate"));
        var stillRefused = Assert.ThrowsAsync<MkioConfigurationException>(() => MkioTestHost.StartAsync(Node(cs, v2: true, MkioAutoMigrate.Risky), ct))!;
        Assert.That(stillRefused.Message, Does.Contain("Remove column \"price\""), "risky does not allow a destructive change");

        // Destructive: applied; the rows keep their refs, so a resume from m1 is a delta with exactly m2's change.
        await using var v2 = await MkioTestHost.StartAsync(Node(cs, v2: true, MkioAutoMigrate.Destructive), ct);
        await using var client = await v2.ConnectAsync("ws", ct);
        var delta = await client.RequestAsync("""{"type":"subscribe","service":"book","ref":"m1"}""", ct);
        Assert.That(delta.GetProperty("type").GetString(), Is.EqualTo("delta"), delta.GetRawText());
        Assert.That(delta.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("row").GetProperty("_mkio_ref").GetString()), Is.EqualTo(new[] { "m2" }), delta.GetRawText());

        await using var writer = await v2.ConnectAsync("ws", ct);
        await AddAsync(writer, "m3", 3, ct);
        var update = await client.ReceiveUntilAsync(m => m.GetRawText().Contains("\"m3\"", StringComparison.Ordinal), ct);
        Assert.That(update.GetProperty("row").GetProperty("qty").GetDouble(), Is.EqualTo(3.0));
        Assert.That(update.GetProperty("row").TryGetProperty("price", out _), Is.False, update.GetRawText());

        var snapshot = await writer.RequestAsync("""{"type":"subscribe","service":"book"}""", ct);
        var rows = snapshot.GetProperty("rows").EnumerateArray().Select(r => $"{r.GetProperty("id").GetInt64()}:{r.GetProperty("qty").GetRawText()}:{r.GetProperty("_mkio_ref").GetString()}").Order();
        Assert.That(rows, Is.EqualTo(new[] { "1:1.0:m1", "2:2.0:m2", "3:3.0:m3" }), snapshot.GetRawText());
    }

    [Test, CancelAfter(180_000)]
    public async Task A_safe_change_is_applied_at_start_with_auto_migrate_off_and_a_versioned_table_gets_its_history(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        await using (var v1 = await MkioTestHost.StartAsync(Node(cs, v2: false), ct))
        {
            await using var ws = await v1.ConnectAsync("ws", ct);
            await AddAsync(ws, "s1", 1, ct);
        }

        // Adding a column (safe) and making the table versioned: rows present get a baseline version.
        await using var host = await MkioTestHost.StartAsync(o =>
        {
            Node(cs, v2: false)(o);
            o.Tables[0].Columns["extra"] = "TEXT DEFAULT 'x'";
            o.Tables[0].Versioned = true;
        }, ct);
        await using var client = await host.ConnectAsync("ws", ct);
        var snapshot = await client.RequestAsync("""{"type":"subscribe","service":"book"}""", ct);
        Assert.That(snapshot.GetProperty("rows")[0].GetProperty("extra").GetString(), Is.EqualTo("x"), snapshot.GetRawText());
        var history = await host.Services.GetRequiredService<IMkio>().HistoryAsync("orders", cancellationToken: ct);
        Assert.That(history.Select(r => $"{r["id"]}:{r["_mkio_version"]}:{r["_mkio_op"]}:{r["_mkio_ref"]}"), Is.EqualTo(new[] { "1:1:baseline:s1" }));
    }

    [Test, CancelAfter(180_000)]
    public async Task A_primary_key_change_drops_rows_colliding_under_the_new_key_and_keeps_refs(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        Action<MkioOptions> Positions(bool bySymbol) => o =>
        {
            o.Postgres = cs;
            o.BatchMaxWaitMs = 1.0;
            o.AutoMigrate = MkioAutoMigrate.Risky;
            o.Table("positions", t =>
            {
                t.Column("book", bySymbol ? "TEXT NOT NULL" : "TEXT PRIMARY KEY").Column("symbol", "TEXT NOT NULL").Column("qty", "INTEGER");
                if (bySymbol)
                {
                    t.PrimaryKey("symbol");
                }
            });
            o.Transaction("tx", tx => tx.Op("add", ops => ops.Insert("positions", ["book", "symbol", "qty"])))
                .SubPub("all", s => s.From("positions").Key(bySymbol ? "symbol" : "book"));
        };

        await using (var v1 = await MkioTestHost.StartAsync(Positions(bySymbol: false), ct))
        {
            await using var ws = await v1.ConnectAsync("ws", ct);
            foreach (var (r, book, symbol, qty) in new[] { ("k1", "b1", "A", 1), ("k2", "b2", "A", 2), ("k3", "b3", "B", 3) })
            {
                var reply = await ws.RequestAsync($$$"""{"service":"tx","op":"add","ref":"{{{r}}}","data":{"book":"{{{book}}}","symbol":"{{{symbol}}}","qty":{{{qty}}}}}""", ct);
                Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
            }
        }

        await using var v2 = await MkioTestHost.StartAsync(Positions(bySymbol: true), ct);
        await using var client = await v2.ConnectAsync("ws", ct);
        var snapshot = await client.RequestAsync("""{"type":"subscribe","service":"all"}""", ct);
        var rows = snapshot.GetProperty("rows").EnumerateArray().Select(r => $"{r.GetProperty("symbol").GetString()}:{r.GetProperty("book").GetString()}:{r.GetProperty("_mkio_ref").GetString()}").Order();
        Assert.That(rows, Is.EqualTo(new[] { "A:b1:k1", "B:b3:k3" }), "the first stored row of each new key stays, with its ref");
        var duplicate = await client.RequestAsync("""{"service":"tx","op":"add","data":{"book":"b9","symbol":"B","qty":9}}""", ct);
        Assert.That(duplicate.GetRawText(), Does.Contain("duplicate key"), "the new key is enforced");
    }

    /// <summary>
    /// A migration holds the journal lock until it commits: a write sent to running node A while node B's start-up
    /// migration (a safe added column) is open is taken into A's batch, which waits for the lock — not acknowledged —
    /// until the migration commits; it is then acknowledged, lands in the migrated table and takes the next journal
    /// position (gap-free), and node B, started after the migration, serves it. Node A's INSERT had been prepared
    /// (Npgsql prepares repeated statements) with the old columns: the writer prepares it again instead of failing.
    /// </summary>
    [Test, CancelAfter(180_000)]
    public async Task A_write_to_a_running_node_waits_for_another_nodes_migration_and_lands_in_the_migrated_table(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        var database = new NpgsqlConnectionStringBuilder(cs).Database!;
        await using var nodeA = await MkioTestHost.StartAsync(Node(cs, v2: false), ct);
        await using var onA = await nodeA.ConnectAsync("ws", ct);
        // Enough writes for Npgsql to have prepared node A's INSERT … RETURNING * (automatic preparation), whose
        // result columns the migration changes.
        const int Before = 6;
        for (var i = 1; i <= Before; i++)
        {
            await AddAsync(onA, $"w{i}", i, ct);
        }

        // The same for its query snapshots' SELECT (each subscribe reads one).
        for (var i = 0; i < Before; i++)
        {
            await using var reader = await nodeA.ConnectAsync("ws", ct);
            var before = await reader.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct);
            Assert.That(before.GetProperty("rows").GetArrayLength(), Is.EqualTo(Before), before.GetRawText());
        }

        var writerA = nodeA.Services.GetRequiredService<MkioEngineHost>().Engine.PostgresWriter!;

        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        PostgresMigration.BeforeCommit = async connection =>
        {
            // Process-wide hook: only this test's database is held.
            if (connection.Database == database && entered.TrySetResult())
            {
                await release.Task.ConfigureAwait(false);
            }
        };
        Task<MkioTestHost>? startB = null;
        try
        {
            startB = MkioTestHost.StartAsync(o =>
            {
                Node(cs, v2: false)(o);
                o.Tables[0].Columns["note"] = "TEXT DEFAULT 'n/a'";
            }, ct);
            await entered.Task.WaitAsync(ct);

            // Node B's migration is applied and uncommitted, holding the schema and journal locks.
            await onA.SendAsync("""{"service":"orders_tx","op":"add","ref":"w7","data":{"id":7,"symbol":"S7","qty":7}}""", cancellationToken: ct);
            await Eventually.WaitUntilAsync(() => writerA.InFlight == 1 && writerA.QueueLength == 0, "node A's writer took w7 into a batch", ct);
            await Eventually.WaitUntilAsync(
                () => Convert.ToInt64(PostgresQuery.Rows(cs, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'")[0][0].Value, System.Globalization.CultureInfo.InvariantCulture) == 1,
                "node A's batch waits for the journal lock",
                ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(onA.Pending, Is.Zero, "w7 is not acknowledged while the migration is open");
                Assert.That(startB.IsCompleted, Is.False, "node B is still migrating");
                Assert.That(writerA.InFlight, Is.EqualTo(1));
            }

            release.TrySetResult();
            await using var nodeB = await startB.WaitAsync(ct);
            var ack = await onA.ReceiveAsync(ct);
            // Acknowledged (the statement prepared before the migration is prepared again), in the migrated table.
            Assert.That(ack.GetRawText(), Is.EqualTo("""{"type":"result","service":"orders_tx","ref":"w7","ok":true}"""));
            Assert.That(writerA.InFlight, Is.Zero);
            var all = Enumerable.Range(1, Before + 1).ToList();
            Assert.That(PostgresQuery.Rows(cs, "SELECT id, note, _mkio_ref FROM orders ORDER BY id").Select(r => $"{r[0].Value}:{r[1].Value}:{r[2].Value}"), Is.EqualTo(all.Select(i => $"{i}:n/a:w{i}")), "w7 is in the migrated table");
            Assert.That(PostgresQuery.Rows(cs, "SELECT seq, ref FROM _mkio_journal ORDER BY seq").Select(r => $"{r[0].Value}:{r[1].Value}"), Is.EqualTo(all.Select(i => $"{i}:w{i}")), "gap-free positions, w7 after the migration");

            // Node B (started at the journal position the migration left) serves w7 with the new column.
            await using var onB = await nodeB.ConnectAsync("ws", ct);
            await Eventually.WaitUntilAsync(() => nodeB.Services.GetRequiredService<MkioEngineHost>().Engine.Position >= Before + 1, "node B has w7", ct);
            var snapshot = await onB.RequestAsync("""{"type":"subscribe","service":"book"}""", ct);
            var rows = snapshot.GetProperty("rows").EnumerateArray().Select(r => $"{r.GetProperty("id").GetInt64()}:{r.GetProperty("note").GetString()}:{r.GetProperty("_mkio_ref").GetString()}").Order(StringComparer.Ordinal);
            Assert.That(rows, Is.EqualTo(all.Select(i => $"{i}:n/a:w{i}").Order(StringComparer.Ordinal)), snapshot.GetRawText());

            // Node A's next write too (its statement is prepared for the new columns now), and its query snapshots.
            await AddAsync(onA, "w8", Before + 2, ct);
            await using var readerA = await nodeA.ConnectAsync("ws", ct);
            var afterA = await readerA.RequestAsync("""{"type":"subscribe","service":"all_orders"}""", ct);
            Assert.That(afterA.GetProperty("type").GetString(), Is.EqualTo("snapshot"), afterA.GetRawText());
            Assert.That(afterA.GetProperty("rows").GetArrayLength(), Is.EqualTo(Before + 2), afterA.GetRawText());
        }
        finally
        {
            release.TrySetResult();
            PostgresMigration.BeforeCommit = null;
            if (startB is not null && !startB.IsCompleted)
            {
                try
                {
                    await (await startB).DisposeAsync();
                }
                catch (MkioConfigurationException)
                {
                    // The start failed; the assertion above reports why.
                }
            }
        }
    }

    /// <summary>
    /// Reads repeated often enough for Npgsql to prepare them (automatic preparation: the same SQL five times on one
    /// connection — the pool has one here) still work after a migration changed the table's columns, and return the new
    /// ones (running nodes' query snapshots after another node's migration or mkio dbupdate).
    /// </summary>
    [Test, CancelAfter(60_000)]
    public async Task Reads_repeated_before_a_column_change_return_the_new_columns(CancellationToken ct)
    {
        var cs = await (await PostgresServer.SharedAsync()).CreateDatabaseAsync(cancellationToken: ct);
        var options = new MkioOptions { Postgres = cs };
        options.Table("t", t => t.Column("id", "INTEGER PRIMARY KEY").Column("a", "TEXT"));
        var (model, errors) = Mkio.Model.ModelCompiler.TryCompile(options);
        Assert.That(errors.Select(e => e.ToString()), Is.Empty);
        var single = new NpgsqlConnectionStringBuilder(MkioEngine.PostgresConnectionString(cs)) { MaxPoolSize = 1 }.ConnectionString;
        await using var source = NpgsqlDataSource.Create(single);
        await using (var c = await source.OpenConnectionAsync(ct))
        {
            await PostgresSchema.EnsureCreatedAsync(c, model!, ct);
        }

        PostgresQuery.Execute(cs, "INSERT INTO t (id, a) VALUES (1, 'x')");
        var reads = new PostgresReads(source, model!);
        for (var i = 0; i < 6; i++)
        {
            Assert.That(reads.Query("SELECT * FROM t"), Has.Count.EqualTo(1));
            Assert.That(reads.Snapshot("SELECT * FROM t", ["t"]).Rows, Has.Count.EqualTo(1));
        }

        PostgresQuery.Execute(cs, "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'y'");
        var rows = reads.Query("SELECT * FROM t");
        var snapshot = reads.Snapshot("SELECT * FROM t", ["t"]).Rows;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rows[0].TryGetValue("b", out var b) ? b : null, Is.EqualTo("y"));
            Assert.That(snapshot[0].TryGetValue("b", out var sb) ? sb : null, Is.EqualTo("y"));
        }
    }
}
