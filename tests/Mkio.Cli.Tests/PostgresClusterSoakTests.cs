using System.Globalization;
using System.Text.Json;
using Mkio.TestUtilities;
using Npgsql;

namespace Mkio.Cli.Tests;

/// <summary>
/// The randomized cluster soak: three <c>mkio serve</c> processes over one PostgreSQL database, writers spread
/// over all nodes, stream, subpub and query subscribers on all nodes, random SIGKILLs and restarts on the same
/// port, clients hopping between nodes with their last ref. The schedule comes from a seed printed with every
/// run (and in every failure); <c>MKIO_SOAK_SEED</c> replays it (thread timing still varies).
/// </summary>
public partial class PostgresClusterTests
{
    private const string SoakSeedVariable = "MKIO_SOAK_SEED";

    private const string SoakServices = """
        host = "127.0.0.1"

        [tables.items]
        columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", k = "TEXT NOT NULL", v = "INTEGER" }

        [tables.log]
        columns = { id = "INTEGER PRIMARY KEY AUTOINCREMENT", k = "TEXT NOT NULL", v = "INTEGER" }
        append_only = true

        [services.w]
        type = "transaction"

        [services.w.ops]
        put = [
            { table = "items", op_type = "insert", fields = ["k", "v"] },
            { table = "log", op_type = "insert", fields = ["k", "v"] },
        ]
        set = [
            { table = "items", op_type = "update", key = ["k"], fields = ["v"] },
            { table = "log", op_type = "insert", fields = ["k", "v"] },
        ]

        [services.feed]
        type = "stream"
        primary_table = "log"
        buffer_size = 100000

        [services.all_items]
        type = "query"
        primary_table = "items"
        change_log_size = 100000

        [services.latest]
        type = "subpub"
        primary_table = "items"
        key = "k"
        change_log_size = 100000
        """;

    [Test, CancelAfter(180_000)]
    public async Task Soak_random_kills_restarts_and_hops_lose_no_acknowledged_write_and_deliver_every_change_once_in_order(CancellationToken ct)
    {
        var seed = Environment.GetEnvironmentVariable(SoakSeedVariable) is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : Random.Shared.Next();
        await TestContext.Out.WriteLineAsync($"soak seed {seed} ({SoakSeedVariable}={seed} replays this schedule)");
        try
        {
            await new Soak(seed).RunAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            throw new AssertionException($"cluster soak failed with seed {seed} (rerun with {SoakSeedVariable}={seed}): {ex.Message}", ex);
        }
    }

    /// <summary>One soak run: the nodes, the clients, the chaos, then the checks against the journal.</summary>
    private sealed class Soak(int seed)
    {
        private const int Nodes = 3;
        private const int Writers = 4;
        private const int MaxWrites = 6000;
        private const int MaxKills = 5;
        private static readonly TimeSpan Duration = TimeSpan.FromSeconds(40);

        private readonly Random _random = new(seed);
        private readonly Lock _lock = new();
        private readonly MkioProcess?[] _nodes = new MkioProcess?[Nodes];
        private readonly int[] _ports = new int[Nodes];
        private readonly List<Write> _writes = [];
        private readonly List<Subscriber> _subscribers = [];
        private TempDirectory? _dir;
        private int _value;
        private int _kills;

        public async Task RunAsync(CancellationToken ct)
        {
            var server = await PostgresServer.SharedAsync();
            var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
            using var dir = new TempDirectory();
            _dir = dir;
            await File.WriteAllTextAsync(dir.File("cluster.toml"), $"postgres = \"{cs}\"\n" + SoakServices, ct);
            try
            {
                for (var i = 0; i < Nodes; i++)
                {
                    (_nodes[i], _ports[i]) = await StartAsync(dir, 0, ct);
                }

                await RunWorkloadAsync(ct);
                await CheckAsync(cs, ct);
            }
            finally
            {
                if (_stopSubscribers is not null)
                {
                    await _stopSubscribers.CancelAsync();
                    try
                    {
                        await Task.WhenAll(_subscriberTasks ?? []);
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or AssertionException)
                    {
                        // Already reported by the checks.
                    }

                    _stopSubscribers.Dispose();
                }

                foreach (var s in _subscribers)
                {
                    if (s.Socket is { } socket)
                    {
                        await socket.DisposeAsync();
                    }
                }

                foreach (var n in _nodes)
                {
                    if (n is not null)
                    {
                        await n.DisposeAsync();
                    }
                }
            }
        }

        private async Task RunWorkloadAsync(CancellationToken ct)
        {
            // One write before anyone subscribes, so every subscription starts from a ref.
            await using (var first = await TestSocket.ConnectAsync(Ws(_ports[0]), ct))
            {
                var reply = await first.RequestAsync("""{"service":"w","op":"put","data":{"k":"seed","v":0}}""", ct);
                Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True, reply.GetRawText());
            }

            foreach (var service in new[] { "feed", "all_items", "latest" })
            {
                for (var n = 0; n < Nodes; n++)
                {
                    var s = new Subscriber(service, n, new Random(_random.Next()));
                    s.Socket = await TestSocket.ConnectAsync(Ws(_ports[n]), ct);
                    var snapshot = await s.Socket.RequestAsync($$"""{"service":"{{service}}","type":"subscribe"}""", ct);
                    Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"), snapshot.GetRawText());
                    s.Begin(snapshot.GetProperty("ref").GetString()!);
                    Assert.That(s.LastRef, Is.Not.Empty, $"{service} on node {n} has the first write");
                    _subscribers.Add(s);
                }
            }

            using var stopChaos = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var stopWrites = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var stopHops = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var stopSubscribers = _stopSubscribers = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriterAsync(w, new Random(_random.Next()), stopWrites.Token), ct)).ToList();
            var subscribers = _subscribers.Select(s => Task.Run(() => SubscriberAsync(s, stopHops.Token, stopSubscribers.Token), ct)).ToList();
            var chaos = Task.Run(() => ChaosAsync(new Random(_random.Next()), stopChaos.Token), ct);

            await Task.WhenAny(Task.Delay(Duration, ct), Task.WhenAll(writers));
            await stopChaos.CancelAsync();
            await chaos;
            await stopWrites.CancelAsync();
            await Task.WhenAll(writers);
            await stopHops.CancelAsync();

            // Every node up again, then every subscriber must reach the journal's end.
            for (var n = 0; n < Nodes; n++)
            {
                if (_nodes[n] is null)
                {
                    (_nodes[n], _) = await StartAsync(_dir!, _ports[n], ct);
                }
            }

            _subscriberTasks = subscribers;
        }

        private CancellationTokenSource? _stopSubscribers;
        private List<Task>? _subscriberTasks;

        private async Task CheckAsync(string cs, CancellationToken ct)
        {
            var journal = await ReadJournalAsync(cs, ct);
            var committedRefs = journal.Select(j => j.Ref).ToHashSet(StringComparer.Ordinal);
            var acked = _writes.Where(w => w.Outcome == Outcome.Ok).ToList();
            var failed = _writes.Where(w => w.Outcome == Outcome.Failed).ToList();
            var unknown = _writes.Where(w => w.Outcome == Outcome.Unknown).ToList();
            Assert.That(_writes.Where(w => w.Outcome == Outcome.Pending), Is.Empty, "every write was answered or lost with its node");
            await TestContext.Out.WriteLineAsync($"soak: {_writes.Count} writes ({acked.Count} ok, {failed.Count} failed, {unknown.Count} unknown), {_kills} kills, "
                + $"{_subscribers.Sum(s => s.Hops)} hops, {journal.Count} journal entries");
            Assert.That(acked, Has.Count.GreaterThan(50), "the soak wrote something");
            Assert.That(_kills, Is.GreaterThan(0), "the soak killed a node");

            // Every acknowledged write is committed, with its values; no write answered with an error is.
            var byRef = journal.Where(j => j.Table == "items").ToDictionary(j => j.Ref, StringComparer.Ordinal);
            foreach (var w in acked)
            {
                Assert.That(byRef.TryGetValue(w.Ref!, out var e) && e.K == w.K && e.V == w.V, Is.True, $"acknowledged {w} is in the journal");
            }

            foreach (var w in failed)
            {
                Assert.That(committedRefs.Contains(w.Ref!), Is.False, $"{w} was answered with an error ({w.Error}) but committed");
            }

            // Nothing committed that nobody asked for: every committed change is an acknowledged or unknown write.
            var mayHaveCommitted = acked.Concat(unknown).Select(w => (long)w.V).Append(0L).ToHashSet();
            Assert.That(journal.Where(j => !mayHaveCommitted.Contains(j.V)).Select(j => $"{j.Seq} {j.Table} {j.K}={j.V}"), Is.Empty, "journal entries of failed writes");

            // The final table is the replay of the committed writes in journal order.
            var replay = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var e in journal.Where(j => j.Table == "items"))
            {
                replay[e.K] = e.V;
            }

            var table = await ReadItemsAsync(cs, ct);
            Assert.That(table, Is.EquivalentTo(replay), "final table = replay of the journal");
            foreach (var w in acked.GroupBy(w => w.K))
            {
                Assert.That(table.ContainsKey(w.Key), Is.True, $"acknowledged key {w.Key} is in the table");
            }

            // Every subscriber saw every change of its table after its first snapshot, once, in journal order.
            foreach (var s in _subscribers)
            {
                var tableName = s.Service == "feed" ? "log" : "items";
                var start = journal.FindLastIndex(j => j.Ref == s.StartRef);
                var expected = journal.Skip(start + 1).Where(j => j.Table == tableName).Select(j => j.Ref).ToList();
                try
                {
                    await Eventually.WaitUntilAsync(() => s.Count >= expected.Count || s.Failure is not null, $"{s} received {expected.Count} changes", ct, TimeSpan.FromSeconds(40));
                }
                catch (TimeoutException)
                {
                    // The comparison below says what is missing.
                }

                Assert.That(s.Failure, Is.Null, $"{s}");
                var received = s.Received();
                if (!received.SequenceEqual(expected))
                {
                    var at = Enumerable.Range(0, Math.Min(received.Count, expected.Count)).FirstOrDefault(i => received[i] != expected[i], Math.Min(received.Count, expected.Count));
                    var seqOf = journal.GroupBy(j => j.Ref).ToDictionary(g => g.Key, g => g.Last().Seq, StringComparer.Ordinal);
                    string Around(List<string> list) => string.Join(", ", list.Skip(Math.Max(0, at - 3)).Take(7).Select(r => $"{r}@{seqOf.GetValueOrDefault(r)}"));
                    Assert.Fail($"{s}: every change once, in journal order, across {s.Hops} hops; {received.Count} received, {expected.Count} expected; first difference at {at}:\n"
                        + $"expected {Around(expected)}\nreceived {Around(received)}\n"
                        + $"duplicates: {string.Join(", ", received.GroupBy(r => r).Where(g => g.Count() > 1).Select(g => g.Key).Take(10))}\n"
                        + $"missing: {string.Join(", ", expected.Except(received).Take(10))}\n"
                        + $"history: {string.Join("; ", s.History.Where(h => h.Index >= at - 200 && h.Index <= at + 50).Select(h => $"[{h.Index}] {h.What}"))}");
                }
            }

        }

        private async Task WriterAsync(int id, Random random, CancellationToken stop)
        {
            var mine = new List<string>();
            var n = 0;
            TestSocket? socket = null;
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    socket ??= (await ConnectAnyAsync(random, stop)).Socket;
                    if (socket is null)
                    {
                        continue;
                    }

                    await Task.Delay(random.Next(0, 12), stop);
                    Write w;
                    lock (_lock)
                    {
                        if (_writes.Count >= MaxWrites)
                        {
                            return;
                        }

                        var v = ++_value;
                        var roll = random.Next(100);
                        w = roll < 5 ? new Write("put", $"bad{id}_{n++}", v, true)
                            : roll < 25 && mine.Count > 0 ? new Write("set", mine[random.Next(mine.Count)], v, false)
                            : new Write("put", $"k{id}_{n++}", v, false);
                        _writes.Add(w);
                    }

                    var value = w.Bad ? "\"many\"" : w.V.ToString(CultureInfo.InvariantCulture);
                    try
                    {
                        var reply = await socket.RequestAsync($$$"""{"service":"w","op":"{{{w.Op}}}","msgid":{{{w.V}}},"data":{"k":"{{{w.K}}}","v":{{{value}}}}}""", CancellationToken.None);
                        Assert.That(reply.GetProperty("msgid").GetInt32(), Is.EqualTo(w.V), reply.GetRawText());
                        w.Ref = reply.GetProperty("ref").GetString();
                        if (reply.TryGetProperty("ok", out var ok) && ok.GetBoolean())
                        {
                            Assert.That(w.Bad, Is.False, $"{w} was accepted");
                            w.Outcome = Outcome.Ok;
                            if (w.Op == "put")
                            {
                                mine.Add(w.K);
                            }
                        }
                        else
                        {
                            w.Error = reply.GetProperty("message").GetString();
                            w.Outcome = w.Error!.StartsWith("database unavailable, the commit's outcome is unknown", StringComparison.Ordinal) ? Outcome.Unknown : Outcome.Failed;
                        }
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.Net.WebSockets.WebSocketException)
                    {
                        // The node died with the request in flight: its outcome is unknown to this client.
                        w.Outcome = Outcome.Unknown;
                        await socket.DisposeAsync();
                        socket = null;
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The run is over.
            }
            finally
            {
                if (socket is not null)
                {
                    await socket.DisposeAsync();
                }
            }
        }

        private async Task SubscriberAsync(Subscriber s, CancellationToken stopHops, CancellationToken stop)
        {
            var nextHop = DateTime.UtcNow.AddMilliseconds(s.Random.Next(1000, 5000));
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    if (s.Socket is null)
                    {
                        (s.Socket, var node) = await ConnectAnyAsync(s.Random, stop);
                        if (s.Socket is null)
                        {
                            continue;
                        }

                        s.Hops++;
                        s.Note($"hop {s.Hops} to node {node} with {s.LastRef}");
                        try
                        {
                            var reply = await s.Socket.RequestAsync($$"""{"service":"{{s.Service}}","type":"subscribe","ref":"{{s.LastRef}}"}""", stop);
                            var type = reply.GetProperty("type").GetString();
                            var expectedType = s.Service == "feed" ? "snapshot" : "delta";
                            if (type != expectedType)
                            {
                                s.Failure = $"a resume with a retained ref was answered with {type}: {reply.GetRawText()}";
                                return;
                            }

                            s.Note($"{type} of {(type == "delta" ? reply.GetProperty("changes").GetArrayLength() : reply.GetProperty("rows").GetArrayLength())}");
                            foreach (var row in type == "delta" ? reply.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("row")) : reply.GetProperty("rows").EnumerateArray())
                            {
                                s.Add(row.GetProperty("_mkio_ref").GetString()!);
                            }
                        }
                        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.Net.WebSockets.WebSocketException)
                        {
                            await DropAsync(s);
                            continue;
                        }
                    }

                    if (!stopHops.IsCancellationRequested && DateTime.UtcNow > nextHop)
                    {
                        nextHop = DateTime.UtcNow.AddMilliseconds(s.Random.Next(1000, 5000));
                        await DropAsync(s);
                        continue;
                    }

                    try
                    {
                        var m = await s.Socket.ReceiveAsync(stop, TimeSpan.FromMilliseconds(300));
                        if (m.GetProperty("type").GetString() != "update")
                        {
                            s.Failure = "unexpected message: " + m.GetRawText();
                            return;
                        }

                        s.Add(m.GetProperty("row").GetProperty("_mkio_ref").GetString()!);
                    }
                    catch (TimeoutException)
                    {
                        // Quiet: look at the hop schedule again.
                    }
                    catch (InvalidOperationException)
                    {
                        // The node was killed: hop.
                        await DropAsync(s);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The run is over.
            }
        }

        private static async Task DropAsync(Subscriber s)
        {
            if (s.Socket is { } socket)
            {
                s.Socket = null;
                await socket.DisposeAsync();
            }
        }

        private async Task ChaosAsync(Random random, CancellationToken stop)
        {
            try
            {
                while (!stop.IsCancellationRequested && _kills < MaxKills)
                {
                    await Task.Delay(random.Next(2000, 6000), stop);
                    var victim = random.Next(Nodes);
                    if (_nodes[victim] is not { } process || _nodes.Count(p => p is not null) < 2)
                    {
                        continue;
                    }

                    lock (_lock)
                    {
                        _nodes[victim] = null;
                    }

                    await process.KillAsync(CancellationToken.None);
                    await process.DisposeAsync();
                    _kills++;
                    await Task.Delay(random.Next(500, 3000), stop);
                    var (restarted, _) = await StartAsync(_dir!, _ports[victim], CancellationToken.None);
                    lock (_lock)
                    {
                        _nodes[victim] = restarted;
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The run is over; RunWorkloadAsync restarts whatever is down.
            }
        }

        private async Task<(TestSocket? Socket, int Node)> ConnectAnyAsync(Random random, CancellationToken stop)
        {
            int node;
            lock (_lock)
            {
                var up = Enumerable.Range(0, Nodes).Where(i => _nodes[i] is not null).ToList();
                node = up.Count == 0 ? -1 : up[random.Next(up.Count)];
            }

            try
            {
                if (node >= 0)
                {
                    return (await TestSocket.ConnectAsync(Ws(_ports[node]), stop), node);
                }
            }
            catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or OperationCanceledException && !stop.IsCancellationRequested)
            {
                // Killed or not listening yet: try again.
            }

            await Task.Delay(100, stop);
            return (null, node);
        }

        private static async Task<List<JournalRow>> ReadJournalAsync(string cs, CancellationToken ct)
        {
            await using var connection = new NpgsqlConnection(cs);
            await connection.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT seq, tbl, ref, row FROM _mkio_journal ORDER BY seq", connection);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            var rows = new List<JournalRow>();
            while (await r.ReadAsync(ct))
            {
                using var row = JsonDocument.Parse(r.GetString(3));
                rows.Add(new JournalRow(r.GetInt64(0), r.GetString(1), r.GetString(2), row.RootElement.GetProperty("k").GetString()!, row.RootElement.GetProperty("v").GetInt64()));
            }

            Assert.That(rows.Select(j => j.Seq), Is.EqualTo(Enumerable.Range(1, rows.Count).Select(i => (long)i)), "the journal is gap-free from 1 (nothing pruned)");
            return rows;
        }

        private static async Task<Dictionary<string, long>> ReadItemsAsync(string cs, CancellationToken ct)
        {
            await using var connection = new NpgsqlConnection(cs);
            await connection.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT k, v FROM items", connection);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            var rows = new Dictionary<string, long>(StringComparer.Ordinal);
            while (await r.ReadAsync(ct))
            {
                Assert.That(rows.TryAdd(r.GetString(0), r.GetInt64(1)), Is.True, $"key {r.GetString(0)} once");
            }

            return rows;
        }
    }

    private enum Outcome
    {
        Pending,
        Ok,
        Failed,
        Unknown,
    }

    private sealed record JournalRow(long Seq, string Table, string Ref, string K, long V);

    private sealed class Write(string op, string k, int v, bool bad)
    {
        public string Op { get; } = op;

        public string K { get; } = k;

        public int V { get; } = v;

        public bool Bad { get; } = bad;

        public string? Ref { get; set; }

        public string? Error { get; set; }

        public Outcome Outcome { get; set; }

        public override string ToString() => $"{Op} {K}={V} (ref {Ref})";
    }

    private sealed class Subscriber(string service, int node, Random random)
    {
        private readonly Lock _lock = new();
        private readonly List<string> _received = [];

        public string Service { get; } = service;

        public int FirstNode { get; } = node;

        public Random Random { get; } = random;

        public TestSocket? Socket { get; set; }

        public string LastRef { get; private set; } = "";

        public string StartRef { get; private set; } = "";

        public int Hops { get; set; }

        public string? Failure { get; set; }

        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _received.Count;
                }
            }
        }

        public List<(int Index, string What)> History { get; } = [];

        public void Note(string what)
        {
            lock (_lock)
            {
                History.Add((_received.Count, what));
            }
        }

        public void Begin(string @ref)
        {
            StartRef = @ref;
            LastRef = @ref;
        }

        public void Add(string @ref)
        {
            lock (_lock)
            {
                _received.Add(@ref);
                LastRef = @ref;
            }
        }

        public List<string> Received()
        {
            lock (_lock)
            {
                return [.. _received];
            }
        }

        public override string ToString() => $"{Service} subscriber (first on node {FirstNode})";
    }
}
