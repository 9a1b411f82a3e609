using Microsoft.Extensions.DependencyInjection;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Versioning;

/// <summary>Schema migration of versioned tables on a file database: history is additive and survives rebuilds.</summary>
public sealed class VersionedMigrationTests
{
    private static Action<MkioOptions> Orders(bool versioned, params (string Name, string Definition)[] extra) => o =>
    {
        o.DbPath = "m.db";
        o.AutoMigrate = MkioAutoMigrate.Destructive;
        o.Table("orders", t =>
        {
            t.Column("id", "INTEGER PRIMARY KEY").Column("symbol", "TEXT NOT NULL");
            foreach (var (name, definition) in extra)
            {
                t.Column(name, definition);
            }

            if (versioned)
            {
                t.Versioned();
            }
        });
        var fields = new[] { "id", "symbol" }.Concat(extra.Select(e => e.Name)).ToArray();
        o.Transaction("tx", tx => tx
            .Op("add", ops => ops.Insert("orders", fields))
            .Op("set", ops => ops.Update("orders", ["id"], fields[1..])));
    };

    /// <summary>Rows of <paramref name="sql"/> on the host's store, as dictionaries.</summary>
    internal static async Task<List<Dictionary<string, object?>>> ReadAsync(MkioTestHost host, string sql, CancellationToken ct) =>
        [.. (await host.QueryStoreAsync(sql, cancellationToken: ct)).Select(r => r.ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal))];

    /// <summary>The primary-key columns of <paramref name="table"/> in key order, as the store declares them.</summary>
    internal static async Task<string[]> PrimaryKeyAsync(MkioTestHost host, string table, CancellationToken ct)
    {
        var sql = host.PostgresConnectionString is null
            ? "SELECT name FROM pragma_table_info($p1) WHERE pk > 0 ORDER BY pk"
            : "SELECT a.attname::text AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
              + "WHERE i.indrelid = to_regclass($p1) AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)";
        return [.. (await host.QueryStoreAsync(sql, [table], ct)).Select(r => (string)r[0].Value!)];
    }

    /// <summary>
    /// Each column of <paramref name="table"/> as <c>name type notnull</c>: SQLite's declared type, PostgreSQL's
    /// column type (a <c>REAL</c> column is <c>double precision</c> there); notnull 1 or 0.
    /// </summary>
    internal static async Task<string[]> ColumnsAsync(MkioTestHost host, string table, CancellationToken ct)
    {
        var sql = host.PostgresConnectionString is null
            ? "SELECT name, type, \"notnull\" FROM pragma_table_info($p1) ORDER BY cid"
            : "SELECT column_name::text, data_type::text, CASE is_nullable WHEN 'NO' THEN 1 ELSE 0 END FROM information_schema.columns "
              + "WHERE table_schema = current_schema() AND table_name = $p1 ORDER BY ordinal_position";
        return [.. (await host.QueryStoreAsync(sql, [table], ct)).Select(r => $"{r[0].Value} {r[1].Value} {r[2].Value}")];
    }

    [Test, CancelAfter(90_000)]
    public async Task BecomingVersioned_Baselines_AddedColumnsJoinHistory_DroppedColumnsStay(CancellationToken ct)
    {
        using var dir = new TempDirectory();

        // 1. Unversioned rows, then the table becomes versioned: each row gets a baseline version 1 with its own ref.
        string firstRef;
        await using (var host = await MkioTestHost.StartAsync(Orders(false, ("qty", "INTEGER")), ct, dir))
        {
            var r = await host.Services.GetRequiredService<IMkio>().ExecuteAsync("tx", new { id = 1, symbol = "A", qty = 5 }, "add", cancellationToken: ct);
            firstRef = r.Ref;
        }

        await using (var host = await MkioTestHost.StartAsync(Orders(true, ("qty", "INTEGER")), ct, dir))
        {
            var history = await host.Services.GetRequiredService<IMkio>().HistoryAsync("orders", cancellationToken: ct);
            Assert.That(history.Select(h => (h["_mkio_version"], h["_mkio_op"], h["_mkio_ref"], h["qty"])), Is.EqualTo(new[] { ((object?)1L, (object?)"baseline", (object?)firstRef, (object?)5L) }));
            var ok = await host.Services.GetRequiredService<IMkio>().ExecuteAsync("tx", new { id = 1, symbol = "A", qty = 6 }, "set", cancellationToken: ct);
            Assert.That(ok.Ok, Is.True, ok.Error);
        }

        // 2. A new column appears in the history too (type only).
        await using (var host = await MkioTestHost.StartAsync(Orders(true, ("qty", "INTEGER"), ("price", "REAL NOT NULL DEFAULT 0")), ct, dir))
        {
            var ok = await host.Services.GetRequiredService<IMkio>().ExecuteAsync("tx", new { id = 1, symbol = "A", qty = 6, price = 9.5 }, "set", cancellationToken: ct);
            Assert.That(ok.Ok, Is.True, ok.Error);
            var columns = await ColumnsAsync(host, "orders__history", ct);
            Assert.That(columns, Does.Contain(host.PostgresConnectionString is null ? "price REAL 0" : "price double precision 0"));
        }

        // 3. Dropping a base column rebuilds the base (cursor kept) and never drops history columns or rows.
        await using (var host = await MkioTestHost.StartAsync(Orders(true, ("price", "REAL NOT NULL DEFAULT 0")), ct, dir))
        {
            var mkio = host.Services.GetRequiredService<IMkio>();
            var baseRow = (await ReadAsync(host, "SELECT * FROM orders", ct)).Single();
            Assert.That(baseRow["_mkio_version"], Is.EqualTo(3L));
            Assert.That(baseRow.ContainsKey("qty"), Is.False);
            var history = await mkio.HistoryAsync("orders", 1L, cancellationToken: ct);
            Assert.That(history.Select(h => h["qty"]), Is.EqualTo(new object?[] { 5L, 6L, 6L }));
            var ok = await mkio.ExecuteAsync("tx", new { id = 1, symbol = "B", price = 9.5 }, "set", cancellationToken: ct);
            Assert.That(ok.Ok, Is.True, ok.Error);
            history = await mkio.HistoryAsync("orders", 1L, cancellationToken: ct);
            Assert.That(history.Select(h => (h["_mkio_version"], h["symbol"], h["qty"])).Last(), Is.EqualTo(((object?)4L, (object?)"B", (object?)null)));
        }
    }
}
