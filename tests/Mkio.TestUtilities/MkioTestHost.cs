using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Mkio.AspNetCore;

namespace Mkio.TestUtilities;

/// <summary>The store every <see cref="MkioTestHost"/> of a test process runs on.</summary>
public enum TestStore
{
    /// <summary>The configuration's own <c>db_path</c> (SQLite), as written.</summary>
    Sqlite,

    /// <summary>
    /// A PostgreSQL database of <see cref="PostgresServer.SharedAsync"/> instead of the configured <c>db_path</c>:
    /// one database per host folder, so a host restarted on the same <see cref="TempDirectory"/> finds its data again.
    /// </summary>
    Postgres,
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 with a free port, running mkio from code-first or TOML
/// config, with its working directory's files (database, static folders) in a temp folder.
/// With <see cref="Store"/> set to <see cref="TestStore.Postgres"/> (the PostgreSQL conformance run),
/// every host without its own <c>postgres</c> setting runs on a PostgreSQL database instead of <c>db_path</c>.
/// </summary>
public sealed class MkioTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> PostgresDatabases = new(StringComparer.Ordinal);

    private MkioTestHost(WebApplication app, Uri baseUri, TempDirectory dir, bool ownsDirectory)
    {
        _app = app;
        BaseUri = baseUri;
        Directory = dir;
        OwnsDirectory = ownsDirectory;
    }

    /// <summary>http://127.0.0.1:port/</summary>
    public Uri BaseUri { get; }

    /// <summary>ws://127.0.0.1:port/</summary>
    public Uri WsBase => new($"ws://{BaseUri.Authority}/");

    public TempDirectory Directory { get; }

    private bool OwnsDirectory { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// The store of every host started from now on in this process (set once, by the PostgreSQL conformance
    /// project's set-up fixture); <see cref="TestStore.Sqlite"/> unless changed.
    /// </summary>
    public static TestStore Store { get; set; } = TestStore.Sqlite;

    /// <summary>The connection string of the PostgreSQL database this host runs on, or null on SQLite.</summary>
    public string? PostgresConnectionString => PostgresDatabaseOf(Directory.Path);

    /// <summary>
    /// The PostgreSQL database that <see cref="Store"/> gave to hosts of the folder <paramref name="directory"/>
    /// (a host's <see cref="TempDirectory.Path"/>), or null (SQLite, or no host ran there yet).
    /// </summary>
    public static string? PostgresDatabaseOf(string directory) =>
        PostgresDatabases.TryGetValue(directory, out var db) && db.Value.IsCompletedSuccessfully ? db.Value.Result : null;

    private static Task<string> PostgresDatabaseFor(string directory) =>
        PostgresDatabases.GetOrAdd(directory, static _ => new Lazy<Task<string>>(static async () =>
        {
            var cs = await (await PostgresServer.SharedAsync().ConfigureAwait(false)).CreateDatabaseAsync().ConfigureAwait(false);
            PostgresQuery.InstallSqliteShims(cs);
            return cs;
        })).Value;

    public HttpClient CreateHttpClient() => new() { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Starts a host. <paramref name="configure"/> fills the options (paths relative to the temp folder are made absolute).</summary>
    public static async Task<MkioTestHost> StartAsync(
        Action<MkioOptions> configure,
        CancellationToken cancellationToken = default,
        TempDirectory? directory = null,
        Action<IMkioBuilder>? mkio = null,
        Action<WebApplicationBuilder>? builder = null,
        Action<WebApplication>? app = null,
        string? tomlPath = null)
    {
        var owns = directory is null;
        var dir = directory ?? new TempDirectory();
        var postgres = Store == TestStore.Postgres ? await PostgresDatabaseFor(dir.Path).ConfigureAwait(false) : null;
        // No appsettings.json watcher: every watcher holds an inotify instance, and the machine allows 128 per user across all test processes.
        var b = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dir.Path, Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        b.Logging.ClearProviders();
        b.Logging.SetMinimumLevel(LogLevel.Warning);
        b.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        void Configure(MkioOptions o)
        {
            configure(o);
            if (postgres is not null && o.Postgres is null)
            {
                o.ResetDbPath();
                o.Postgres = postgres;
            }

            if (o.Postgres is null && o.DbPath != ":memory:" && !Path.IsPathRooted(o.DbPath))
            {
                o.DbPath = Path.Combine(dir.Path, o.DbPath);
            }

            for (var i = 0; i < o.Static.Count; i++)
            {
                var s = o.Static[i];
                if (!Path.IsPathRooted(s.Directory))
                {
                    o.Static[i] = s with { Directory = Path.Combine(dir.Path, s.Directory) };
                }
            }
        }

        var mb = tomlPath is null ? b.Services.AddMkio(Configure) : b.Services.AddMkio(tomlPath, Configure);
        mkio?.Invoke(mb);
        b.Services.AddHealthChecks().AddMkio();
        builder?.Invoke(b);
        var web = b.Build();
        if (app is not null)
        {
            app(web);
        }
        else
        {
            web.MapMkio();
        }

        web.MapHealthChecks("/health");
        await web.StartAsync(cancellationToken).ConfigureAwait(false);
        if (web.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().StartupFailure is { } failure)
        {
            // mkio reported the failure as a log line, set the exit code and stops the app (as app.Run()
            // would see it); tests get the exception instead, and the test process keeps exit code 0.
            Environment.ExitCode = 0;
            await web.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await web.DisposeAsync().ConfigureAwait(false);
            if (owns)
            {
                dir.Dispose();
            }

            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new MkioTestHost(web, new Uri(address.EndsWith('/') ? address : address + "/"), dir, owns);
    }

    /// <summary>Opens a WebSocket to <paramref name="path"/> (default <c>ws</c>).</summary>
    public Task<TestSocket> ConnectAsync(string path = "ws", CancellationToken cancellationToken = default) =>
        TestSocket.ConnectAsync(new Uri(WsBase, path), cancellationToken);

    /// <summary>
    /// Parks the server's writer between batches until the returned handle is disposed: writes sent meanwhile stay
    /// queued (across a shutdown too) and, once released, share one batch up to <c>batch_max_size</c>.
    /// </summary>
    public Task<IDisposable> HoldWriterAsync(CancellationToken cancellationToken = default) => HoldWriterAsync(Services, cancellationToken);

    /// <summary><see cref="HoldWriterAsync(CancellationToken)"/> for any host running mkio (SQLite or PostgreSQL writer).</summary>
    public static Task<IDisposable> HoldWriterAsync(IServiceProvider services, CancellationToken cancellationToken = default) =>
        services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().Engine.HoldWritesAsync(cancellationToken);

    /// <summary>Waits until at least <paramref name="count"/> writes are queued in the (held) writer.</summary>
    public Task WaitForQueuedWritesAsync(int count, CancellationToken cancellationToken) => WaitForQueuedWritesAsync(Services, count, cancellationToken);

    /// <summary><see cref="WaitForQueuedWritesAsync(int, CancellationToken)"/> for any host running mkio.</summary>
    public static Task WaitForQueuedWritesAsync(IServiceProvider services, int count, CancellationToken cancellationToken)
    {
        var engine = services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().Engine;
        return Eventually.WaitUntilAsync(() => engine.WriteQueueLength >= count, $"{count} writes queued in the writer", cancellationToken);
    }

    /// <summary>
    /// Rows of <paramref name="sql"/> read from the store this host runs on, as (column name, value) pairs in column
    /// order with SQLite's storage classes: through the engine's own read connections on SQLite (so <c>:memory:</c>
    /// works), through <see cref="PostgresQuery.Rows(string, string, object?[])"/> on PostgreSQL. Parameters are
    /// written <c>$p1</c>, <c>$p2</c>, … on both.
    /// </summary>
    public async Task<List<KeyValuePair<string, object?>[]>> QueryStoreAsync(string sql, object?[]? parameters = null, CancellationToken cancellationToken = default)
    {
        if (PostgresConnectionString is { } pg)
        {
            return PostgresQuery.Rows(pg, sql, parameters ?? []);
        }

        var engine = Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>().Engine;
        var rows = await engine.Database.ReadAsync(c => Mkio.Storage.MkioDatabase.Query(c, sql, parameters ?? []), cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => Enumerable.Range(0, r.Count).Select(i => new KeyValuePair<string, object?>(r.Name(i), r[i])).ToArray())];
    }

    /// <summary>Runs the host's graceful shutdown (as on SIGTERM).</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _app.StopAsync(cts.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            if (OwnsDirectory)
            {
                Directory.Dispose();
            }
        }
    }
}

/// <summary>A temp folder deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mkio-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
