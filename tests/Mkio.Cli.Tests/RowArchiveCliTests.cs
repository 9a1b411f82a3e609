using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Mkio.TestUtilities;

namespace Mkio.Cli.Tests;

/// <summary>
/// <c>mkio archive</c> row mode (<c>archive = {cutoff, format, group, with}</c>, <c>--tables/--group/--all</c>, run
/// directory with <c>manifest.json</c>) and history mode with BLOBs and NULLs, each round-tripped by <c>mkio restore</c>,
/// as real processes on a real file (the schema made by <c>mkio dbupdate</c>, the rows written with SQLite directly).
/// </summary>
[Parallelizable(ParallelScope.Children)]
public sealed class RowArchiveCliTests
{
    private const string Config = """
        name = "shop"
        db_path = "r.db"

        [tables.events]
        columns = { id = "INTEGER PRIMARY KEY", at = "TEXT NOT NULL", payload = "BLOB", note = "TEXT" }
        archive = { cutoff = "at", with = ["event_tags"] }

        [tables.event_tags]
        columns = { tag_id = "INTEGER PRIMARY KEY", id = "INTEGER NOT NULL", tag = "TEXT" }

        [tables.settings]
        columns = { k = "TEXT PRIMARY KEY", v = "TEXT" }
        archive = { group = "config" }

        [tables.orders]
        columns = { id = "TEXT PRIMARY KEY", day = "TEXT NOT NULL", qty = "INTEGER", doc = "BLOB" }
        versioned = true
        archive = { cutoff = "day", format = "%Y%m%d" }
        """;

    private static async Task<(int Code, string Output)> RunAsync(TempDirectory dir, CancellationToken ct, params string[] args)
    {
        await using var p = MkioProcess.Start(dir.Path, args);
        var code = await p.WaitForExitAsync(ct);
        return (code, p.Output);
    }

    private static void Refused(int code, string output, string expected, string? because = null)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.EqualTo(1), output);
            Assert.That(output, Does.Contain(expected), because);
        }
    }

    private static void Exec(TempDirectory dir, string sql)
    {
        using var c = Open(dir);
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static SqliteConnection Open(TempDirectory dir)
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = dir.File("r.db"), Pooling = false }.ToString());
        c.Open();
        return c;
    }

    /// <summary>Every row of a table as text, with each value's storage class, so that a BLOB restored as text or a NULL as '' shows.</summary>
    private static List<string> Dump(TempDirectory dir, string table, string order)
    {
        using var c = Open(dir);
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT * FROM {table} ORDER BY {order}";
        using var r = cmd.ExecuteReader();
        var rows = new List<string>();
        while (r.Read())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "NULL"
                : r.GetValue(i) is byte[] b ? "blob:" + Convert.ToHexString(b)
                : r.GetFieldType(i).Name + ":" + Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    private static async Task<TempDirectory> CreateAsync(CancellationToken ct)
    {
        var dir = new TempDirectory();
        File.WriteAllText(dir.File("cfg.toml"), Config);
        var (code, output) = await RunAsync(dir, ct, "dbupdate", "cfg.toml");
        Assert.That(code, Is.Zero, output);
        Exec(dir, """
            INSERT INTO events (id, at, payload, note) VALUES
              (1, '2026-01-01 10:00:00', x'00FF10', NULL), (2, '2026-02-01 10:00:00', NULL, '\back'), (3, '2026-12-01 10:00:00', x'01', 'new');
            INSERT INTO event_tags (tag_id, id, tag) VALUES (10, 1, 'a'), (11, 1, NULL), (12, 3, 'c');
            INSERT INTO settings (k, v) VALUES ('x', '1'), ('y', NULL);
            INSERT INTO orders (id, day, qty, doc, _mkio_ref, _mkio_version) VALUES ('o1', '20260105', 2, x'CAFE', 'r2', 2), ('o2', '20261201', 9, NULL, 'r3', 1);
            INSERT INTO orders__history (_mkio_version, _mkio_op, _mkio_ref, _mkio_user, _mkio_service, id, day, qty, doc) VALUES
              (1, 'insert', 'r1', NULL, 'tx', 'o1', '20260105', 1, x'BEEF'), (2, 'update', 'r2', 'ann', 'tx', 'o1', '20260105', 2, x'CAFE'),
              (1, 'insert', 'r3', NULL, 'tx', 'o2', '20261201', 9, NULL);
            """);
        return dir;
    }

    [Test, CancelAfter(180_000)]
    public async Task RowMode_ArchivesRowsCompanionsAndHistoryChains_DeletesThem_RestoreRoundTripsBlobsAndNulls(CancellationToken ct)
    {
        using var dir = await CreateAsync(ct);
        string[] tables = ["events", "event_tags", "settings", "orders", "orders__history"];
        string[] orders = ["id", "tag_id", "k", "id", "id, _mkio_version"];
        var before = tables.Select((t, i) => Dump(dir, t, orders[i])).ToArray();

        // --dry-run writes and deletes nothing.
        var (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--tables", "events,orders", "--cutoff", "2026-06-01T00:00:00Z", "--out", "arch", "--dry-run");
        Assert.That(code, Is.Zero, output);
        Assert.That(Directory.Exists(dir.File("arch")), Is.False);
        Assert.That(output, Does.Contain("events: would archive 2 rows."));

        (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--tables", "events,orders", "--cutoff", "2026-06-01T00:00:00Z", "--out", "arch", "--yes");
        Assert.That(code, Is.Zero, output);
        var run = Directory.GetDirectories(dir.File("arch")).Single();
        Assert.That(Path.GetFileName(run), Does.Match(@"^shop_\d{8}-\d{6}$"), "the run directory is named after the config's name and the UTC time");
        Assert.That(Directory.GetFiles(run).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "events.csv", "events.event_tags.csv", "manifest.json", "orders.csv", "orders.orders__history.csv" }));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(File.ReadAllLines(Path.Combine(run, "events.csv")), Is.EqualTo(new[]
            {
                "id,at,payload,note,_mkio_ref",
                "1,2026-01-01 10:00:00,\\x00FF10,\\N,",
                "2,2026-02-01 10:00:00,\\N,\\\\back,",
            }), "NULL as \\N, a BLOB as \\x and hex, a leading backslash doubled");
            Assert.That(File.ReadAllLines(Path.Combine(run, "events.event_tags.csv")).Skip(1), Is.EqualTo(new[] { "10,1,a,", "11,1,\\N," }));
            Assert.That(File.ReadAllLines(Path.Combine(run, "orders.orders__history.csv")), Has.Length.EqualTo(3), "o1's whole chain goes with it");
            Assert.That(Dump(dir, "events", "id"), Is.EqualTo(before[0].Skip(2)));
            Assert.That(Dump(dir, "event_tags", "tag_id"), Is.EqualTo(before[1].Skip(2)));
            Assert.That(Dump(dir, "settings", "k"), Is.EqualTo(before[2]), "a table not selected is untouched");
            Assert.That(Dump(dir, "orders", "id"), Is.EqualTo(before[3].Skip(1)), "%Y%m%d renders the cutoff as 20260601");
            Assert.That(Dump(dir, "orders__history", "id, _mkio_version"), Is.EqualTo(before[4].Skip(2)));
            Assert.That(output, Does.Contain("Deleted 7 archived rows"));
        }

        using (var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "manifest.json"))))
        {
            var entries = manifest.RootElement.GetProperty("tables").EnumerateArray().ToList();
            Assert.That(entries.Select(e => $"{e.GetProperty("table").GetString()}<{e.GetProperty("cutoff").GetString()}"), Is.EqualTo(new[] { "events<2026-06-01 00:00:00", "orders<20260601" }));
            Assert.That(entries[0].GetProperty("files").EnumerateArray().Select(f => $"{f.GetProperty("table").GetString()}:{f.GetProperty("role").GetString()}:{f.GetProperty("rows").GetInt32()}"),
                Is.EqualTo(new[] { "events:table:2", "event_tags:with:2" }));
        }

        (code, output) = await RunAsync(dir, ct, "restore", "cfg.toml", run);
        Assert.That(code, Is.Zero, output);
        for (var i = 0; i < tables.Length; i++)
        {
            Assert.That(Dump(dir, tables[i], orders[i]), Is.EqualTo(before[i]), $"{tables[i]}: restore puts back every row with its BLOBs, NULLs and numbers");
        }

        // Restoring again: the keys exist, so nothing is restored at all (one transaction).
        (code, output) = await RunAsync(dir, ct, "restore", "cfg.toml", run);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Does.Contain("Error: table 'events' already holds a row with id = 1"));
        Assert.That(Dump(dir, "events", "id"), Is.EqualTo(before[0]));
    }

    [Test, CancelAfter(180_000)]
    public async Task RowMode_GroupWholeTable_RestoreReplaces_AndSelectionErrors(CancellationToken ct)
    {
        using var dir = await CreateAsync(ct);
        var settings = Dump(dir, "settings", "k");

        var (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--group", "config", "--out", "arch", "--yes");
        Assert.That(code, Is.Zero, output);
        Assert.That(Dump(dir, "settings", "k"), Is.Empty, "a table without cutoff is archived whole");
        var run = Directory.GetDirectories(dir.File("arch")).Single();

        Exec(dir, "INSERT INTO settings (k, v) VALUES ('x', 'changed')");
        (code, output) = await RunAsync(dir, ct, "restore", "cfg.toml", run);
        Assert.That(code, Is.Zero, output);
        Assert.That(Dump(dir, "settings", "k"), Is.EqualTo(settings), "a whole-table archive replaces existing keys");

        (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--tables", "event_tags", "--yes");
        Refused(code, output, "Error: table 'event_tags' has no archive config. Archived tables: events, settings, orders");
        (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--all", "--yes");
        Refused(code, output, "Error: table 'events' is archived by 'at': give --cutoff");
        (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--all", "--older-than", "1d");
        Refused(code, output, "cannot be combined");
        (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--all", "--cutoff-literal", "2027", "--out", "arch2");
        Refused(code, output, "needs --yes", "deleting needs --yes when not interactive");
        Assert.That(Dump(dir, "events", "id"), Has.Count.EqualTo(3));
    }

    [Test, CancelAfter(180_000)]
    public async Task HistoryMode_BlobsAndNulls_RestoreAsBlobsAndNulls(CancellationToken ct)
    {
        using var dir = await CreateAsync(ct);
        var before = Dump(dir, "orders__history", "id, _mkio_version");

        var (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--older-than", "r3", "--table", "orders", "--out", "hist", "--delete", "--yes");
        Assert.That(code, Is.Zero, output);
        var file = Directory.GetFiles(dir.File("hist")).Single();
        Assert.That(File.ReadAllLines(file).Skip(1), Is.EqualTo(new[] { "1,insert,r1,\\N,tx,o1,20260105,1,\\xBEEF" }), "below o1's cursor (2): version 1 only");
        Assert.That(Dump(dir, "orders__history", "id, _mkio_version"), Is.EqualTo(before.Skip(1)));

        (code, output) = await RunAsync(dir, ct, "restore", "cfg.toml", "hist");
        Assert.That(code, Is.Zero, output);
        Assert.That(Dump(dir, "orders__history", "id, _mkio_version"), Is.EqualTo(before), "the BLOB comes back as a BLOB, NULL as NULL, numbers as numbers");
    }

    [Test, CancelAfter(180_000)]
    public async Task HistoryMode_PruneSource_DeletesLiveRowsWhoseWholeChainWasArchivedAndEqualsItsNewestVersion(CancellationToken ct)
    {
        using var dir = await CreateAsync(ct);
        Exec(dir, """
            INSERT INTO orders (id, day, qty, doc, _mkio_ref, _mkio_version) VALUES ('o3', '20260101', 5, NULL, 'r0', 1);
            INSERT INTO orders__history (_mkio_version, _mkio_op, _mkio_ref, _mkio_user, _mkio_service, id, day, qty, doc) VALUES (1, 'insert', 'r0', NULL, 'tx', 'o3', '20260101', 4, NULL);
            """); // o3's live row differs from its only version: kept

        var (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--older-than", "r3", "--prune-source", "--out", "hist", "--dry-run");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("orders: would prune 1 live rows"));
        Assert.That(Dump(dir, "orders", "id"), Has.Count.EqualTo(3));

        (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--older-than", "r3", "--prune-source", "--out", "hist");
        Refused(code, output, "needs --yes", "--prune-source deletes, so it needs --yes");

        (code, output) = await RunAsync(dir, ct, "archive", "cfg.toml", "--older-than", "r3", "--prune-source", "--out", "hist", "--yes");
        Assert.That(code, Is.Zero, output);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(File.ReadAllLines(Directory.GetFiles(dir.File("hist")).Single()), Has.Length.EqualTo(4), "o1 v1, v2 (its current version too) and o3 v1");
            Assert.That(Dump(dir, "orders", "id").Select(r => r.Split('|')[0]), Is.EqualTo(new[] { "String:o2", "String:o3" }), "o1 pruned; o3 differs from its archived version");
            Assert.That(Dump(dir, "orders__history", "id, _mkio_version").Select(r => r.Split('|')[5]), Is.EqualTo(new[] { "String:o2" }));
            Assert.That(output, Does.Contain("orders: pruned 1 live rows"));
        }
    }
}
