using Mkio.Storage;

namespace Mkio.Core.Tests.Storage;

/// <summary>
/// The write batcher (SERVICES.md §5.5–5.7) driven through the transaction service on an in-memory
/// database with a fake clock: batch closing, isolation, commit order, events, drain and stop.
/// CONFORMANCE items 60, 69, 71–76.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public class WriteBatcherTests
{
    private static string Insert(string id, string? @ref = null, int qty = 1) =>
        @ref is null
            ? $$$"""{"data":{"id":"{{{id}}}","symbol":"S","qty":{{{qty}}}}}"""
            : $$$"""{"ref":"{{{@ref}}}","data":{"id":"{{{id}}}","symbol":"S","qty":{{{qty}}}}}""";

    [Test, CancelAfter(30_000)]
    public async Task RunAsync_LoneRequest_CommitsWithoutWaitingForTheWindow(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 500, batchMaxWaitMs: 60_000, ct);

        // The fake clock never moves: a batch that waited for batch_max_wait_ms would never commit.
        var first = await t.Submit("add_order", Insert("0", "r0"), ct);
        var second = await t.Submit("add_order", Insert("1", "r1"), ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first, Is.EqualTo(new WriteOutcome(true, "r0", null)));
            Assert.That(second, Is.EqualTo(new WriteOutcome(true, "r1", null)));
            Assert.That(t.BatchSizeValues, Is.EqualTo(new[] { 1, 1 }), "each request committed alone, as soon as nothing else was queued");
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task RunAsync_RequestsQueuedTogether_ShareOneBatch(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 500, batchMaxWaitMs: 60_000, ct);
        var outcomes = await SubmitHeldAsync(t, Enumerable.Range(0, 20).Select(i => Insert($"{i}")), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcomes.Select(o => o.Ok), Is.All.True);
            Assert.That(t.BatchSizeValues, Is.EqualTo(new[] { 20 }), "the 20 queued requests share one batch");
            Assert.That(t.Batches, Has.Count.EqualTo(1));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task RunAsync_QueueLongerThanMaxSize_SplitsAtMaxSize(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 4, batchMaxWaitMs: 60_000, ct);
        var outcomes = await SubmitHeldAsync(t, Enumerable.Range(0, 9).Select(i => Insert($"{i}", $"r{i}")), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcomes.Select(o => (o.Ok, o.Ref)), Is.EqualTo(Enumerable.Range(0, 9).Select(i => (true, $"r{i}"))));
            Assert.That(t.BatchSizeValues, Is.EqualTo(new[] { 4, 4, 1 }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task RunAsync_MaxWaitElapsed_ClosesTheBatchEvenWithRequestsQueued(CancellationToken ct)
    {
        // batch_max_wait_ms = 0: the bound is reached as soon as a batch opens, so each queued request gets its own.
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 500, batchMaxWaitMs: 0, ct);
        var outcomes = await SubmitHeldAsync(t, Enumerable.Range(0, 3).Select(i => Insert($"{i}")), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcomes.Select(o => o.Ok), Is.All.True);
            Assert.That(t.BatchSizeValues, Is.EqualTo(new[] { 1, 1, 1 }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task ExecuteBatch_FailingRequestInBatch_OthersCommitAndPublish(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 5, batchMaxWaitMs: 60_000, ct);
        Task<WriteOutcome>[] pending;
        using (await t.Engine.Writer.HoldAsync(ct))
        {
            pending =
            [
                t.Submit("add_order", Insert("a", "r1"), ct),
                t.Submit("add_order", Insert("a", "r2", qty: 2), ct),
                t.Submit("add_order", """{"ref":"r3","data":{"id":"b","symbol":null,"qty":3}}""", ct),
                t.Submit("place", """{"ref":"r4","data":{"id":"c","symbol":"S","qty":4,"event":"e"}}""", ct),
                t.Submit("place", """{"ref":"r5","data":{"id":"a","symbol":"S","qty":5,"event":"e"}}""", ct),
            ];
        }

        var outcomes = await Task.WhenAll(pending);

        var orders = await t.QueryAsync("SELECT id, qty, _mkio_ref FROM orders ORDER BY id", ct);
        var audit = await t.QueryAsync("SELECT id, event, order_id, _mkio_ref FROM audit_log", ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(t.BatchSizeValues, Is.EqualTo(new[] { 5 }), "all five ran in one batch");
            Assert.That(outcomes, Is.EqualTo(new[]
            {
                new WriteOutcome(true, "r1", null),
                new WriteOutcome(false, "r2", "UNIQUE constraint failed: orders.id"),
                new WriteOutcome(false, "r3", "NOT NULL constraint failed: orders.symbol"),
                new WriteOutcome(true, "r4", null),
                new WriteOutcome(false, "r5", "UNIQUE constraint failed: orders.id"),
            }));
            Assert.That(orders, Is.EqualTo(new[] { new object?[] { "a", 1L, "r1" }, new object?[] { "c", 4L, "r4" } }));
            Assert.That(audit, Is.EqualTo(new[] { new object?[] { 1L, "e", "c", "r4" } }), "the failed multi-op request left no audit row");
            Assert.That(t.Events.Select(e => $"{e.Table.Name} {e.Op} {e.Ref}"), Is.EqualTo(new[] { "orders insert r1", "orders insert r4", "audit_log insert r4" }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task ExecuteBatch_RefLessRequests_RefsGeneratedInCommitOrder(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 10, batchMaxWaitMs: 60_000, ct);
        var first = await SubmitHeldAsync(t, Enumerable.Range(0, 10).Select(i => Insert($"{i}")), ct);
        var second = await SubmitHeldAsync(t, Enumerable.Range(10, 10).Select(i => Insert($"{i}")), ct);
        var refs = first.Concat(second).Select(o => o.Ref).ToList();

        var stored = (await t.QueryAsync("SELECT CAST(id AS INTEGER), _mkio_ref FROM orders ORDER BY CAST(id AS INTEGER)", ct)).Select(r => (string)r[1]!).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(refs, Has.All.Match(@"^\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$"));
            Assert.That(refs, Is.Unique);
            Assert.That(refs, Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal), "submission order = commit order = ref order");
            Assert.That(refs[0], Does.StartWith("20260404 15:30:45."), "generated from the engine's clock, in UTC");
            Assert.That(stored, Is.EqualTo(refs));
            Assert.That(t.Events.Select(e => e.Ref), Is.EqualTo(refs));
            Assert.That(t.Events.Select(e => e.Sequence - t.Events[0].Sequence), Is.EqualTo(Enumerable.Range(0, 20).Select(i => (long)i)), "consecutive commit sequence numbers");
            Assert.That(t.BatchSizeValues, Is.EqualTo(new[] { 10, 10 }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task ExecuteBatch_MultiOpRequest_OneEventPerOpInOpOrderSameRef(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 1, batchMaxWaitMs: 0, ct);
        var outcome = await t.Submit("place", """{"data":{"id":"ORD1","symbol":"S","qty":4,"event":"new","order_id":"HACK"}}""", ct);

        var events = t.Events;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcome.Ok, Is.True, outcome.Error);
            Assert.That(events.Select(e => $"{e.Table.Name} {e.Op} {e.Ref == outcome.Ref}"), Is.EqualTo(new[] { "orders insert True", "audit_log insert True" }));
            Assert.That(StorageTestEngine.Values(events[0].Row), Is.EqualTo(new object?[] { "ORD1", "S", 4L, 0L, "pending", outcome.Ref }).Or.EqualTo(new object?[] { "ORD1", "S", 4L, 0.0, "pending", outcome.Ref }));
            Assert.That(StorageTestEngine.Values(events[1].Row), Is.EqualTo(new object?[] { 1L, "new", "ORD1", outcome.Ref }));
            Assert.That(events[1].Sequence, Is.EqualTo(events[0].Sequence + 1));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task ExecuteBatch_DeleteAndNoOpWrites_FullRowOrNoEvent(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 1, batchMaxWaitMs: 0, ct);
        var outcomes = new List<WriteOutcome>
        {
            await t.Submit("add_order", Insert("1", "i"), ct),
            await t.Submit("update_order", """{"ref":"u0","data":{"id":"nope","qty":5}}""", ct),
            await t.Submit("delete_order", """{"ref":"d0","data":{"id":"nope"}}""", ct),
            await t.Submit("update_order", """{"ref":"u1","data":{"id":"1","qty":7}}""", ct),
            await t.Submit("delete_order", """{"ref":"d1","data":{"id":"1"}}""", ct),
        };

        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcomes.Select(o => o.Ok), Is.All.True);
            Assert.That(t.Events.Select(e => $"{e.Op} {e.Ref}"), Is.EqualTo(new[] { "insert i", "update u1", "delete d1" }));
            Assert.That(t.Batches, Has.Count.EqualTo(3), "batches that change nothing publish nothing");
            var deleted = t.Events[2].Row;
            Assert.That(deleted.Schema.Names, Is.EqualTo(new[] { "id", "symbol", "qty", "price", "status", "_mkio_ref" }));
            Assert.That(StorageTestEngine.Values(deleted).Take(3), Is.EqualTo(new object?[] { "1", "S", 7L }));
            Assert.That(StorageTestEngine.Values(deleted).Skip(4), Is.EqualTo(new object?[] { "pending", "u1" }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task StopAsync_RequestsQueuedBeforeStop_AllCommitted(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 500, batchMaxWaitMs: 60_000, ct);
        List<Task<WriteOutcome>> pending;
        bool held;
        Task stop;
        using (await t.Engine.Writer.HoldAsync(ct))
        {
            pending = [.. Enumerable.Range(0, 50).Select(i => t.Submit("add_order", Insert($"{i}", $"q{i}"), ct))];
            held = !pending.Any(p => p.IsCompleted);
            stop = t.Engine.Writer.StopAsync(TimeSpan.FromSeconds(5));
        }

        await stop;
        var outcomes = await Task.WhenAll(pending);
        var count = await t.QueryAsync("SELECT COUNT(*) FROM orders", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(held, Is.True, "nothing committed while the writer was held");
            Assert.That(outcomes, Is.EqualTo(Enumerable.Range(0, 50).Select(i => new WriteOutcome(true, $"q{i}", null))));
            Assert.That(count[0][0], Is.EqualTo(50L));
            Assert.That(t.BatchSizeValues, Is.EqualTo(new[] { 50 }));
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task SubmitAsync_AfterStop_FailsWithStoppingMessage(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 1, batchMaxWaitMs: 0, ct);
        await t.Engine.Writer.StopAsync(TimeSpan.FromSeconds(5));
        var withRef = await t.Submit("add_order", Insert("1", "r69"), ct);
        var emptyRef = await t.Submit("add_order", Insert("2", string.Empty), ct);
        var refLess = await t.Submit("add_order", Insert("3"), ct);
        var count = await t.QueryAsync("SELECT COUNT(*) FROM orders", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(WriteBatcher.StoppingMessage, Is.EqualTo("Writer is stopping, no new submissions accepted"));
            Assert.That(withRef, Is.EqualTo(new WriteOutcome(false, "r69", "Writer is stopping, no new submissions accepted")));
            Assert.That(emptyRef, Is.EqualTo(new WriteOutcome(false, string.Empty, "Writer is stopping, no new submissions accepted")));
            Assert.That(refLess.Ok, Is.False);
            Assert.That(refLess.Error, Is.EqualTo("Writer is stopping, no new submissions accepted"));
            Assert.That(refLess.Ref, Does.Match(@"^\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$"), "the attempt's generated ref");
            Assert.That(count[0][0], Is.EqualTo(0L));
            Assert.That(t.Engine.Writer.IsStopping, Is.True);
        }
    }

    [Test, CancelAfter(30_000)]
    public async Task ExecuteBatch_Upsert_InsertsThenUpdatesNonKeyColumns(CancellationToken ct)
    {
        await using var t = await StorageTestEngine.StartAsync(batchMaxSize: 1, batchMaxWaitMs: 0, ct);
        var a = await t.Submit("upsert_order", """{"ref":"p1","data":{"id":"1","symbol":"A","qty":1}}""", ct);
        var afterInsert = await t.QueryAsync("SELECT id, symbol, qty, status, _mkio_ref FROM orders", ct);
        var b = await t.Submit("upsert_order", """{"ref":"p2","data":{"id":"1","symbol":"B"}}""", ct);
        var afterUpdate = await t.QueryAsync("SELECT id, symbol, qty, status, _mkio_ref FROM orders", ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That((a.Ok, b.Ok), Is.EqualTo((true, true)));
            Assert.That(afterInsert, Is.EqualTo(new[] { new object?[] { "1", "A", 1L, "pending", "p1" } }));
            Assert.That(afterUpdate, Is.EqualTo(new[] { new object?[] { "1", "B", 1L, "pending", "p2" } }), "omitted qty kept (F14)");
            Assert.That(t.Events.Select(e => $"{e.Op} {e.Ref}"), Is.EqualTo(new[] { "upsert p1", "upsert p2" }));
        }
    }

    /// <summary>
    /// Submits <c>add_order</c> requests behind a held writer (nothing may complete meanwhile), releases it and
    /// returns their outcomes: the requests were all queued when the writer took its next batch.
    /// </summary>
    private static async Task<WriteOutcome[]> SubmitHeldAsync(StorageTestEngine t, IEnumerable<string> requests, CancellationToken ct)
    {
        List<Task<WriteOutcome>> pending;
        using (await t.Engine.Writer.HoldAsync(ct))
        {
            pending = [.. requests.Select(r => t.Submit("add_order", r, ct))];
            Assert.That(pending.Any(p => p.IsCompleted), Is.False, "the held writer commits nothing");
        }

        return await Task.WhenAll(pending);
    }
}
