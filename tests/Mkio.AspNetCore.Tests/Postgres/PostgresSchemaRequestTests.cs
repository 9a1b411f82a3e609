using Mkio.AspNetCore.Tests.Later;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Postgres;

/// <summary>
/// The <c>_mkio</c> table-schema request on PostgreSQL answers what the same configuration answers on SQLite
/// (<c>PRAGMA table_info</c> there): the SQLite definitions' declared types, <c>NOT NULL</c>, primary keys and default
/// texts, in column order, with <c>_mkio_ref</c> last; an unknown table is the same error.
/// </summary>
public class PostgresSchemaRequestTests
{
    private static void Config(MkioOptions o)
    {
        o.Table("items", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("name", "TEXT NOT NULL")
                .Column("price", "REAL")
                .Column("qty", "INTEGER DEFAULT 0"))
            .Table("kinds", t => t
                .Column("id", "INTEGER PRIMARY KEY AUTOINCREMENT")
                .Column("label", "VARCHAR(20) DEFAULT 'x'")
                .Column("amount", "DECIMAL(10, 2) NOT NULL DEFAULT 0")
                .Column("made", "TEXT DEFAULT CURRENT_TIMESTAMP")
                .Column("n", "INT DEFAULT (1 + 2)")
                .Column("neg", "REAL DEFAULT -1.5")
                .Column("b", "BLOB"))
            .Query("all_items", s => s.From("items"));
    }

    [Test, CancelAfter(120_000)]
    public async Task Schema_request_answers_as_on_sqlite(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        await using var sqlite = await MkioTestHost.StartAsync(o =>
        {
            Config(o);
            o.DbPath = "schema.db";
        }, ct);
        await using var postgres = await MkioTestHost.StartAsync(o =>
        {
            Config(o);
            o.Postgres = cs;
        }, ct);
        await using var onSqlite = await sqlite.ConnectAsync("ws", ct);
        await using var onPostgres = await postgres.ConnectAsync("ws", ct);

        var answers = new List<(string Sqlite, string Postgres)>();
        foreach (var table in (string[])["items", "kinds", "nope"])
        {
            var request = $$$"""{"type":"request","service":"_mkio","reqid":"s","data":{"table":"{{{table}}}"}}""";
            answers.Add((await onSqlite.AskAsync(request, ct), await onPostgres.AskAsync(request, ct)));
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(answers[0].Postgres, Is.EqualTo("""{"type":"reply","service":"_mkio","reqid":"s","row":{"table":"items","columns":[{"name":"id","type":"TEXT","notnull":false,"pk":true,"dflt_value":null},{"name":"name","type":"TEXT","notnull":true,"pk":false,"dflt_value":null},{"name":"price","type":"REAL","notnull":false,"pk":false,"dflt_value":null},{"name":"qty","type":"INTEGER","notnull":false,"pk":false,"dflt_value":"0"},{"name":"_mkio_ref","type":"TEXT","notnull":false,"pk":false,"dflt_value":"''"}]}}"""));
            foreach (var (onFile, onServer) in answers)
            {
                Assert.That(onServer, Is.EqualTo(onFile), "PostgreSQL answers as SQLite does");
            }

            Assert.That(answers[2].Postgres, Is.EqualTo("""{"type":"error","message":"Unknown table: 'nope' (available: items, kinds)","reqid":"s","service":"_mkio"}"""));
        }
    }

    [Test, CancelAfter(120_000)]
    public async Task Schema_request_lists_a_column_the_database_has_beyond_the_configuration(CancellationToken ct)
    {
        var server = await PostgresServer.SharedAsync();
        var cs = await server.CreateDatabaseAsync(cancellationToken: ct);
        void Configure(MkioOptions o)
        {
            Config(o);
            o.Postgres = cs;
        }

        // Added by hand while the node runs (a node starting on it would see a column to remove: a migration).
        await using var host = await MkioTestHost.StartAsync(Configure, ct);
        PostgresQuery.Execute(cs, "ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT 'n/a'");
        await using var ws = await host.ConnectAsync("ws", ct);
        var schema = await ws.AskAsync("""{"type":"request","service":"_mkio","reqid":"s","data":{"table":"items"}}""", ct);
        Assert.That(schema, Does.EndWith("""{"name":"_mkio_ref","type":"TEXT","notnull":false,"pk":false,"dflt_value":"''"},{"name":"note","type":"TEXT","notnull":true,"pk":false,"dflt_value":"'n/a'::text"}]}}"""));
    }
}
