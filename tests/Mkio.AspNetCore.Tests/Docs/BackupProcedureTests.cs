using System.Text.Json;
using Microsoft.Data.Sqlite;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Docs;

/// <summary>
/// docs/deployment.md "Backup and restore": the documented online backup statement, run against the
/// live database of a running server, yields a file that a new server resumes from exactly.
/// </summary>
// The documented backup is SQLite's VACUUM INTO on the database file.
[Category(StoreCategories.SqliteOnly)]
public class BackupProcedureTests
{
    [Test, CancelAfter(90_000)]
    public async Task DocumentedOnlineBackup_OfALiveServer_RestoresWithExactResumeByRef(CancellationToken ct)
    {
        var statement = DocumentedBackupStatement();
        using var backupDir = new TempDirectory();
        var backup = Path.Combine(backupDir.Path, "mkio-backup.db");

        await using (var live = await MkioTestHost.StartAsync(o => o.Static.Clear(), ct, tomlPath: Fixtures.OrderBookToml))
        {
            await using var ws = await live.ConnectAsync("ws", ct);
            await Ok(ws, """{"service":"orders","op":"new","ref":"b1","data":{"side":"Buy","symbol":"A","qty":1,"price":2.0}}""", ct);
            await Ok(ws, """{"service":"orders","op":"fill","ref":"b2","data":{"id":1}}""", ct);

            // The statement from the docs, from another connection, while the server runs.
            var db = Path.Combine(live.Directory.Path, "orders.db");
            await using (var conn = new SqliteConnection($"Data Source={db};Pooling=False"))
            {
                await conn.OpenAsync(ct);
                await using var cmd = conn.CreateCommand();
                cmd.CommandText = statement.Replace("/backups/mkio-backup.db", backup, StringComparison.Ordinal);
                await cmd.ExecuteNonQueryAsync(ct);
            }

            // Written after the backup: must not be in the restored state.
            await Ok(ws, """{"service":"orders","op":"new","ref":"b3","data":{"side":"Sell","symbol":"B","qty":1,"price":3.0}}""", ct);
        }

        Assert.That(File.Exists(backup + "-wal"), Is.False, "the backup is one self-contained file");

        // Restore: the copy becomes the database of a new server.
        using var restored = new TempDirectory();
        File.Copy(backup, restored.File("orders.db"));
        await using var host = await MkioTestHost.StartAsync(o => o.Static.Clear(), ct, directory: restored, tomlPath: Fixtures.OrderBookToml);
        await using var client = await host.ConnectAsync("ws", ct);

        await client.SendAsync("""{"service":"all_orders","type":"subscribe","ref":"b1"}""", cancellationToken: ct);
        var delta = await client.ReceiveAsync(ct);
        await client.SendAsync("""{"service":"audit_feed","type":"subscribe"}""", cancellationToken: ct);
        var audit = await client.ReceiveAsync(ct);

        using (Assert.EnterMultipleScope())
        {
            // The journal inside the file makes the resume exact: b2's update, nothing from after the backup.
            Assert.That(delta.GetProperty("type").GetString(), Is.EqualTo("delta"), delta.GetRawText());
            Assert.That(delta.GetProperty("ref").GetString(), Is.EqualTo("b2"));
            var changes = delta.GetProperty("changes").EnumerateArray().ToList();
            Assert.That(changes.Select(c => c.GetProperty("op").GetString()), Is.EqualTo(new[] { "update" }));
            Assert.That(changes[0].GetProperty("row").GetProperty("status").GetString(), Is.EqualTo("filled"));
            Assert.That(audit.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("_mkio_ref").GetString()), Is.EqualTo(new[] { "b1", "b2" }));
        }
    }

    /// <summary>The one statement of the ```sql backup block of docs/deployment.md.</summary>
    private static string DocumentedBackupStatement()
    {
        var block = DocExamples.Blocks(Path.Combine(DocExamples.RepoRoot, "docs", "deployment.md"))
            .Single(b => b.Language == "sql" && b.Attributes == "backup");
        var statement = block.Text.Trim();
        Assert.That(statement, Does.StartWith("VACUUM INTO '/backups/mkio-backup.db'"), block.Where);
        return statement;
    }

    private static async Task Ok(TestSocket ws, string request, CancellationToken ct)
    {
        var reply = await ws.RequestAsync(request, ct);
        Assert.That(reply.GetProperty("ok").ValueKind, Is.EqualTo(JsonValueKind.True), reply.GetRawText());
    }
}
