using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Mkio.Changes;
using Mkio.Model;
using Mkio.Services;
using Mkio.Storage;
using Mkio.Storage.Postgres;
using Mkio.TestUtilities;
using Npgsql;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// The PostgreSQL schema and writer against a real server: mapped tables, SAVEPOINT per request, COMMIT per
/// batch with <c>RETURNING *</c> rows, and one gap-free, commit-ordered journal when two nodes write at once.
/// </summary>
[TestFixture]
public sealed class PostgresWriterTests
{
    private const string Config = """
        [tables.orders]
        columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", side = "TEXT NOT NULL", symbol = "TEXT NOT NULL", qty = "INTEGER", price = "REAL DEFAULT 0", status = "TEXT DEFAULT 'pending'", created = "DATETIME DEFAULT CURRENT_TIMESTAMP" }

        [tables.audit_log]
        columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", event = "TEXT", order_id = "INTEGER", status = "TEXT" }

        [services.orders]
        type = "transaction"

        [services.orders.ops]
        new = [
            { table = "orders", op_type = "insert", fields = ["side", "symbol", "qty", "price"] },
            { table = "audit_log", op_type = "insert", defaults = { event = "new" }, bind = { order_id = "$0.id", status = "$0.status" } },
        ]
        fill = [
            { table = "orders", op_type = "update", key = ["id"], fields = ["status"], defaults = { status = "filled" } },
        ]
        """;

    [Test]
    public void The_engine_turns_on_automatic_preparation_unless_the_connection_string_sets_it()
    {
        var defaulted = new NpgsqlConnectionStringBuilder(MkioEngine.PostgresConnectionString("Host=127.0.0.1;Database=x"));
        var chosen = new NpgsqlConnectionStringBuilder(MkioEngine.PostgresConnectionString("Host=127.0.0.1;Database=x;Max Auto Prepare=5"));
        Assert.Multiple(() =>
        {
            Assert.That(defaulted.MaxAutoPrepare, Is.EqualTo(64));
            Assert.That(defaulted.Database, Is.EqualTo("x"));
            Assert.That(chosen.MaxAutoPrepare, Is.EqualTo(5));
        });
    }

    [Test]
    public async Task The_schema_is_created_idempotently_with_mapped_types_and_the_ref_index()
    {
        var (model, source) = await DatabaseAsync();
        await using var _ = source;
        await using (var c = await source.OpenConnectionAsync())
        {
            await PostgresSchema.EnsureCreatedAsync(c, model, CancellationToken.None);
        }

        var types = await RowsAsync(source, "SELECT column_name || ':' || data_type || ':' || is_identity FROM information_schema.columns WHERE table_name = 'orders' ORDER BY ordinal_position");
        Assert.That(types, Is.EqualTo(new[]
        {
            "id:bigint:YES", "side:text:NO", "symbol:text:NO", "qty:bigint:NO", "price:double precision:NO", "status:text:NO", "created:text:NO", "_mkio_ref:text:NO",
        }));
        Assert.That(await RowsAsync(source, "SELECT indexname FROM pg_indexes WHERE tablename = 'orders' AND indexname LIKE 'idx_%'"), Is.EqualTo(new[] { MkioSchema.RefIndexName("orders") }));
    }

    [Test]
    public async Task A_transaction_commits_its_returning_rows_binds_and_journal_entries()
    {
        var (model, source) = await DatabaseAsync();
        await using var _ = source;
        var bus = new ChangeBus();
        var seen = new Recorder();
        using var subscription = bus.Subscribe(seen);
        await using var writer = Writer(source, bus);
        var orders = Service(model, writer);

        var outcome = await orders.ExecuteAsync(Json("""{"op": "new", "data": {"side": "Buy", "symbol": "AAPL", "qty": "5", "price": 10}}"""), CancellationToken.None);

        Assert.That(outcome.Ok, Is.True, outcome.Error);
        Assert.That(seen.Events.Select(e => $"{e.Sequence} {e.Table.Name} {e.Op} {V(e.Row, "id")} {V(e.Row, "status")}"), Is.EqualTo(new[] { "1 orders insert 1 pending", "2 audit_log insert 1 pending" }));
        Assert.That(V(seen.Events[0].Row, "qty"), Is.EqualTo(5L), "'5' is stored as an integer, as SQLite's INTEGER affinity would");
        Assert.That(V(seen.Events[0].Row, "price"), Is.EqualTo(10.0));
        Assert.That(V(seen.Events[0].Row, "created"), Does.Match(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"));
        Assert.That(seen.Events.Select(e => e.Ref).Distinct(), Is.EqualTo(new[] { outcome.Ref }));
        Assert.That(await RowsAsync(source, "SELECT seq || ' ' || tbl || ' ' || op || ' ' || ref FROM _mkio_journal ORDER BY seq"), Is.EqualTo(new[] { $"1 orders insert {outcome.Ref}", $"2 audit_log insert {outcome.Ref}" }));
        Assert.That(await RowsAsync(source, "SELECT _mkio_ref FROM orders"), Is.EqualTo(new[] { outcome.Ref }));
    }

    [Test]
    public async Task A_failing_request_rolls_back_to_its_savepoint_and_leaves_the_rest_of_the_batch()
    {
        var (model, source) = await DatabaseAsync();
        await using var _ = source;
        await using var writer = Writer(source, new ChangeBus());
        var orders = Service(model, writer);

        var results = await Task.WhenAll(
            orders.ExecuteAsync(Json("""{"op": "new", "data": {"side": "Buy", "symbol": "A", "qty": 1, "price": 1}}"""), CancellationToken.None).AsTask(),
            orders.ExecuteAsync(Json("""{"op": "new", "data": {"side": null, "symbol": "B", "qty": 1, "price": 1}}"""), CancellationToken.None).AsTask(),
            orders.ExecuteAsync(Json("""{"op": "new", "data": {"side": "Sell", "symbol": "C", "qty": "many", "price": 1}}"""), CancellationToken.None).AsTask(),
            orders.ExecuteAsync(Json("""{"op": "new", "data": {"side": "Sell", "symbol": "D", "qty": 2, "price": 2}}"""), CancellationToken.None).AsTask());

        Assert.That(results.Select(r => r.Ok), Is.EqualTo(new[] { true, false, false, true }));
        Assert.That(results[1].Error, Does.Contain("null value in column \"side\""));
        Assert.That(results[2].Error, Is.EqualTo("datatype mismatch: orders.qty is INTEGER in PostgreSQL and cannot store 'many'"));
        Assert.That(await RowsAsync(source, "SELECT symbol FROM orders ORDER BY id"), Is.EqualTo(new[] { "A", "D" }));
        Assert.That(await RowsAsync(source, "SELECT seq::text FROM _mkio_journal ORDER BY seq"), Is.EqualTo(new[] { "1", "2", "3", "4" }));
    }

    [Test]
    public async Task Two_nodes_writing_at_once_make_one_gap_free_commit_ordered_journal()
    {
        var (model, source) = await DatabaseAsync();
        await using var _ = source;
        var busA = new ChangeBus();
        var busB = new ChangeBus();
        var seenA = new Recorder();
        var seenB = new Recorder();
        using var subA = busA.Subscribe(seenA);
        using var subB = busB.Subscribe(seenB);
        await using var nodeA = Writer(source, busA);
        await using var nodeB = Writer(source, busB);
        var onA = Service(model, nodeA);
        var onB = Service(model, nodeB);

        const int PerNode = 150;
        var writes = Enumerable.Range(0, PerNode).SelectMany(i => new[]
        {
            onA.ExecuteAsync(Json($$$"""{"op": "new", "data": {"side": "Buy", "symbol": "A{{{i}}}", "qty": {{{i}}}, "price": 1}}"""), CancellationToken.None).AsTask(),
            onB.ExecuteAsync(Json($$$"""{"op": "new", "data": {"side": "Sell", "symbol": "B{{{i}}}", "qty": {{{i}}}, "price": 2}}"""), CancellationToken.None).AsTask(),
        }).ToList();
        var outcomes = await Task.WhenAll(writes);

        Assert.That(outcomes.Count(o => o.Ok), Is.EqualTo(2 * PerNode));
        var journal = await RowsAsync(source, "SELECT seq || ' ' || ref FROM _mkio_journal ORDER BY seq");
        var seqs = journal.Select(j => long.Parse(j.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.That(seqs, Is.EqualTo(Enumerable.Range(1, 4 * PerNode).Select(i => (long)i)), "gap-free positions");
        var refs = journal.Select(j => j[(j.IndexOf(' ', StringComparison.Ordinal) + 1)..]).ToList();
        for (var i = 1; i < refs.Count; i++)
        {
            Assert.That(MkioRef.Compare(refs[i - 1], refs[i]), Is.LessThanOrEqualTo(0), $"refs follow commit order at {i}");
        }

        Assert.That(refs.Distinct().Count(), Is.EqualTo(2 * PerNode), "one ref per transaction, unique across nodes");
        Assert.That(seenA.Events.Count + seenB.Events.Count, Is.EqualTo(4 * PerNode));
        Assert.That(seenA.Events.Concat(seenB.Events).Select(e => e.Sequence).Order(), Is.EqualTo(seqs), "each node's events carry the journal positions");
        Assert.That(nodeA.Sequence, Is.GreaterThan(0));
        Assert.That(nodeB.Sequence, Is.GreaterThan(0));
    }

    [Test]
    public async Task Every_node_tail_publishes_every_nodes_commits_once_in_position_order_and_acks_follow_the_own_tail()
    {
        var (model, source) = await DatabaseAsync();
        await using var _ = source;
        var nodes = new List<(PostgresWriter Writer, PostgresJournalTail Tail, Recorder Seen, TransactionService Orders)>();
        var disposables = new List<IAsyncDisposable>();
        for (var n = 0; n < 2; n++)
        {
            var bus = new ChangeBus();
            var seen = new Recorder();
            bus.Subscribe(seen);
            var tail = new PostgresJournalTail(source, model, bus, NullLogger.Instance, TimeSpan.FromSeconds(1));
            tail.Start(0);
            var writer = new PostgresWriter(source, null, new MkioRefGenerator(TimeProvider.System), NullLogger.Instance, 500) { Tail = tail };
            writer.Start(0);
            disposables.Add(writer);
            disposables.Add(tail);
            nodes.Add((writer, tail, seen, Service(model, writer)));
        }

        try
        {
            // A transaction's reply comes after its own node has published it: a subscribe there would see it.
            for (var i = 0; i < 5; i++)
            {
                var node = nodes[i % 2];
                var o = await node.Orders.ExecuteAsync(Json($$$"""{"op": "new", "data": {"side": "Buy", "symbol": "S{{{i}}}", "qty": 1, "price": 1}}"""), CancellationToken.None);
                Assert.That(o.Ok, Is.True, o.Error);
                Assert.That(node.Seen.Snapshot().Any(e => e.Ref == o.Ref), Is.True, $"write {i} was published on its node before the reply");
            }

            const int PerNode = 100;
            var writes = Enumerable.Range(0, PerNode).SelectMany(i => nodes.Select(node =>
                node.Orders.ExecuteAsync(Json($$$"""{"op": "new", "data": {"side": "Sell", "symbol": "T{{{i}}}", "qty": {{{i}}}, "price": 2}}"""), CancellationToken.None).AsTask())).ToList();
            Assert.That((await Task.WhenAll(writes)).Count(o => o.Ok), Is.EqualTo(2 * PerNode));

            const int Total = 2 * (5 + (2 * PerNode));
            foreach (var node in nodes)
            {
                await Eventually.WaitUntilAsync(() => node.Seen.Snapshot().Count >= Total, "every node's tail has published every commit", CancellationToken.None);
                Assert.That(node.Seen.Snapshot().Select(e => e.Sequence), Is.EqualTo(Enumerable.Range(1, Total).Select(i => (long)i)), "exactly once, in position order");
                Assert.That(node.Tail.HandedOff + node.Tail.ReadBack, Is.EqualTo(Total), "every entry published once, handed over or read");
                Assert.That(node.Tail.HandedOff, Is.GreaterThan(0), "own batches are handed over by the writer, not read back");
                Assert.That(node.Tail.ReadBack, Is.GreaterThanOrEqualTo(2 * ((5 / 2) + PerNode)), "the other node's entries are read");
            }

            // A tail started at a position publishes only what follows it.
            var lateBus = new ChangeBus();
            var late = new Recorder();
            lateBus.Subscribe(late);
            await using var lateTail = new PostgresJournalTail(source, model, lateBus, NullLogger.Instance, TimeSpan.FromSeconds(1));
            lateTail.Start(Total - 3);
            await Eventually.WaitUntilAsync(() => late.Snapshot().Count >= 3, "the late tail caught up", CancellationToken.None);
            Assert.That(late.Snapshot().Select(e => e.Sequence), Is.EqualTo(new long[] { Total - 2, Total - 1, Total }));
        }
        finally
        {
            foreach (var d in disposables)
            {
                await d.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task A_lost_database_fails_writes_clearly_and_the_writer_and_tail_recover_without_gaps()
    {
        await using var server = await PostgresServer.StartNewAsync();
        var (model, source) = await DatabaseAsync(server);
        await using var _ = source;
        var bus = new ChangeBus();
        var seen = new Recorder();
        bus.Subscribe(seen);
        await using var tail = new PostgresJournalTail(source, model, bus, NullLogger.Instance, TimeSpan.FromMilliseconds(200));
        tail.Start(0);
        await using var writer = new PostgresWriter(source, null, new MkioRefGenerator(TimeProvider.System), NullLogger.Instance, 500) { Tail = tail };
        writer.Start(0);
        var orders = Service(model, writer);
        Task<WriteOutcome> New(string symbol) => orders.ExecuteAsync(Json($$$"""{"op": "new", "data": {"side": "Buy", "symbol": "{{{symbol}}}", "qty": 1, "price": 1}}"""), CancellationToken.None).AsTask();

        Assert.That((await New("before")).Ok, Is.True);
        await server.StopAsync(immediate: true);

        var during = await New("during");
        Assert.That(during.Ok, Is.False);
        Assert.That(during.Error, Does.StartWith("database unavailable"));
        Assert.That(writer.Fault, Does.StartWith("database unavailable"));

        await server.StartAsync();
        var after = during;
        for (var attempt = 0; attempt < 50 && !after.Ok; attempt++)
        {
            after = await New("after");
            if (!after.Ok)
            {
                Assert.That(after.Error, Does.StartWith("database unavailable"));
                await Task.Delay(100);
            }
        }

        Assert.That(after.Ok, Is.True, after.Error);
        Assert.That(writer.Fault, Is.Null);
        Assert.That(seen.Snapshot().Select(e => $"{e.Sequence} {e.Table.Name} {(e.Table.Name == "orders" ? V(e.Row, "symbol") : e.Op)}"), Is.EqualTo(new[] { "1 orders before", "2 audit_log insert", "3 orders after", "4 audit_log insert" }), "no gap, nothing twice, nothing of the failed write");
        Assert.That(V(seen.Snapshot()[3].Row, "order_id"), Is.EqualTo(V(seen.Snapshot()[2].Row, "id")), "ids may jump after a crash (PostgreSQL sequences), binds still follow them");

        // The writer hands its own batch over, so the ack does not wait for the tail's own reconnect; the tail
        // recovers by itself all the same.
        await Eventually.WaitUntilAsync(() => tail.Fault is null, "the tail reconnected", CancellationToken.None);
    }

    [Test]
    public async Task A_connection_lost_before_the_commit_reached_the_server_is_answered_as_not_committed()
    {
        var (model, source) = await DatabaseAsync();
        await using var _ = source;
        var bus = new ChangeBus();
        var seen = new Recorder();
        bus.Subscribe(seen);
        await using var writer = Writer(source, bus);
        var orders = Service(model, writer);
        var broken = 0;
        writer.BeforeCommit = async () =>
        {
            if (Interlocked.Exchange(ref broken, 1) == 0)
            {
                // Another connection ends the writer's backend while its transaction waits for COMMIT.
                var pid = await ScalarAsync<int>(source, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'");
                await ScalarAsync<bool>(source, $"SELECT pg_terminate_backend({pid})");
                await Eventually.WaitUntilAsync(() => ScalarAsync<long>(source, $"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}").GetAwaiter().GetResult() == 0, "the backend is gone", CancellationToken.None);
            }
        };

        var lost = await orders.ExecuteAsync(Json("""{"op": "new", "data": {"side": "Buy", "symbol": "LOST", "qty": 1, "price": 1}}"""), CancellationToken.None);

        Assert.That(lost.Ok, Is.False);
        Assert.That(lost.Error, Does.StartWith("database unavailable: "), "the lookup found the batch absent: a definite failure");
        Assert.That(lost.Error, Does.Not.Contain("unknown"));
        Assert.That(await RowsAsync(source, "SELECT symbol FROM orders"), Is.Empty);
        Assert.That(await RowsAsync(source, "SELECT seq::text FROM _mkio_journal"), Is.Empty);
        Assert.That(seen.Snapshot(), Is.Empty, "nothing published");

        var next = await orders.ExecuteAsync(Json("""{"op": "new", "data": {"side": "Buy", "symbol": "NEXT", "qty": 1, "price": 1}}"""), CancellationToken.None);
        Assert.That(next.Ok, Is.True, next.Error);
        Assert.That(seen.Snapshot().Select(e => e.Sequence), Is.EqualTo(new long[] { 1, 2 }), "the positions of the failed batch are reused, no gap");
        Assert.That(writer.Fault, Is.Null);
    }

    [Test]
    public async Task A_commit_whose_answer_was_lost_is_looked_up_and_answered_ok_and_an_unreachable_database_leaves_it_unknown()
    {
        await using var server = await PostgresServer.StartNewAsync();
        await using (var admin = NpgsqlDataSource.Create(server.AdminConnectionString))
        {
            // Commits of sessions with synchronous_commit = on wait for a standby that never comes: such a
            // COMMIT is durable and waits, invisible, until its backend is terminated — then it stands, and
            // its client never hears so. Everyone else commits locally.
            foreach (var sql in new[] { "ALTER SYSTEM SET synchronous_standby_names = 'mkio_nobody'", "ALTER SYSTEM SET synchronous_commit = 'local'" })
            {
                await using var cmd = admin.CreateCommand(sql);
                await cmd.ExecuteNonQueryAsync();
            }
        }

        await server.RestartAsync();
        var (model, source) = await DatabaseAsync(server);
        await using var _ = source;
        var waiting = new NpgsqlConnectionStringBuilder(source.ConnectionString) { Options = "-c synchronous_commit=on" }.ConnectionString;
        await using var waitingSource = NpgsqlDataSource.Create(waiting);
        var bus = new ChangeBus();
        var seen = new Recorder();
        bus.Subscribe(seen);
        await using (var writer = new PostgresWriter(waitingSource, bus, new MkioRefGenerator(TimeProvider.System), NullLogger.Instance, 500))
        {
            writer.Start(0);
            var orders = Service(model, writer);
            var write = orders.ExecuteAsync(Json("""{"op": "new", "data": {"side": "Buy", "symbol": "KEPT", "qty": 1, "price": 1}}"""), CancellationToken.None).AsTask();
            var pid = 0;
            await Eventually.WaitUntilAsync(
                () => (pid = ScalarAsync<int?>(source, "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'").GetAwaiter().GetResult() ?? 0) != 0,
                "the writer's COMMIT waits for the standby",
                CancellationToken.None);
            Assert.That(await ScalarAsync<bool>(source, $"SELECT pg_terminate_backend({pid})"), Is.True);

            var kept = await write;
            Assert.That(kept.Ok, Is.True, kept.Error);
            Assert.That(writer.Fault, Is.Null);
            Assert.That(await RowsAsync(source, "SELECT symbol FROM orders"), Is.EqualTo(new[] { "KEPT" }));
            Assert.That(await RowsAsync(source, "SELECT ref FROM _mkio_journal ORDER BY seq"), Is.EqualTo(new[] { kept.Ref, kept.Ref }));
            Assert.That(seen.Snapshot().Select(e => e.Sequence), Is.EqualTo(new long[] { 1, 2 }), "published once the commit was found");
        }

        // The database goes away between the batch and its COMMIT and stays away past the bound: unknown.
        await using (var writer = new PostgresWriter(source, bus, new MkioRefGenerator(TimeProvider.System), NullLogger.Instance, 500) { ResolveTimeout = TimeSpan.FromSeconds(1) })
        {
            writer.BeforeCommit = () => server.StopAsync(immediate: true);
            writer.Start(2);
            var orders = Service(model, writer);
            var unknown = await orders.ExecuteAsync(Json("""{"op": "new", "data": {"side": "Buy", "symbol": "UNKNOWN", "qty": 1, "price": 1}}"""), CancellationToken.None);
            Assert.That(unknown.Ok, Is.False);
            Assert.That(unknown.Error, Does.StartWith(PostgresWriter.UnknownOutcome));
            Assert.That(writer.Fault, Does.StartWith(PostgresWriter.UnknownOutcome));
            writer.BeforeCommit = null;
        }

        await server.StartAsync();
        Assert.That(await RowsAsync(source, "SELECT symbol FROM orders"), Is.EqualTo(new[] { "KEPT" }), "the stopped server rolled the unknown one back");
        Assert.That(seen.Snapshot(), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task The_journal_is_pruned_to_its_retention_and_a_tail_behind_the_pruned_entries_stops_with_a_fault()
    {
        var (model, source) = await DatabaseAsync();
        await using var _ = source;
        await using (var writer = new PostgresWriter(source, null, new MkioRefGenerator(TimeProvider.System), NullLogger.Instance, 500)
        {
            Retention = new Dictionary<string, int> { ["orders"] = 10, ["audit_log"] = 10 },
        })
        {
            writer.Start(0);
            var orders = Service(model, writer);
            for (var i = 0; i < 140; i++)
            {
                Assert.That((await orders.ExecuteAsync(Json($$$"""{"op": "new", "data": {"side": "Buy", "symbol": "P{{{i}}}", "qty": 1, "price": 1}}"""), CancellationToken.None)).Ok, Is.True);
            }
        }

        // 280 entries: one prune after the 256th, keeping the newest 10 of each table then.
        var left = await RowsAsync(source, "SELECT tbl || ' ' || count(*) || ' ' || min(seq) FROM _mkio_journal GROUP BY tbl ORDER BY tbl");
        Assert.That(left, Is.EqualTo(new[] { "audit_log 22 238", "orders 22 237" }));
        Assert.That(await RowsAsync(source, "SELECT key || ' ' || value FROM _mkio_journal_state ORDER BY key"), Is.EqualTo(new[] { "high_water 256", "pruned 1" }));

        var bus = new ChangeBus();
        await using var tail = new PostgresJournalTail(source, model, bus, NullLogger.Instance, TimeSpan.FromMilliseconds(100));
        tail.Start(0);
        await Eventually.WaitUntilAsync(() => tail.Fault is not null, "the tail found the gap", CancellationToken.None);
        Assert.That(tail.Fault, Does.Contain("were pruned before this node read them"));
        Assert.That(tail.Position, Is.Zero, "nothing past the gap was published");
    }

    private static PostgresWriter Writer(NpgsqlDataSource source, ChangeBus bus)
    {
        var writer = new PostgresWriter(source, bus, new MkioRefGenerator(TimeProvider.System), NullLogger.Instance, 500);
        writer.Start(0);
        return writer;
    }

    private static TransactionService Service(MkioModel model, IWriteQueue writer) =>
        new((TransactionServiceModel)model.ServicesByName["orders"], writer, new MkioRefGenerator(TimeProvider.System));

    private static object? V(Mkio.Data.Row row, string column) => row.TryGetValue(column, out var v) ? v : "(missing)";

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    private static async Task<(MkioModel Model, NpgsqlDataSource Source)> DatabaseAsync(PostgresServer? own = null)
    {
        var server = own ?? await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync();
        var options = new MkioOptions();
        TomlConfigLoader.ApplyText(Config, "mkio.toml", options);
        options.Postgres = cs;
        var (model, errors) = ModelCompiler.TryCompile(options);
        Assert.That(errors.Select(e => e.ToString()), Is.Empty);
        var source = NpgsqlDataSource.Create(cs);
        await using var c = await source.OpenConnectionAsync();
        await PostgresSchema.EnsureCreatedAsync(c, model!, CancellationToken.None);
        return (model!, source);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource source, string sql)
    {
        await using var cmd = source.CreateCommand(sql);
        var value = await cmd.ExecuteScalarAsync();
        return value is null or DBNull ? default! : (T)value;
    }

    private static async Task<List<string>> RowsAsync(NpgsqlDataSource source, string sql)
    {
        await using var cmd = source.CreateCommand(sql);
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<string>();
        while (await r.ReadAsync())
        {
            list.Add(r.GetString(0));
        }

        return list;
    }

    private sealed class Recorder : IChangeListener
    {
        private readonly Lock _lock = new();

        public List<ChangeEvent> Events { get; } = [];

        public IReadOnlyCollection<string>? Tables => null;

        public List<ChangeEvent> Snapshot()
        {
            lock (_lock)
            {
                return [.. Events];
            }
        }

        public void OnCommitted(IReadOnlyList<ChangeEvent> events)
        {
            lock (_lock)
            {
                Events.AddRange(events);
            }
        }
    }
}
