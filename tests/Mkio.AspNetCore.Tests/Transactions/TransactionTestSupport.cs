using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Hosting;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Protocol;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Transactions;

/// <summary>
/// Helpers shared by the dispatch, transaction and write-batcher end-to-end tests: a temp-file
/// database read through an independent SQLite connection, the running engine, and a change-bus
/// recorder.
/// </summary>
internal static partial class TxTest
{
    /// <summary>The database file name; <see cref="MkioTestHost"/> puts it into its temp folder.</summary>
    public const string DbFile = "test.db";

    /// <summary>PROTOCOL.md §3.1 ref format.</summary>
    [GeneratedRegex(@"^\d{8} \d{2}:\d{2}:\d{2}\.\d{12}$")]
    public static partial Regex RefFormat();

    /// <summary>Fixture A on a temp-file database.</summary>
    public static void FixtureAOnFile(MkioOptions o)
    {
        Fixtures.FixtureA(o);
        o.DbPath = DbFile;
    }

    /// <summary>Fixture B on a temp-file database.</summary>
    public static void FixtureBOnFile(MkioOptions o)
    {
        Fixtures.FixtureB(o);
        o.DbPath = DbFile;
    }

    /// <summary><paramref name="configure"/>, then a temp-file database.</summary>
    public static Action<MkioOptions> OnFile(Action<MkioOptions> configure) => o =>
    {
        configure(o);
        o.DbPath = DbFile;
    };

    public static MkioEngine Engine(MkioTestHost host) => host.Services.GetRequiredService<MkioEngineHost>().Engine;

    /// <summary>Rows of <paramref name="sql"/> read through a separate read-only connection (values by storage class).</summary>
    public static List<object?[]> Query(MkioTestHost host, string sql)
    {
        if (host.PostgresConnectionString is { } pg)
        {
            return [.. PostgresQuery.Rows(pg, sql).Select(r => r.Select(c => c.Value).ToArray())];
        }

        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = host.Directory.File(DbFile),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString();
        using var c = new SqliteConnection(cs);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var r = cmd.ExecuteReader();
        var rows = new List<object?[]>();
        while (r.Read())
        {
            var v = new object?[r.FieldCount];
            for (var i = 0; i < v.Length; i++)
            {
                v[i] = r.IsDBNull(i) ? null : r.GetValue(i);
            }

            rows.Add(v);
        }

        return rows;
    }

    public static object? Scalar(MkioTestHost host, string sql)
    {
        var rows = Query(host, sql);
        return rows.Count == 0 ? null : rows[0][0];
    }

    public static long Count(MkioTestHost host, string table) => (long)Scalar(host, $"SELECT COUNT(*) FROM {table}")!;

    /// <summary>The first column of every row of <paramref name="sql"/>.</summary>
    public static List<object?> Column(MkioTestHost host, string sql) => [.. Query(host, sql).Select(r => r[0])];

    /// <summary>A row as the wire would encode it (the path snapshots and updates use).</summary>
    public static string Json(Row row) => Encoding.UTF8.GetString(WireJson.Serialize(w => WireJson.WriteRow(w, row)));

    /// <summary>Rows read by the server's own read path (<see cref="MkioDatabase.Query"/>), as used for query snapshots.</summary>
    public static async Task<List<Row>> ServerReadAsync(MkioTestHost host, string sql, CancellationToken ct) =>
        host.PostgresConnectionString is null
            ? await Engine(host).Database.ReadAsync(c => Mkio.Storage.MkioDatabase.Query(c, sql), ct)
            : await Task.Run(() => Engine(host).Reads.Query(sql), ct);

    /// <summary>Sends every message, then reads one reply per message (pipelined, F17).</summary>
    public static async Task<List<TestSocket.Received>> PipelineAsync(TestSocket ws, IReadOnlyList<string> messages, CancellationToken ct)
    {
        foreach (var m in messages)
        {
            await ws.SendAsync(m, cancellationToken: ct);
        }

        var replies = new List<TestSocket.Received>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            replies.Add(await ws.ReceiveRawAsync(ct));
        }

        return replies;
    }

    /// <summary>The <c>ref</c> of a reply.</summary>
    public static string Ref(JsonElement reply) => reply.GetProperty("ref").GetString()!;
}

/// <summary>Records every committed batch the change bus publishes (an <see cref="IChangeListener"/>).</summary>
internal sealed class EventRecorder : IChangeListener, IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<IReadOnlyList<ChangeEvent>> _batches = [];
    private readonly Action<IReadOnlyList<ChangeEvent>>? _onBatch;
    private readonly IDisposable _subscription;

    public EventRecorder(ChangeBus bus, IReadOnlyCollection<string>? tables = null, Action<IReadOnlyList<ChangeEvent>>? onBatch = null)
    {
        Tables = tables;
        _onBatch = onBatch;
        _subscription = bus.Subscribe(this);
    }

    public IReadOnlyCollection<string>? Tables { get; }

    /// <summary>One entry per <see cref="OnCommitted"/> call.</summary>
    public List<IReadOnlyList<ChangeEvent>> Batches
    {
        get
        {
            lock (_lock)
            {
                return [.. _batches];
            }
        }
    }

    public List<ChangeEvent> Events => [.. Batches.SelectMany(b => b)];

    public void OnCommitted(IReadOnlyList<ChangeEvent> events)
    {
        _onBatch?.Invoke(events);
        lock (_lock)
        {
            _batches.Add([.. events]);
        }
    }

    public void Dispose() => _subscription.Dispose();
}
