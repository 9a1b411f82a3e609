using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// Three <c>mkio serve</c> processes with one configuration over one PostgreSQL database: writes spread over
/// all nodes reach the subscribers of every node exactly once and in order; a node killed with SIGKILL loses
/// no acknowledged write, restarts on the same port, and a client hopping to it with its last ref gets a delta.
/// </summary>
public partial class PostgresClusterTests
{
    [Test, CancelAfter(240_000)]
    public async Task Three_nodes_deliver_every_write_to_every_node_once_in_order_and_survive_a_kill(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        using var dir = new TempDirectory();
        var sample = await File.ReadAllTextAsync(Path.Combine(Fixtures.RepoRoot, "samples", "OrderBook", "mkio.toml"), ct);
        var config = sample[..sample.IndexOf("[static]", StringComparison.Ordinal)]
            .Replace("host = \"0.0.0.0\"", "host = \"127.0.0.1\"", StringComparison.Ordinal)
            .Replace("db_path = \"orders.db\"", $"postgres = \"{cs}\"", StringComparison.Ordinal);
        await File.WriteAllTextAsync(dir.File("cluster.toml"), config, ct);

        var nodes = new MkioProcess[3];
        var ports = new int[3];
        try
        {
            for (var i = 0; i < 3; i++)
            {
                (nodes[i], ports[i]) = await StartAsync(dir, 0, ct);
            }

            // A stream subscriber on every node, then writes spread over the nodes.
            var feeds = new TestSocket[3];
            for (var i = 0; i < 3; i++)
            {
                feeds[i] = await TestSocket.ConnectAsync(Ws(ports[i]), ct);
                var snapshot = await feeds[i].RequestAsync("""{"service":"audit_feed","type":"subscribe"}""", ct);
                Assert.That(snapshot.GetProperty("rows").GetArrayLength(), Is.Zero);
            }

            const int Writes = 30;
            var writers = new TestSocket[3];
            for (var i = 0; i < 3; i++)
            {
                writers[i] = await TestSocket.ConnectAsync(Ws(ports[i]), ct);
            }

            var acked = new List<string>();
            for (var w = 0; w < Writes; w++)
            {
                var r = $"w{w:D3}";
                var reply = await writers[w % 3].RequestAsync($$$"""{"service":"orders","op":"new","ref":"{{{r}}}","data":{"side":"Buy","symbol":"S{{{w}}}","qty":{{{w}}},"price":1.5}}""", ct);
                Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True, reply.GetRawText());
                acked.Add(r);
            }

            for (var i = 0; i < 3; i++)
            {
                var seen = new List<string>();
                while (seen.Count < Writes)
                {
                    var update = await feeds[i].ReceiveAsync(ct);
                    seen.AddRange(Refs(update));
                }

                Assert.That(seen, Is.EqualTo(acked), $"node {i}: every write once, in commit order");
            }

            // kill -9 node 1; the others keep serving; node 1 restarts on the same port.
            await nodes[1].KillAsync(ct);
            var during = await writers[0].RequestAsync("""{"service":"orders","op":"new","ref":"k1","data":{"side":"Sell","symbol":"K","qty":1,"price":2.5}}""", ct);
            Assert.That(during.GetProperty("ok").GetBoolean(), Is.True, during.GetRawText());
            Assert.That(Refs(await feeds[2].ReceiveAsync(ct)), Is.EqualTo(new[] { "k1" }));
            (nodes[1], _) = await StartAsync(dir, ports[1], ct);

            // A client of node 0 hops to node 1 with its last ref (w029): it gets exactly k1, as a delta.
            await using var hop = await TestSocket.ConnectAsync(Ws(ports[1]), ct);
            var delta = await hop.RequestAsync($$$"""{"service":"all_orders","type":"subscribe","ref":"{{{acked[^1]}}}"}""", ct);
            Assert.That(delta.GetProperty("type").GetString(), Is.EqualTo("delta"), delta.GetRawText());
            Assert.That(delta.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("row").GetProperty("_mkio_ref").GetString()), Is.EqualTo(new[] { "k1" }));

            // Nothing acknowledged was lost: the restarted node's query snapshot holds every write.
            await using var all = await TestSocket.ConnectAsync(Ws(ports[1]), ct);
            var rows = await all.RequestAsync("""{"service":"all_orders","type":"subscribe"}""", ct);
            Assert.That(rows.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("_mkio_ref").GetString()).Order(StringComparer.Ordinal), Is.EqualTo(acked.Append("k1").Order(StringComparer.Ordinal)));

            foreach (var s in feeds.Concat(writers))
            {
                await s.DisposeAsync();
            }

            // SIGTERM: every node stops gracefully, and no node ever created a SQLite file in its working folder
            // (with postgres set, db_path's default mkio.db is neither created nor opened).
            foreach (var n in nodes)
            {
                await n.TerminateAsync(ct);
            }

            foreach (var n in nodes)
            {
                Assert.That(await n.WaitForExitAsync(ct), Is.Zero, n.Output);
            }

            Assert.That(Directory.GetFiles(dir.Path, "*.db*", SearchOption.AllDirectories), Is.Empty, "no SQLite file in PostgreSQL mode");
        }
        finally
        {
            foreach (var n in nodes)
            {
                if (n is not null)
                {
                    await n.DisposeAsync();
                }
            }
        }
    }

    private static async Task<(MkioProcess Process, int Port)> StartAsync(TempDirectory dir, int port, CancellationToken ct)
    {
        var p = MkioProcess.Start(dir.Path, "serve", "cluster.toml", "--port", port.ToString(CultureInfo.InvariantCulture));
        var m = await p.WaitForStdoutAsync(RunningLine(), ct);
        return (p, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static Uri Ws(int port) => new($"ws://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/ws");

    /// <summary>The refs of the audit rows an update carries (one update per committed transaction's audit insert).</summary>
    private static IEnumerable<string> Refs(JsonElement update) =>
        update.TryGetProperty("rows", out var rows) ? rows.EnumerateArray().Select(r => r.GetProperty("_mkio_ref").GetString()!)
        : update.TryGetProperty("row", out var row) ? [row.GetProperty("_mkio_ref").GetString()!]
        : throw new AssertionException("not an update: " + update.GetRawText());

    [GeneratedRegex(@"^======== Running on http://127\.0\.0\.1:(\d+) ========$")]
    private static partial Regex RunningLine();
}
