using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// The order-book sample served from PostgreSQL through real Kestrel: transactions, query/subpub/stream
/// subscribe, and two nodes on one database — a write on one reaches subscribers of the other, and a
/// client resumes on the other node with its last ref and gets a <c>delta</c>.
/// </summary>
public class PostgresNodeTests
{
    [Test, CancelAfter(120_000)]
    public async Task Two_nodes_serve_the_order_book_sample_and_a_client_resumes_on_the_other_node(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        using var dir = new TempDirectory();
        var toml = dir.File("mkio.toml");
        await File.WriteAllTextAsync(toml, (await File.ReadAllTextAsync(Fixtures.OrderBookToml, ct)).Replace("db_path = ", "# db_path = ", StringComparison.Ordinal), ct);
        void Configure(MkioOptions o)
        {
            o.Static.Clear();
            o.Postgres = cs;
        }

        await using var nodeA = await MkioTestHost.StartAsync(Configure, ct, tomlPath: toml);
        await using var nodeB = await MkioTestHost.StartAsync(Configure, ct, tomlPath: toml);
        await using var onA = await nodeA.ConnectAsync("ws", ct);
        await using var onB = await nodeB.ConnectAsync("ws", ct);

        await Ok(onA, """{"service":"orders","op":"new","ref":"b1","data":{"side":"Buy","symbol":"A","qty":1,"price":2.0}}""", ct);
        await Ok(onA, """{"service":"orders","op":"fill","ref":"b2","data":{"id":1}}""", ct);

        // A subscribe on the node that took the writes sees them (the reply waited for its own tail).
        await onA.SendAsync("""{"service":"audit_feed","type":"subscribe"}""", cancellationToken: ct);
        var audit = await onA.ReceiveAsync(ct);
        Assert.That(audit.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("_mkio_ref").GetString()), Is.EqualTo(new[] { "b1", "b2" }), audit.GetRawText());

        // Node B: a resume with b1 gets exactly b2's change as a delta, once B's tail has it.
        await Eventually.WaitUntilAsync(() => nodeB.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().TryGetEngine()!.Position >= 4, "node B tailed the writes of node A", ct);
        await onB.SendAsync("""{"service":"all_orders","type":"subscribe","ref":"b1"}""", cancellationToken: ct);
        var delta = await onB.ReceiveAsync(ct);
        Assert.That(delta.GetProperty("type").GetString(), Is.EqualTo("delta"), delta.GetRawText());
        Assert.That(delta.GetProperty("ref").GetString(), Is.EqualTo("b2"));
        var changes = delta.GetProperty("changes").EnumerateArray().ToList();
        Assert.That(changes.Select(c => c.GetProperty("op").GetString()), Is.EqualTo(new[] { "update" }));
        Assert.That(changes[0].GetProperty("row").GetProperty("status").GetString(), Is.EqualTo("filled"));

        await onB.SendAsync("""{"service":"last_trade","type":"subscribe"}""", cancellationToken: ct);
        var trades = await onB.ReceiveAsync(ct);
        Assert.That(trades.GetRawText(), Does.Contain("\"symbol\":\"A\"").And.Contain("\"price\":2.0"), trades.GetRawText());

        // A write on B reaches the query subscriber on B and the stream subscriber on A.
        // (From a third connection: onB's own reply could come after the update it triggers.)
        await using var writerB = await nodeB.ConnectAsync("ws", ct);
        await Ok(writerB, """{"service":"orders","op":"new","ref":"b3","data":{"side":"Sell","symbol":"B","qty":5,"price":3.5}}""", ct);
        var onBUpdate = await onB.ReceiveUntilAsync(m => m.GetRawText().Contains("\"b3\"", StringComparison.Ordinal), ct);
        Assert.That(onBUpdate.GetRawText(), Does.Contain("\"symbol\":\"B\""));
        var onAUpdate = await onA.ReceiveUntilAsync(m => m.GetRawText().Contains("\"b3\"", StringComparison.Ordinal), ct);
        Assert.That(onAUpdate.GetRawText(), Does.Contain("\"event\":\"new\""));

        var health = await nodeA.CreateHttpClient().GetAsync(new Uri("health", UriKind.Relative), ct);
        Assert.That((int)health.StatusCode, Is.EqualTo(200));
    }

    private static async Task Ok(TestSocket ws, string request, CancellationToken ct)
    {
        var reply = await ws.RequestAsync(request, ct);
        Assert.That(reply.GetProperty("ok").ValueKind, Is.EqualTo(JsonValueKind.True), reply.GetRawText());
    }
}
