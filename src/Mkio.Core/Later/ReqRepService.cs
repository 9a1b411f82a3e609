using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Mkio.Data;
using Mkio.Expressions;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Services;
using Mkio.Sessions;
using Mkio.Storage;
using SQLitePCL;

namespace Mkio.Later;

/// <summary>
/// A reqrep service: every message that is not a subscribe/unsubscribe is a request. The configured SQL runs on a
/// pooled read connection (never the writer) with <c>PRAGMA query_only</c>, the request values bound as parameters,
/// at most <see cref="MkioOptions.ReqRepMaxRows"/> rows and <see cref="MkioOptions.ReqRepTimeoutMs"/> milliseconds
/// (then <c>sqlite3_interrupt</c>). A request runs when the connection's earlier replies are done, so it sees the
/// connection's earlier writes; replies keep request order.
/// </summary>
internal partial class ReqRepService(MkioEngine engine, ReqRepServiceModel model) : MkioService(model)
{
    protected MkioEngine Engine { get; } = engine;

    public ReqRepServiceModel ReqRep { get; } = model;

    public override ValueTask SubscribeAsync(MkioSession session, Envelope envelope, CancellationToken cancellationToken)
    {
        if (!envelope.Root.TryGetProperty("protocol"u8, out var p) || p.ValueKind == JsonValueKind.Null)
        {
            return base.SubscribeAsync(session, envelope, cancellationToken);
        }

        // A protocol other than reqrep was answered by the session (mismatch); this is "protocol":"reqrep".
        var who = ReqRep.IsIdentity ? Name : "reqrep";
        var nack = LaterProtocol.Nack(Name, $"{who} does not support subscriptions \u2014 use type 'request'", envelope.Root);
        session.TrySend(nack, Name);
        NotifyOut(nack);
        return ValueTask.CompletedTask;
    }

    public override ValueTask<PendingReply?> HandleMessageAsync(MkioSession session, Envelope envelope, JsonDocument document, CancellationToken cancellationToken)
    {
        var reqid = LaterProtocol.Echo(envelope.Root, "reqid"u8);
        var data = envelope.Root.TryGetProperty("data"u8, out var d) ? d : default;
        if (data.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Object))
        {
            return Ready(Error("'data' must be a JSON object", reqid));
        }

        var row = LaterProtocol.DataRow(data);
        return ValueTask.FromResult<PendingReply?>(new DeferredReply(this, () => Answer(row, reqid, session)));
    }

    /// <summary>Builds the reply of one request from <paramref name="session"/> (default: <see cref="Answer(Row, JsonElement)"/>).</summary>
    protected virtual byte[] Answer(Row data, JsonElement reqid, MkioSession session) => Answer(data, reqid);

    /// <summary>Builds the reply (or error) frame of one request. Runs on the thread pool.</summary>
    protected virtual byte[] Answer(Row data, JsonElement reqid)
    {
        try
        {
            var m = ReqRep;
            if (m.Sql is null)
            {
                return m.ReplyRow is { } formatter
                    ? LaterProtocol.Reply(Name, reqid, "row", formatter.Format(data))
                    : LaterProtocol.Reply(Name, reqid, "value", m.ReplyValue!.Evaluate(data));
            }

            var binds = Binds(data);
            var rows = Engine.PostgresReads is { } pg ? RunPostgres(pg, m.Sql, binds) : Engine.Database.Read(c => Run(c, m.Sql, binds));
            if (m.ReplyValue is { } value)
            {
                return LaterProtocol.Reply(Name, reqid, "value", rows.Count == 0 ? null : value.Evaluate(rows[0]));
            }

            if (m.ReplyRow is { } rowFormatter)
            {
                return LaterProtocol.Reply(Name, reqid, "rows", rows.ConvertAll(rowFormatter.Format));
            }

            return LaterProtocol.Reply(Name, reqid, "rows", rows);
        }
        catch (Exception ex) when (ex is ExpressionException or ReqRepException or SqliteException or Npgsql.NpgsqlException)
        {
            return Error(ex switch
            {
                SqliteException se => SqliteErrors.Unwrap(se),
                Npgsql.PostgresException pe => pe.MessageText,
                Npgsql.NpgsqlException ne => "database unavailable: " + ne.Message,
                _ => ex.Message,
            }, reqid);
        }
    }

    protected byte[] Error(string message, JsonElement reqid) => LaterProtocol.Error(message, default, reqid, ReqRep.IsIdentity ? Name : null);

    protected ValueTask<PendingReply?> Ready(byte[] frame) => ValueTask.FromResult<PendingReply?>(PendingReply.Ready(frame, this));

    /// <summary>The named values to bind: <c>params</c> evaluated against the data, or the data itself.</summary>
    private Dictionary<string, object?> Binds(Row data)
    {
        var binds = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (ReqRep.Options.Params is not null)
        {
            foreach (var (name, expression) in ReqRep.Params)
            {
                binds[name] = expression.Evaluate(data);
            }
        }
        else
        {
            for (var i = 0; i < data.Count; i++)
            {
                binds[data.Name(i)] = data[i];
            }
        }

        foreach (var name in ReqRep.SqlParameters)
        {
            if (!binds.ContainsKey(name))
            {
                throw new ReqRepException($"You did not supply a value for binding parameter :{name}.");
            }
        }

        return binds;
    }

    /// <summary>Runs <paramref name="sql"/> read-only on a reader, bounded in rows and time.</summary>
    private List<Row> Run(SqliteConnection connection, string sql, Dictionary<string, object?> binds)
    {
        var maxRows = Engine.Model.Options.ReqRepMaxRows;
        var timeoutMs = Engine.Model.Options.ReqRepTimeoutMs;
        Pragma(connection, "PRAGMA query_only=1;");
        var gate = new Lock();
        var running = true;
        var interrupted = false;
        using var timer = new Timer(
            _ =>
            {
                lock (gate)
                {
                    if (running)
                    {
                        interrupted = true;
                        raw.sqlite3_interrupt(connection.Handle);
                    }
                }
            },
            null,
            timeoutMs,
            Timeout.Infinite);
        try
        {
            using var cmd = connection.CreateCommand();
            cmd.CommandText = sql;
            foreach (var name in ReqRep.SqlParameters.Distinct(StringComparer.Ordinal))
            {
                cmd.Parameters.AddWithValue(":" + name, ToSqlite(name, binds[name]));
            }

            using var reader = cmd.ExecuteReader();
            return MkioDatabase.ReadRows(reader, maxRows, () => new ReqRepException(string.Create(CultureInfo.InvariantCulture, $"Service '{Name}': the result has more than {maxRows} rows (ReqRepMaxRows)")));
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == raw.SQLITE_INTERRUPT || Volatile.Read(ref interrupted))
        {
            throw new ReqRepException(string.Create(CultureInfo.InvariantCulture, $"Service '{Name}': the query was interrupted after {timeoutMs} ms (ReqRepTimeoutMs)"));
        }
        finally
        {
            lock (gate)
            {
                running = false;
            }

            Pragma(connection, "PRAGMA query_only=0;");
        }
    }

    private static void Pragma(SqliteConnection connection, string text)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = text;
        cmd.ExecuteNonQuery();
    }

    /// <summary>An expression or JSON value as a SQLite parameter (Python sqlite3 rules: bool → 0/1; lists, maps and huge integers refused).</summary>
    private static object ToSqlite(string name, object? value) => value switch
    {
        null => DBNull.Value,
        bool b => b ? 1L : 0L,
        long or double or string or byte[] => value,
        int i => (long)i,
        BigInteger => throw new ReqRepException($"Error binding parameter :{name}: Python int too large to convert to SQLite INTEGER"),
        _ => throw new ReqRepException($"Error binding parameter :{name}: type '{(value is System.Collections.IDictionary or IReadOnlyDictionary<string, object?> ? "dict" : "list")}' is not supported"),
    };

    /// <summary>
    /// A reply computed when the connection reaches it in its reply order, i.e. after every earlier request of the
    /// connection was answered — so a request sees the connection's earlier transactions — on the thread pool.
    /// </summary>
    private sealed class DeferredReply(MkioService service, Func<byte[]> answer) : PendingReply(service)
    {
        public override async ValueTask<byte[]?> ResolveAsync() => await Task.Run(answer).ConfigureAwait(false);
    }
}

/// <summary>A reqrep failure whose message is the client's error text.</summary>
internal sealed class ReqRepException(string message) : Exception(message)
{
    public ReqRepException()
        : this("request failed")
    {
    }

    public ReqRepException(string message, Exception inner)
        : this(message) => _ = inner;
}
