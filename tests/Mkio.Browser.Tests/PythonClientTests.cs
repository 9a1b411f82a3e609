using System.Text.Json;
using System.Text.RegularExpressions;
using Mkio.Browser.Tests.Support;
using Mkio.TestUtilities;

namespace Mkio.Browser.Tests;

/// <summary>
/// The mkio 0.1.0 Python client against a real server (CONFORMANCE items 142/143): an emulation
/// written from CLIENTS.md §2 (tests/python/mkio_client_0_1_0.py, asyncio + aiohttp) runs the
/// scenarios of tests/python/scenarios.py under Debian's <c>/usr/bin/python3</c> against
/// tests/python/python_client.mkio.toml with a SQLite file in a temp folder, and the tests assert on
/// the frames it sent and the messages it received: ref-less and ref'd sends, extras, error replies,
/// subscription snapshot and cursor, checks, and reconnect with resubscribe across a server restart.
/// </summary>
public partial class PythonClientTests
{
    private static readonly TimeSpan ScenarioTimeout = TimeSpan.FromSeconds(60);

    private static string Toml => Path.Combine(Fixtures.RepoRoot, "tests", "python", "python_client.mkio.toml");

    [GeneratedRegex(@"^\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$")]
    private static partial Regex RefFormat();

    private static async Task<IReadOnlyDictionary<string, JsonElement>> RunScenarioAsync(string scenario, CancellationToken ct)
    {
        using var dir = new TempDirectory();
        await using var host = await MkioTestHost.StartAsync(_ => { }, ct, directory: dir, tomlPath: Toml);
        await using var python = PythonProcess.StartScenario(new Uri(host.WsBase, "ws"), scenario);
        var steps = await python.WaitForObservationsAsync(ScenarioTimeout, ct);
        Assert.That(File.Exists(dir.File("python-client.db")), Is.True, "the server's SQLite file in the temp folder");
        TestContext.Out.WriteLine(python.Output);
        return steps;
    }

    private static string Keys(JsonElement o) => string.Join(",", o.EnumerateObject().Select(p => p.Name));

    private static string? Str(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static JsonElement Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    /// <summary>The text frame the Python client sends for a <c>new</c> order (json.dumps separators).</summary>
    private static string NewOrderFrame(string id, string symbol, int qty, string tail) =>
        $"{{\"service\": \"orders\", \"data\": {{\"id\": \"{id}\", \"symbol\": \"{symbol}\", \"qty\": {qty}}}, \"op\": \"new\"{tail}}}";

    private static void AssertResult(JsonElement reply, string? expectedRef = null, string? msgid = null)
    {
        Assert.That(Keys(reply), Is.EqualTo(msgid is null ? "type,service,ref,ok" : "type,service,ref,msgid,ok"), reply.GetRawText());
        Assert.That(Str(reply, "type"), Is.EqualTo("result"), reply.GetRawText());
        Assert.That(Str(reply, "service"), Is.EqualTo("orders"), reply.GetRawText());
        Assert.That(reply.GetProperty("ok").GetBoolean(), Is.True, reply.GetRawText());
        Assert.That(Str(reply, "ref"), expectedRef is null ? Does.Match(RefFormat()) : Is.EqualTo(expectedRef), reply.GetRawText());
        if (msgid is not null)
        {
            Assert.That(Str(reply, "msgid"), Is.EqualTo(msgid), reply.GetRawText());
        }
    }

    private static void AssertUpdate(JsonElement message, string op, string id, int qty, string expectedRef)
    {
        Assert.That(Keys(message), Is.EqualTo("type,service,ref,op,row"), message.GetRawText());
        Assert.That(Str(message, "type"), Is.EqualTo("update"), message.GetRawText());
        Assert.That(Str(message, "service"), Is.EqualTo("all_orders"), message.GetRawText());
        Assert.That(Str(message, "ref"), Is.EqualTo(expectedRef), message.GetRawText());
        Assert.That(Str(message, "op"), Is.EqualTo(op), message.GetRawText());
        AssertRow(message.GetProperty("row"), id, qty, expectedRef);
    }

    private static void AssertRow(JsonElement row, string id, int qty, string? mkioRef)
    {
        Assert.That(Keys(row), Is.EqualTo("id,symbol,qty,price,status,_mkio_ref"), row.GetRawText());
        Assert.That(Str(row, "id"), Is.EqualTo(id), row.GetRawText());
        Assert.That(row.GetProperty("qty").GetInt32(), Is.EqualTo(qty), row.GetRawText());
        if (mkioRef is not null)
        {
            Assert.That(Str(row, "_mkio_ref"), Is.EqualTo(mkioRef), row.GetRawText());
        }
    }

    /// <summary>CONFORMANCE item 142 (and CLIENTS.md §2.2, §2.5 rule 2, §4 items 1–3 and 6).</summary>
    [Test, CancelAfter(120_000)]
    public async Task Send_WithoutRefWithRefAndExtras_EachReplyReachesItsSend(CancellationToken ct)
    {
        var steps = await RunScenarioAsync("send", ct);
        using (Assert.EnterMultipleScope())
        {
            // Without ref: no "ref" key on the wire, the result carries a server-made ref.
            var noRef = steps["send_no_ref"];
            var id1 = Parse(noRef.GetProperty("frame").GetString()!).GetProperty("data").GetProperty("id").GetString()!;
            var run = id1[..^"-1".Length];
            Assert.That(noRef.GetProperty("frame").GetString(), Is.EqualTo(NewOrderFrame(id1, "PYC", 1, string.Empty)));
            AssertResult(noRef.GetProperty("reply"));

            // With ref=R (a make_ref() value): "ref" last in the frame, echoed verbatim.
            var withRef = steps["send_with_ref"];
            var r = withRef.GetProperty("ref").GetString()!;
            Assert.That(r, Does.Match(RefFormat()), "make_ref()");
            Assert.That(withRef.GetProperty("frame").GetString(), Is.EqualTo(NewOrderFrame($"{run}-2", "PYC", 1, $", \"ref\": \"{r}\"")));
            AssertResult(withRef.GetProperty("reply"), expectedRef: r);

            // Extra named arguments become top-level keys; msgid is echoed.
            var extras = steps["send_extras"];
            Assert.That(extras.GetProperty("frame").GetString(), Is.EqualTo(NewOrderFrame($"{run}-3", "PYC", 1, ", \"msgid\": \"req-42\"")));
            AssertResult(extras.GetProperty("reply"), msgid: "req-42");

            // An error reply is returned, not raised.
            var error = steps["send_error"].GetProperty("reply");
            Assert.That(Keys(error), Is.EqualTo("type,message,ref,msgid"), error.GetRawText());
            Assert.That(Str(error, "type"), Is.EqualTo("error"));
            Assert.That(Str(error, "message"), Is.EqualTo("UNIQUE constraint failed: orders.id"));
            Assert.That(Str(error, "ref"), Does.Match(RefFormat()));
            Assert.That(Str(error, "msgid"), Is.EqualTo("dup"));

            // A transaction to a query service gets one error (F15), so the FIFO stays aligned.
            var toQuery = steps["send_to_query"];
            Assert.That(toQuery.GetProperty("frame").GetString(), Is.EqualTo("{\"service\": \"all_orders\", \"data\": {}}"));
            var queryError = toQuery.GetProperty("reply");
            Assert.That(Keys(queryError), Is.EqualTo("type,message"), queryError.GetRawText());
            Assert.That(Str(queryError, "type"), Is.EqualTo("error"));
            Assert.That(Str(queryError, "message"), Is.Not.Empty);
            AssertResult(steps["send_after_error"].GetProperty("reply"), msgid: "after");

            // Every reply came as a binary frame (PROTOCOL.md §1.6), one per request.
            var frames = steps["frames"];
            Assert.That(frames.GetProperty("received_kinds").EnumerateArray().Select(k => k.GetString()), Is.EqualTo(new[] { "binary" }));
            Assert.That(frames.GetProperty("received").GetInt32(), Is.EqualTo(6));
        }
    }

    /// <summary>CONFORMANCE item 143 (and CLIENTS.md §2.3, §2.4, §2.5 rules 1 and 3).</summary>
    [Test, CancelAfter(120_000)]
    public async Task Subscribe_SnapshotFirstThenUpdates_CursorFollowsAndCheckReturnsResult(CancellationToken ct)
    {
        var steps = await RunScenarioAsync("subscribe", ct);
        using (Assert.EnterMultipleScope())
        {
            var first = steps["first_order"].GetProperty("reply");
            AssertResult(first);
            var r1 = Str(first, "ref")!;

            // The first yielded message is the snapshot; its ref becomes the cursor.
            var snapshot = steps["snapshot"];
            Assert.That(snapshot.GetProperty("frame").GetString(), Is.EqualTo("{\"service\": \"all_orders\", \"type\": \"subscribe\"}"));
            var snap = snapshot.GetProperty("message");
            Assert.That(Keys(snap), Is.EqualTo("type,service,ref,rows"), snap.GetRawText());
            Assert.That(Str(snap, "type"), Is.EqualTo("snapshot"));
            Assert.That(Str(snap, "service"), Is.EqualTo("all_orders"));
            Assert.That(Str(snap, "ref"), Is.EqualTo(r1), "snapshot ref = the newest change");
            Assert.That(snap.GetProperty("rows").GetArrayLength(), Is.EqualTo(1), snap.GetRawText());
            var id1 = Str(snap.GetProperty("rows")[0], "id")!;
            var run = id1[..^"-1".Length];
            AssertRow(snap.GetProperty("rows")[0], id1, 1, r1);
            Assert.That(Str(snapshot, "cursor"), Is.EqualTo(r1), "the subscription record's cursor after the snapshot");

            // Our own send produces an update on the iterator; the cursor advances to its ref.
            var update = steps["update"];
            AssertResult(update.GetProperty("reply"));
            var r2 = Str(update.GetProperty("reply"), "ref")!;
            AssertUpdate(update.GetProperty("message"), "insert", $"{run}-2", 2, r2);
            Assert.That(Str(update, "cursor"), Is.EqualTo(r2), "the cursor after the update");

            // check of a committed ref: a plain result; of an unknown ref: status "unknown".
            var known = steps["check_known"];
            Assert.That(known.GetProperty("frame").GetString(), Is.EqualTo($"{{\"service\": \"orders\", \"type\": \"check\", \"ref\": \"{r2}\"}}"));
            AssertResult(known.GetProperty("reply"), expectedRef: r2);
            var unknown = steps["check_unknown"];
            var unknownRef = unknown.GetProperty("ref").GetString()!;
            var unknownReply = unknown.GetProperty("reply");
            Assert.That(Keys(unknownReply), Is.EqualTo("type,service,ref,status,ok"), unknownReply.GetRawText());
            Assert.That(Str(unknownReply, "type"), Is.EqualTo("result"));
            Assert.That(Str(unknownReply, "ref"), Is.EqualTo(unknownRef));
            Assert.That(Str(unknownReply, "status"), Is.EqualTo("unknown"));
            Assert.That(unknownReply.GetProperty("ok").GetBoolean(), Is.True);

            // Rule 1: a ref'd send while subscribed is resolved by whichever message carries the ref first.
            var quirk = steps["send_with_ref_subscribed"];
            var r3 = quirk.GetProperty("ref").GetString()!;
            var quirkReply = quirk.GetProperty("reply");
            Assert.That(Str(quirkReply, "ref"), Is.EqualTo(r3), quirkReply.GetRawText());
            Assert.That(Str(quirkReply, "type"), Is.AnyOf("result", "update"), quirkReply.GetRawText());
        }
    }

    /// <summary>
    /// CLIENTS.md §2.6 and §4 item 5: the client reconnects with backoff after the server restarts on
    /// the same port and database file, resubscribes with its filter and cursor, and receives exactly
    /// the changes committed while it was away (committed through another server instance on the same
    /// file, on another port, so that they are certainly committed before it reconnects).
    /// </summary>
    [Test, CancelAfter(180_000)]
    public async Task Reconnect_ServerRestartOnSamePortAndFile_ResubscribesWithCursorAndGetsExactlyTheMissedChanges(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var port = FixedPortHost.FreePort();
        var host = await FixedPortHost.StartAsync(port, dir, _ => { }, Toml, ct);
        try
        {
            await using var python = PythonProcess.StartScenario(host.WsUrl, "reconnect");
            var ready = await python.WaitForStepAsync("ready", ScenarioTimeout, ct);
            var run = Str(ready, "run")!;
            var symbol = Str(ready, "symbol")!;

            await host.DisposeAsync();
            var away = new List<JsonElement>();
            await using (var other = await MkioTestHost.StartAsync(_ => { }, ct, directory: dir, tomlPath: Toml))
            {
                await using var ws = await other.ConnectAsync(cancellationToken: ct);
                foreach (var (op, data) in new[]
                         {
                             ("new", $"{{\"id\":\"{run}-other\",\"symbol\":\"ZZZ\",\"qty\":9}}"),
                             ("new", $"{{\"id\":\"{run}-away-1\",\"symbol\":\"{symbol}\",\"qty\":4}}"),
                             ("new", $"{{\"id\":\"{run}-away-2\",\"symbol\":\"{symbol}\",\"qty\":5}}"),
                             ("set_qty", $"{{\"id\":\"{run}-away-1\",\"qty\":7}}"),
                             ("remove", $"{{\"id\":\"{run}-before-1\"}}"),
                         })
                {
                    var reply = await ws.RequestAsync($"{{\"service\":\"orders\",\"op\":\"{op}\",\"data\":{data}}}", ct);
                    Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
                    away.Add(reply);
                }
            }

            host = await FixedPortHost.StartAsync(port, dir, _ => { }, Toml, ct);
            var steps = await python.WaitForObservationsAsync(ScenarioTimeout, ct);
            TestContext.Out.WriteLine(python.Output);
            var awayRefs = away.Select(a => a.GetProperty("ref").GetString()!).ToArray();

            using (Assert.EnterMultipleScope())
            {
                var snapshot = steps["snapshot"];
                Assert.That(snapshot.GetProperty("frame").GetString(), Is.EqualTo($"{{\"service\": \"all_orders\", \"type\": \"subscribe\", \"filter\": \"symbol == '{symbol}'\"}}"));
                Assert.That(snapshot.GetProperty("message").GetRawText(), Is.EqualTo("{\"type\": \"snapshot\", \"service\": \"all_orders\", \"ref\": \"\", \"rows\": []}"));

                var replies = ready.GetProperty("replies").EnumerateArray().ToArray();
                var updates = ready.GetProperty("updates").EnumerateArray().ToArray();
                Assert.That(replies, Has.Length.EqualTo(2));
                Assert.That(updates, Has.Length.EqualTo(2));
                var before = replies.Select(r => Str(r, "ref")!).ToArray();
                for (var i = 0; i < 2; i++)
                {
                    AssertResult(replies[i]);
                    AssertUpdate(updates[i], "insert", $"{run}-before-{i + 1}", i + 1, before[i]);
                }

                var cursor = Str(ready, "cursor");
                Assert.That(cursor, Is.EqualTo(before[1]), "cursor before the restart");
                Assert.That(ready.GetProperty("connects").GetInt32(), Is.EqualTo(1));

                // Reconnected once, resubscribed (the only frame sent meanwhile) with filter and cursor.
                var resumed = steps["resumed"];
                Assert.That(resumed.GetProperty("connects").GetInt32(), Is.EqualTo(2), "WebSocket handshakes");
                Assert.That(
                    resumed.GetProperty("resubscribe").EnumerateArray().Select(f => f.GetString()),
                    Is.EqualTo(new[] { $"{{\"service\": \"all_orders\", \"type\": \"subscribe\", \"filter\": \"symbol == '{symbol}'\", \"ref\": \"{cursor}\"}}" }));

                // Exactly the changes committed while away that match the filter, in commit order.
                var delta = resumed.GetProperty("message");
                Assert.That(Keys(delta), Is.EqualTo("type,service,ref,changes"), delta.GetRawText());
                Assert.That(Str(delta, "type"), Is.EqualTo("delta"), delta.GetRawText());
                Assert.That(Str(delta, "service"), Is.EqualTo("all_orders"));
                Assert.That(Str(delta, "ref"), Is.EqualTo(awayRefs[^1]), "delta ref = the newest change");
                var changes = delta.GetProperty("changes").EnumerateArray().ToArray();
                Assert.That(
                    changes.Select(c => $"{Str(c, "op")} {Str(c.GetProperty("row"), "id")} {c.GetProperty("row").GetProperty("qty").GetInt32()}"),
                    Is.EqualTo(new[] { $"insert {run}-away-1 4", $"insert {run}-away-2 5", $"update {run}-away-1 7", $"delete {run}-before-1 1" }),
                    delta.GetRawText());
                Assert.That(
                    changes.Take(3).Select(c => Str(c.GetProperty("row"), "_mkio_ref")),
                    Is.EqualTo(awayRefs[1..4]),
                    "rows stamped with the refs of the transactions committed while away");
                Assert.That(Str(resumed, "cursor"), Is.EqualTo(awayRefs[^1]), "cursor after the delta");

                // Live again; the check cache did not survive the restart.
                var live = steps["live"];
                AssertResult(live.GetProperty("reply"));
                var after = Str(live.GetProperty("reply"), "ref")!;
                AssertUpdate(live.GetProperty("message"), "insert", $"{run}-after", 3, after);
                Assert.That(Str(live, "cursor"), Is.EqualTo(after));

                var check = steps["check_before_restart"].GetProperty("reply");
                Assert.That(Keys(check), Is.EqualTo("type,service,ref,status,ok"), check.GetRawText());
                Assert.That(Str(check, "ref"), Is.EqualTo(before[0]));
                Assert.That(Str(check, "status"), Is.EqualTo("unknown"));
            }
        }
        finally
        {
            await host.DisposeAsync();
        }
    }
}
