using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Tests.Later;

namespace Mkio.AspNetCore.Tests.Versioning;

/// <summary>The <c>_mkio</c> request path for clients of versioned tables, and baseline history of seeded rows.</summary>
public sealed class VersionedIdentityTests
{
    private const string Config = """
        db_path = "s.db"

        [tables.items]
        columns = { id = "TEXT PRIMARY KEY", name = "TEXT", price = "REAL", qty = "INTEGER" }
        seed = "items.csv"
        versioned = true
        unversioned = ["qty"]

        [services.items_history]
        type = "query"
        primary_table = "items__history"
        """;

    [Test, CancelAfter(60_000)]
    public async Task Identity_ReportsVersionedTables_SchemaNamesHistory_SeededRowsHaveBaselines(CancellationToken ct)
    {
        var (host, dir) = await LaterHost.StartAsync(ct, Config);
        await using (host)
        using (dir)
        {
            await using var ws = await host.ConnectAsync("ws", ct);
            var row = JsonDocument.Parse(await ws.AskAsync("""{"type":"request","service":"_mkio","reqid":1}""", ct)).RootElement.GetProperty("row");
            var schema = JsonDocument.Parse(await ws.AskAsync("""{"type":"request","service":"_mkio","data":{"table":"items"}}""", ct)).RootElement.GetProperty("row");
            var history = JsonDocument.Parse(await ws.AskAsync("""{"type":"request","service":"_mkio","data":{"table":"items__history"}}""", ct)).RootElement.GetProperty("row");
            var snapshot = await ws.RequestAsync("""{"type":"subscribe","service":"items_history"}""", ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(row.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "name", "version", "mkio", "protocol", "services", "tables", "versioned", "history_suffix", "config_hash", "uptime", "started" }));
                Assert.That(row.GetProperty("protocol").GetString(), Is.EqualTo("1.1"));
                Assert.That(row.GetProperty("tables").GetRawText(), Is.EqualTo("""["items"]"""));
                Assert.That(row.GetProperty("versioned").GetRawText(), Is.EqualTo("""["items"]"""));
                Assert.That(row.GetProperty("history_suffix").GetString(), Is.EqualTo("__history"));
                Assert.That(schema.GetProperty("versioned").GetBoolean(), Is.True);
                Assert.That(schema.GetProperty("history_table").GetString(), Is.EqualTo("items__history"));
                Assert.That(schema.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()), Does.Contain("_mkio_version"));
                Assert.That(history.GetProperty("history_of").GetString(), Is.EqualTo("items"));
                Assert.That(history.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()),
                    Is.EqualTo(new[] { "_mkio_version", "_mkio_op", "_mkio_ref", "_mkio_user", "_mkio_service", "id", "name", "price" }));
                Assert.That(snapshot.GetProperty("rows").GetArrayLength(), Is.EqualTo(3), "a query service over the history table serves the baselines");
            }

            var baselines = await host.Services.GetRequiredService<IMkio>().HistoryAsync("items", cancellationToken: ct);
            Assert.That(baselines.Select(b => $"{b["id"]}:{b["_mkio_version"]}:{b["_mkio_op"]}"), Is.EqualTo(new[] { "A1:1:baseline", "B2:1:baseline", "C3:1:baseline" }));
            Assert.That(baselines.Select(b => b["_mkio_ref"]), Is.Unique.And.All.Not.Empty);
        }
    }
}
