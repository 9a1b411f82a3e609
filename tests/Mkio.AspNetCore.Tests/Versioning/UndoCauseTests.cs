using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Versioning;

/// <summary>
/// Undo/redo changes carry their cause: later subscribers (query, subpub, stream) get <c>"cause"</c> on the update, 0.1.0
/// subscribers see plain changes, and the in-process change has the cause and the pre-image.
/// </summary>
public sealed class UndoCauseTests
{
    private static void Config(MkioOptions o)
    {
        o.DbPath = "c.db";
        o.BatchMaxWaitMs = 1.0;
        o.Table("orders", t => t.Column("id", "INTEGER PRIMARY KEY").Column("qty", "INTEGER NOT NULL").Versioned())
            .Transaction("orders_tx", tx => tx
                .Op("add", ops => ops.Insert("orders", ["id", "qty"]))
                .Op("set", ops => ops.Update("orders", ["id"], ["qty"]))
                .Op("undo", ops => ops.Undo("orders", ["id"]))
                .Op("redo", ops => ops.Redo("orders", ["id"])))
            .Query("all", s => s.From("orders"))
            .SubPub("book", s => s.From("orders").Key("id"))
            .Stream("log", s => s.From("orders"));
    }

    /// <summary>add, set, undo (update), undo (delete), redo (insert), redo (update).</summary>
    private static async Task WriteAsync(MkioTestHost host, CancellationToken ct)
    {
        await using var ws = await host.ConnectAsync("ws", ct);
        foreach (var (op, data) in new[] { ("add", """{"id":1,"qty":1}"""), ("set", """{"id":1,"qty":2}"""), ("undo", """{"id":1}"""), ("undo", """{"id":1}"""), ("redo", """{"id":1}"""), ("redo", """{"id":1}""") })
        {
            var reply = await ws.RequestAsync($$"""{"service":"orders_tx","op":"{{op}}","data":{{data}}}""", ct);
            Assert.That(reply.GetProperty("type").GetString(), Is.EqualTo("result"), reply.GetRawText());
        }
    }

    /// <summary>The next <paramref name="count"/> updates as "op:cause" ("-" for none), checking the key is the frame's last.</summary>
    private static async Task<string[]> UpdatesAsync(TestSocket socket, int count, CancellationToken ct)
    {
        var seen = new string[count];
        for (var i = 0; i < count; i++)
        {
            var m = await socket.ReceiveAsync(ct);
            Assert.That(m.GetProperty("type").GetString(), Is.EqualTo("update"), m.GetRawText());
            var cause = m.TryGetProperty("cause", out var c) ? c.GetString() : "-";
            if (cause != "-")
            {
                Assert.That(m.EnumerateObject().Last().Name, Is.EqualTo("cause"), "cause is the update's last key: " + m.GetRawText());
            }

            seen[i] = m.GetProperty("op").GetString() + ":" + cause;
        }

        return seen;
    }

    [Test, CancelAfter(60_000)]
    public async Task LaterSubscribers_SeeCauseOnUndoRedoUpdates_0_1_0SubscribersDoNot(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Config, ct);
        var later = new Dictionary<string, TestSocket>();
        var old = new Dictionary<string, TestSocket>();
        try
        {
            foreach (var (service, protocol) in new[] { ("all", "query"), ("book", "subpub"), ("log", "stream") })
            {
                var l = later[service] = await host.ConnectAsync("ws", ct);
                var snapshot = await l.RequestAsync($$"""{"type":"subscribe","service":"{{service}}","protocol":"{{protocol}}","subid":"s"}""", ct);
                Assert.That(snapshot.GetProperty("type").GetString(), Is.EqualTo("snapshot"), snapshot.GetRawText());
                var o = old[service] = await host.ConnectAsync("ws", ct);
                Assert.That((await o.RequestAsync($$"""{"type":"subscribe","service":"{{service}}"}""", ct)).GetProperty("type").GetString(), Is.EqualTo("snapshot"));
            }

            await WriteAsync(host, ct);

            string[] all = ["insert:-", "update:-", "update:undo", "delete:undo", "insert:redo", "update:redo"];
            using (Assert.EnterMultipleScope())
            {
                Assert.That(await UpdatesAsync(later["all"], 6, ct), Is.EqualTo(all), "query");
                Assert.That((await UpdatesAsync(later["book"], 6, ct)).Select(s => s.Split(':')[1]), Is.EqualTo(all.Select(s => s.Split(':')[1])), "subpub");
                Assert.That(await UpdatesAsync(later["log"], 2, ct), Is.EqualTo(new[] { "insert:-", "insert:redo" }), "stream: the rebuilt row is an insert");
                foreach (var (service, socket) in old)
                {
                    var count = service == "log" ? 2 : 6;
                    Assert.That(await UpdatesAsync(socket, count, ct), Has.None.EndsWith(":undo").And.None.EndsWith(":redo"), "0.1.0 " + service);
                }
            }
        }
        finally
        {
            foreach (var s in later.Values.Concat(old.Values))
            {
                await s.DisposeAsync();
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task InProcessChange_CarriesCauseAndPreImage(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Config, ct);
        var mkio = host.Services.GetRequiredService<IMkio>();
        // The first MoveNextAsync subscribes (synchronously) before it waits: every write below is seen.
        var watch = mkio.WatchAsync(["orders"], ct).GetAsyncEnumerator(ct);
        await using var _ = watch;
        var next = watch.MoveNextAsync();
        await WriteAsync(host, ct);
        var changes = new List<MkioChange>();
        for (var i = 0; i < 6; i++)
        {
            Assert.That(await (i == 0 ? next : watch.MoveNextAsync()), Is.True);
            changes.Add(watch.Current);
        }

        string Describe(MkioChange c) =>
            $"{c.Op}:{c.Cause ?? "-"}:{c.Row["qty"]}:{(c.Old is { } o ? $"{o["qty"]}@{o["_mkio_version"]}" : "-")}";
        Assert.That(changes.Select(Describe), Is.EqualTo(new[]
        {
            "insert:-:1:-", "update:-:2:-",
            "update:undo:1:2@2",   // back to v1; the pre-image is v2
            "delete:undo:1:1@1",   // undo past the first version deletes; the pre-image is the row deleted
            "insert:redo:1:-",     // redo rebuilds the row: nothing before it
            "update:redo:2:1@1",
        }));
    }
}
