using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Mkio.AspNetCore.Hosting;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>
/// One process owns a database file (issue 9, item 1): a second host on the same file refuses to
/// start, names the file and the holder, and touches nothing; the first keeps writing.
/// </summary>
public sealed class DatabaseOwnershipTests
{
    private const string Insert = """{"service":"add_order","ref":"REF","data":{"id":"ID","symbol":"A","qty":1}}""";

    private static string InsertOf(string id) => Insert.Replace("REF", "r" + id, StringComparison.Ordinal).Replace("ID", id, StringComparison.Ordinal);

    private static Action<MkioOptions> OnFile(string db, Action<MkioOptions>? more = null) => o =>
    {
        Fixtures.FixtureA(o);
        o.DbPath = db;
        more?.Invoke(o);
    };

    [Test, CancelAfter(60_000)]
    public async Task SecondHost_SameFile_RefusedNamingFileAndHolder_FirstKeepsWriting(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var db = dir.File("owned.db");
        await using var first = await MkioTestHost.StartAsync(OnFile(db), ct, directory: dir);
        await using var ws = await first.ConnectAsync("ws", ct);
        Assert.That((await ws.RequestAsync(InsertOf("1"), ct)).GetProperty("ok").GetBoolean(), Is.True);

        // The second host also declares a new table: had it migrated before knowing it owns the file, the table would exist.
        var ex = Assert.ThrowsAsync<MkioDatabaseInUseException>(() => MkioTestHost.StartAsync(
            OnFile(db, o => o.Table("intruder", t => t.Column("id", "INTEGER"))), ct, directory: dir))!;
        var second = await ws.RequestAsync(InsertOf("2"), ct);
        var third = await ws.RequestAsync(InsertOf("3"), ct);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex.Message, Does.Not.Contain('\n'), "one line");
            Assert.That(ex.Message, Does.StartWith($"Database {db} is in use by another mkio process (pid {Environment.ProcessId} on host {Environment.MachineName}, started "));
            Assert.That(ex.DatabasePath, Is.EqualTo(db));
            Assert.That(second.GetProperty("ok").GetBoolean() && third.GetProperty("ok").GetBoolean(), Is.True, "the owner keeps writing");
            Assert.That(TableNames(db), Does.Not.Contain("intruder"), "the refused host did not migrate the file");
        }
    }

    /// <summary>
    /// An embedded host (not the test helper): the failure is one critical log line without a stack
    /// trace, exit code 1 and a stopped application, instead of an exception escaping app.Run().
    /// </summary>
    [Test, CancelAfter(60_000)]
    public async Task EmbeddedHost_StartFailure_OneCriticalLineExitCode1AndStops(CancellationToken ct)
    {
        using var dir = new TempDirectory();
        var db = dir.File("busy.db");
        await using var owner = await MkioTestHost.StartAsync(OnFile(db), ct, directory: dir);

        var logs = new CapturingLoggerProvider();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dir.Path, Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders().AddProvider(logs);
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        builder.Services.AddMkio(OnFile(db));
        await using var app = builder.Build();
        app.MapMkio();
        try
        {
            await app.StartAsync(ct);
            var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
            await Eventually.WaitUntilAsync(() => lifetime.ApplicationStopping.IsCancellationRequested, "the application stops", ct);
            var critical = logs.Entries.Where(e => e.Level == LogLevel.Critical).ToList();
            using (Assert.EnterMultipleScope())
            {
                Assert.That(Environment.ExitCode, Is.EqualTo(1));
                Assert.That(critical, Has.Count.EqualTo(1));
                Assert.That(critical[0].Category, Is.EqualTo(MkioHostedService.StartupCategory));
                Assert.That(critical[0].Message, Does.StartWith($"mkio cannot start: Database {db} is in use by another mkio process (pid {Environment.ProcessId}"));
                Assert.That(critical[0].Exception, Is.Null, "no stack trace for an expected start-up error");
                Assert.That(app.Services.GetRequiredService<MkioEngineHost>().StartupFailure, Is.TypeOf<MkioDatabaseInUseException>());
            }
        }
        finally
        {
            Environment.ExitCode = 0;
            await app.StopAsync(CancellationToken.None);
        }
    }

    private static List<string> TableNames(string db)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        c.Open();
        return [.. Mkio.Storage.MkioDatabase.Query(c, "SELECT name FROM sqlite_master WHERE type = 'table'").Select(r => (string)r[0]!)];
    }
}
