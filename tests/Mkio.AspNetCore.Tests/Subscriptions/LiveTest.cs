using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Hosting;
using Mkio.Services;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Subscriptions;

/// <summary>
/// Helpers for the live-data end-to-end tests (subscriptions, monitors, resume): fixture A with a
/// few extra transaction services, access to the running engine's listener services, transaction
/// round trips that skip interleaved updates, and an independent read of the database file.
/// </summary>
internal static class LiveTest
{
    /// <summary>The database file name used by the file-backed tests (inside the host's temp folder).</summary>
    public const string DbFile = "test.db";

    /// <summary>
    /// Fixture A plus <c>set_status</c> (update key id, field status), <c>add_audit</c> (insert audit_log
    /// fields event, order_id) and <c>upsert_order</c> (upsert orders key id, fields symbol, qty).
    /// </summary>
    public static void FixtureAPlus(MkioOptions o)
    {
        Fixtures.FixtureA(o);
        o.Transaction("set_status", tx => tx.Update("orders", ["id"], ["status"]))
            .Transaction("add_audit", tx => tx.Insert("audit_log", ["event", "order_id"]))
            .Transaction("upsert_order", tx => tx.Upsert("orders", ["id"], ["symbol", "qty"]));
    }

    /// <summary><see cref="FixtureAPlus"/> on the file database <see cref="DbFile"/>.</summary>
    public static void FixtureAPlusOnFile(MkioOptions o)
    {
        FixtureAPlus(o);
        o.DbPath = DbFile;
    }

    /// <summary><paramref name="configure"/>, then the file database <see cref="DbFile"/>.</summary>
    public static Action<MkioOptions> OnFile(Action<MkioOptions> configure) => o =>
    {
        configure(o);
        o.DbPath = DbFile;
    };

    public static MkioEngine Engine(MkioTestHost host) => host.Services.GetRequiredService<MkioEngineHost>().Engine;

    public static ListenerService Listener(MkioTestHost host, string name)
    {
        Assert.That(Engine(host).TryGetService(name, out var s), Is.True, name);
        return (ListenerService)s!;
    }

    public static MkioService Service(MkioTestHost host, string name)
    {
        Assert.That(Engine(host).TryGetService(name, out var s), Is.True, name);
        return s!;
    }

    /// <summary>Sends a transaction and returns its reply (a <c>result</c> or <c>error</c>), skipping updates that arrive meanwhile.</summary>
    public static async Task<JsonElement> TxAsync(TestSocket ws, string json, CancellationToken ct)
    {
        await ws.SendAsync(json, cancellationToken: ct);
        return await ws.ReceiveUntilAsync(m => m.TryGetProperty("type", out var t) && t.GetString() is "result" or "error", ct);
    }

    /// <summary>Sends a transaction, asserts it committed and returns its ref.</summary>
    public static async Task<string> OkAsync(TestSocket ws, string json, CancellationToken ct)
    {
        var r = await TxAsync(ws, json, ct);
        Assert.That(r.GetProperty("type").GetString(), Is.EqualTo("result"), r.GetRawText());
        Assert.That(r.GetProperty("ok").GetBoolean(), Is.True, r.GetRawText());
        return r.GetProperty("ref").GetString()!;
    }

    /// <summary>
    /// Proves that nothing else arrives on <paramref name="ws"/>: no message within 300 ms, then a
    /// <c>check</c> on <c>add_order</c> whose reply is the very next message.
    /// </summary>
    public static async Task AssertSilentAsync(TestSocket ws, CancellationToken ct, string checkService = "add_order")
    {
        Assert.That(await ws.NoMessageWithinAsync(TimeSpan.FromMilliseconds(300), ct), Is.True, "an unexpected message arrived");
        var reply = await ws.RequestAsync($$$"""{"service":"{{{checkService}}}","type":"check","ref":"silence-probe"}""", ct);
        Assert.That(reply.GetRawText(), Is.EqualTo($$$"""{"type":"result","service":"{{{checkService}}}","ref":"silence-probe","status":"unknown","ok":true}"""));
    }

    /// <summary>
    /// Waits until the server processed every earlier message of <paramref name="ws"/> (a <c>check</c>
    /// round trip; the socket must not be receiving updates meanwhile).
    /// </summary>
    public static async Task SyncAsync(TestSocket ws, CancellationToken ct)
    {
        var reply = await ws.RequestAsync("""{"service":"add_order","type":"check","ref":"sync"}""", ct);
        Assert.That(reply.GetProperty("ref").GetString(), Is.EqualTo("sync"), reply.GetRawText());
    }

    /// <summary>Property names of a JSON object, in order.</summary>
    public static string[] Keys(JsonElement e) => [.. e.EnumerateObject().Select(p => p.Name)];

    /// <summary>Rows of <paramref name="sql"/> from the database file, each as compact JSON text keyed by column name (values by storage class).</summary>
    public static List<Dictionary<string, object?>> ReadDb(string dbPath, string sql)
    {
        if (MkioTestHost.PostgresDatabaseOf(Path.GetDirectoryName(dbPath)!) is { } pg)
        {
            return [.. PostgresQuery.Rows(pg, sql).Select(r => r.ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal))];
        }

        var cs = new SqliteConnectionStringBuilder { DataSource = dbPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString();
        using var c = new SqliteConnection(cs);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<Dictionary<string, object?>>();
        while (r.Read())
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < r.FieldCount; i++)
            {
                row[r.GetName(i)] = r.IsDBNull(i) ? null : r.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// Deletes every change journal entry (the host must be stopped): SQLite keeps them in per-batch records,
    /// PostgreSQL one row per change.
    /// </summary>
    public static void ClearJournal(string dbPath) =>
        ExecDb(dbPath, MkioTestHost.PostgresDatabaseOf(Path.GetDirectoryName(dbPath)!) is null ? "DELETE FROM _mkio_journal_batch" : "DELETE FROM _mkio_journal");

    /// <summary>Runs one statement on the database file (the host must be stopped).</summary>
    public static void ExecDb(string dbPath, string sql)
    {
        if (MkioTestHost.PostgresDatabaseOf(Path.GetDirectoryName(dbPath)!) is { } pg)
        {
            PostgresQuery.Execute(pg, sql);
            return;
        }

        var cs = new SqliteConnectionStringBuilder { DataSource = dbPath, Pooling = false }.ToString();
        using var c = new SqliteConnection(cs);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
