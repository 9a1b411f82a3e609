using System.Globalization;
using System.Text.Json;
using Mkio.TestUtilities;
using static Mkio.AspNetCore.Tests.Subscriptions.LiveTest;

namespace Mkio.AspNetCore.Tests.Resume;

/// <summary>
/// Concurrent writers and subscribers that disconnect and resume by ref at random points. The oracle
/// is the commit order recorded in the database's change journal: every reply and update a subscriber
/// receives must be exactly the next stretch of that order (no duplicate, no gap, F9/F18), and every
/// subscriber's reconstructed state must equal the table in the database file.
/// </summary>
public class RandomizedResumeTests
{
    private const int Writers = 4;
    private const int PerWriter = 75;
    private const int IdPool = 60;

    private static readonly string[] Services = ["all_orders", "last_trade", "q_small", "s_small"];

    private static void Configure(MkioOptions o)
    {
        FixtureAPlusOnFile(o);

        // Short logs make some resumes fall back to a snapshot.
        o.Query("q_small", s => s.From("orders").ChangeLogSize(20))
            .SubPub("s_small", s => s.From("orders").Key("id").ChangeLogSize(20));
    }

    [TestCase(20260404)]
    [TestCase(7)]
    [CancelAfter(240_000)]
    public async Task Subscribers_RandomDisconnectsAndResumesDuringConcurrentWrites_SeeExactlyTheCommitOrder(int seed, CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Configure, ct);
        using var writersDone = new CancellationTokenSource();
        var progress = new Progress();

        var agents = Enumerable.Range(0, Services.Length * 2)
            .Select(i => RunAgentAsync(host, Services[i % Services.Length], new Random(seed + 1000 + i), progress, writersDone.Token, ct))
            .ToList();
        var writers = Enumerable.Range(0, Writers).Select(w => RunWriterAsync(host, w, new Random(seed + w), progress, ct)).ToList();
        var outcomes = await Task.WhenAll(writers);
        await writersDone.CancelAsync();
        var episodes = await Task.WhenAll(agents);

        Assert.That(outcomes.Sum(o => o.Committed), Is.GreaterThan(100), "enough transactions committed");
        var journal = ReadDb(host.Directory.File(DbFile), "SELECT op, ref, row FROM _mkio_journal WHERE tbl = 'orders' ORDER BY seq")
            .Select(r => new JournalRow((string)r["op"]!, (string)r["ref"]!, (string)r["row"]!))
            .ToList();
        var position = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < journal.Count; i++)
        {
            Assert.That(position.TryAdd(journal[i].Ref, i), Is.True, "one event per transaction ref");
        }

        var table = ReadDb(host.Directory.File(DbFile), "SELECT * FROM orders");
        var deltas = 0;
        var snapshots = 0;
        var resumeSnapshots = 0;
        for (var a = 0; a < episodes.Length; a++)
        {
            var service = Services[a % Services.Length];
            var state = new Dictionary<string, string>(StringComparer.Ordinal);
            var p = 0;
            foreach (var episode in episodes[a])
            {
                var what = $"seed {seed}, agent {a} ({service}), resume ref '{episode.Cursor}'";
                var reply = episode.Messages[0];
                var type = reply.GetProperty("type").GetString();
                var replyRef = reply.GetProperty("ref").GetString()!;
                Assert.That(reply.GetProperty("service").GetString(), Is.EqualTo(service), what);
                if (type == "delta")
                {
                    deltas++;
                    Assert.That(episode.Cursor, Is.Not.Null, what);
                    var from = position[episode.Cursor!] + 1;
                    Assert.That(from, Is.EqualTo(p), $"{what}: the cursor is where the client stopped");
                    var to = position[replyRef] + 1;
                    var changes = reply.GetProperty("changes").EnumerateArray().ToList();
                    Assert.That(changes.Select(c => (c.GetProperty("op").GetString(), c.GetProperty("row").GetRawText())),
                        Is.EqualTo(journal.Skip(from).Take(to - from).Select(j => (j.Op, j.Row))), $"{what}: delta = the changes after the cursor, in commit order");
                    foreach (var j in journal.Skip(from).Take(to - from))
                    {
                        Apply(state, j.Op, j.Row);
                    }

                    p = to;
                }
                else
                {
                    snapshots++;
                    resumeSnapshots += episode.Cursor is null ? 0 : 1;
                    Assert.That(type, Is.EqualTo("snapshot"), what);
                    p = replyRef.Length == 0 ? 0 : position[replyRef] + 1;
                    state = reply.GetProperty("rows").EnumerateArray().ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetRawText(), StringComparer.Ordinal);
                    var expected = StateAt(journal, p);
                    Assert.That(state, Is.EquivalentTo(expected), $"{what}: the snapshot is the state as of its ref");
                }

                foreach (var update in episode.Messages.Skip(1))
                {
                    Assert.That(p, Is.LessThan(journal.Count), $"{what}: an update beyond the last commit");
                    var expected = journal[p];
                    Assert.That(update.GetRawText(), Is.EqualTo($$$$"""{"type":"update","service":"{{{{service}}}}","ref":"{{{{expected.Ref}}}}","op":"{{{{expected.Op}}}}","row":{{{{expected.Row}}}}}"""),
                        $"{what}: update #{p} in commit order");
                    Apply(state, expected.Op, expected.Row);
                    p++;
                }
            }

            Assert.That(p, Is.EqualTo(journal.Count), $"seed {seed}, agent {a}: the final resume reaches the last commit");
            AssertSameAsTable(state, table, $"seed {seed}, agent {a} ({service})");
        }

        Assert.That(deltas, Is.GreaterThan(0), "some resumes were deltas");
        TestContext.Out.WriteLine($"seed {seed}: {journal.Count} changes, {outcomes.Sum(o => o.Committed)} committed, {outcomes.Sum(o => o.Failed)} failed, {snapshots} snapshots ({resumeSnapshots} for a resume), {deltas} deltas");
    }

    private sealed record JournalRow(string Op, string Ref, string Row);

    private sealed record Episode(string? Cursor, List<JsonElement> Messages);

    private sealed record WriterOutcome(int Committed, int Failed);

    /// <summary>Counts answered transactions; lets a subscriber wait for "N more" without sleeping.</summary>
    private sealed class Progress
    {
        private readonly Lock _lock = new();
        private readonly List<(int Target, TaskCompletionSource Done)> _waiters = [];
        private int _count;

        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _count;
                }
            }
        }

        public void Add(int n)
        {
            List<TaskCompletionSource> done;
            lock (_lock)
            {
                _count += n;
                done = [.. _waiters.Where(w => w.Target <= _count).Select(w => w.Done)];
                _waiters.RemoveAll(w => w.Target <= _count);
            }

            foreach (var d in done)
            {
                d.TrySetResult();
            }
        }

        public Task WaitForAsync(int target, CancellationToken ct)
        {
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if (_count >= target)
                {
                    return Task.CompletedTask;
                }

                _waiters.Add((target, tcs));
            }

            return tcs.Task.WaitAsync(ct);
        }
    }

    private static async Task<WriterOutcome> RunWriterAsync(MkioTestHost host, int w, Random rnd, Progress progress, CancellationToken ct)
    {
        await using var ws = await host.ConnectAsync("ws", ct);
        int committed = 0, failed = 0;
        for (var i = 0; i < PerWriter;)
        {
            // Bursts of 1–4 pipelined transactions, so batches mix writers and sizes.
            var burst = Math.Min(rnd.Next(1, 5), PerWriter - i);
            for (var b = 0; b < burst; b++, i++)
            {
                var id = rnd.Next(IdPool).ToString(CultureInfo.InvariantCulture);
                var data = rnd.Next(10) switch
                {
                    < 4 => $$$"""{"service":"add_order","data":{"id":"{{{id}}}","symbol":"S{{{w}}}","qty":{{{rnd.Next(1000)}}}}}""",
                    < 8 => $$$"""{"service":"update_order","data":{"id":"{{{id}}}","qty":{{{(rnd.Next(5) == 0 ? "null" : rnd.Next(1000).ToString(CultureInfo.InvariantCulture))}}}}}""",
                    _ => $$$"""{"service":"delete_order","data":{"id":"{{{id}}}"}}""",
                };

                // Server refs, or client refs: a skewed clock that runs backwards, or free-form text.
                var @ref = rnd.Next(3) switch
                {
                    0 => null,
                    1 => $"20{20 + w}0101 00:00:00.{999_999 - i:D12}",
                    _ => $"w{w}-{i}",
                };
                await ws.SendAsync(@ref is null ? data : "{\"ref\":\"" + @ref + "\"," + data[1..], cancellationToken: ct);
            }

            for (var b = 0; b < burst; b++)
            {
                var reply = await ws.ReceiveAsync(ct);
                if (reply.GetProperty("type").GetString() == "result")
                {
                    committed++;
                }
                else
                {
                    Assert.That(reply.GetProperty("message").GetString(), Does.StartWith(StoreErrors.UniquePrefix), reply.GetRawText());
                    failed++;
                }
            }

            progress.Add(burst);
        }

        return new WriterOutcome(committed, failed);
    }

    private static async Task<List<Episode>> RunAgentAsync(MkioTestHost host, string service, Random rnd, Progress progress, CancellationToken writersDone, CancellationToken ct)
    {
        var episodes = new List<Episode>();
        string? cursor = null;
        var final = false;
        while (true)
        {
            final = final || writersDone.IsCancellationRequested;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, writersDone);
            if (!final && rnd.Next(4) == 0)
            {
                // Stay away until 40 more transactions were answered: short logs overflow meanwhile.
                try
                {
                    await progress.WaitForAsync(progress.Count + 40, stop.Token);
                }
                catch (OperationCanceledException) when (writersDone.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    final = true;
                }
            }

            if (!final && rnd.Next(8) == 0)
            {
                // Start over without a cursor: a fresh snapshot while writes commit (F9).
                cursor = null;
            }

            await using var s = await host.ConnectAsync("ws", ct);
            var request = cursor is null
                ? $$$"""{"service":"{{{service}}}","type":"subscribe"}"""
                : $$$"""{"service":"{{{service}}}","type":"subscribe","ref":"{{{cursor}}}"}""";
            var episode = new Episode(cursor, []);
            episodes.Add(episode);
            var reply = await s.RequestAsync(request, ct);
            episode.Messages.Add(reply);
            if (reply.GetProperty("ref").GetString() is { Length: > 0 } r)
            {
                cursor = r;
            }

            if (final)
            {
                // Subscribed after every write had been answered: the reply brings the client up to date.
                return episodes;
            }

            // Read a random number of updates, then drop the connection (in-flight updates are lost).
            var budget = rnd.Next(0, 30);
            try
            {
                for (var k = 0; k < budget; k++)
                {
                    var m = await s.ReceiveAsync(stop.Token, TimeSpan.FromSeconds(60));
                    episode.Messages.Add(m);
                    cursor = m.GetProperty("ref").GetString();
                }
            }
            catch (OperationCanceledException) when (writersDone.IsCancellationRequested && !ct.IsCancellationRequested)
            {
            }
        }
    }

    private static void Apply(Dictionary<string, string> state, string op, string row)
    {
        var id = JsonDocument.Parse(row).RootElement.GetProperty("id").GetString()!;
        if (op == "delete")
        {
            state.Remove(id);
        }
        else
        {
            state[id] = row;
        }
    }

    private static Dictionary<string, string> StateAt(List<JournalRow> journal, int count)
    {
        var state = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var j in journal.Take(count))
        {
            Apply(state, j.Op, j.Row);
        }

        return state;
    }

    private static void AssertSameAsTable(Dictionary<string, string> state, List<Dictionary<string, object?>> table, string what)
    {
        Assert.That(state.Keys.Order(StringComparer.Ordinal), Is.EqualTo(table.Select(r => (string)r["id"]!).Order(StringComparer.Ordinal)), what);
        foreach (var row in table)
        {
            var got = JsonDocument.Parse(state[(string)row["id"]!]).RootElement;
            Assert.That(got.GetProperty("symbol").GetString(), Is.EqualTo(row["symbol"]), what);
            Assert.That(got.GetProperty("qty").ValueKind == JsonValueKind.Null ? null : (object)got.GetProperty("qty").GetInt64(), Is.EqualTo(row["qty"]), what);
            Assert.That(got.GetProperty("price").GetDouble(), Is.EqualTo(row["price"]), what);
            Assert.That(got.GetProperty("status").GetString(), Is.EqualTo(row["status"]), what);
            Assert.That(got.GetProperty("_mkio_ref").GetString(), Is.EqualTo(row["_mkio_ref"]), what);
        }
    }
}
