using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Mkio.AspNetCore.Hosting;
using Mkio.Storage;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>Helpers shared by the lifecycle tests: database inspection and reading a socket to its end.</summary>
internal static class LifecycleSupport
{
    /// <summary>Rows of <paramref name="sql"/> read from the database file itself, on a connection of its own (no pooling).</summary>
    public static List<object?[]> QueryFile(string path, string sql)
    {
        if (MkioTestHost.PostgresDatabaseOf(Path.GetDirectoryName(path)!) is { } pg)
        {
            return [.. PostgresQuery.Rows(pg, sql).Select(r => r.Select(c => c.Value).ToArray())];
        }

        var cs = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString();
        using var c = new SqliteConnection(cs);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        using var reader = cmd.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Rows of <paramref name="sql"/> read from the running host's store (its own read connections on SQLite, so <c>:memory:</c> works).</summary>
    public static async Task<List<object?[]>> QueryHostAsync(MkioTestHost host, string sql, CancellationToken ct) =>
        [.. (await host.QueryStoreAsync(sql, cancellationToken: ct)).Select(r => r.Select(c => c.Value).ToArray())];

    /// <summary>The <c>-wal</c> / <c>-shm</c> companions of <paramref name="dbPath"/> that exist.</summary>
    public static string[] WalFiles(string dbPath) =>
        [.. new[] { dbPath + "-wal", dbPath + "-shm" }.Where(File.Exists)];

    /// <summary>Every message <paramref name="socket"/> received, once the server has closed it.</summary>
    public static async Task<List<JsonElement>> ReadAllAfterCloseAsync(TestSocket socket, CancellationToken ct)
    {
        await socket.Closed.WaitAsync(ct);
        var all = new List<JsonElement>();
        while (socket.Pending > 0)
        {
            all.Add(await socket.ReceiveAsync(ct));
        }

        return all;
    }

    /// <summary>A JSON string literal of exactly <paramref name="length"/> ASCII characters (plus quotes).</summary>
    public static string Padding(int length) => new('x', length);

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}

/// <summary>
/// A WebSocket client that reads only when asked, over a TCP socket with a tiny receive buffer, so a
/// server that keeps sending to it quickly fills its outbound queue (the slow consumer of F10).
/// </summary>
internal sealed class ManualSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _ws;
    private readonly HttpMessageInvoker _invoker;

    private ManualSocket(ClientWebSocket ws, HttpMessageInvoker invoker)
    {
        _ws = ws;
        _invoker = invoker;
    }

    public WebSocketCloseStatus? CloseStatus => _ws.CloseStatus;

    public string? CloseStatusDescription => _ws.CloseStatusDescription;

    public static async Task<ManualSocket> ConnectAsync(Uri uri, int receiveBufferBytes, CancellationToken ct)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = receiveBufferBytes };
                try
                {
                    await s.ConnectAsync(context.DnsEndPoint, token);
                    return new NetworkStream(s, ownsSocket: true);
                }
                catch
                {
                    s.Dispose();
                    throw;
                }
            },
        };
        var invoker = new HttpMessageInvoker(handler);
        var ws = new ClientWebSocket();
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TestSocket.DefaultTimeout);
            await ws.ConnectAsync(uri, invoker, cts.Token);
        }
        catch
        {
            ws.Dispose();
            invoker.Dispose();
            throw;
        }

        return new ManualSocket(ws, invoker);
    }

    public WebSocketState State => _ws.State;

    public Task SendAsync(string json, CancellationToken ct) =>
        _ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes(json)), WebSocketMessageType.Text, true, ct);

    /// <summary>Sends one frame; <paramref name="endOfMessage"/> false makes it a fragment of a larger message.</summary>
    public Task SendFrameAsync(byte[] payload, WebSocketMessageType type, bool endOfMessage, CancellationToken ct) =>
        _ws.SendAsync(new ArraySegment<byte>(payload), type, endOfMessage, ct);

    /// <summary>Reads exactly one message (bounded by <see cref="TestSocket.DefaultTimeout"/>).</summary>
    public async Task<JsonElement> ReceiveAsync(CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TestSocket.DefaultTimeout);
        var (type, bytes) = await ReceiveMessageAsync(cts.Token);
        if (type == WebSocketMessageType.Close)
        {
            throw new InvalidOperationException($"Closed ({_ws.CloseStatus}) before a message arrived.");
        }

        using var doc = JsonDocument.Parse(bytes);
        return doc.RootElement.Clone();
    }

    /// <summary>Resumes reading: returns every message up to the server's close frame.</summary>
    public async Task<List<JsonElement>> ReadUntilClosedAsync(CancellationToken ct)
    {
        var all = new List<JsonElement>();
        while (true)
        {
            var (type, bytes) = await ReceiveMessageAsync(ct);
            if (type == WebSocketMessageType.Close)
            {
                return all;
            }

            using var doc = JsonDocument.Parse(bytes);
            all.Add(doc.RootElement.Clone());
        }
    }

    private async Task<(WebSocketMessageType Type, byte[] Bytes)> ReceiveMessageAsync(CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        while (true)
        {
            var r = await _ws.ReceiveAsync(buffer, ct);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                return (r.MessageType, []);
            }

            ms.Write(buffer, 0, r.Count);
            if (r.EndOfMessage)
            {
                return (r.MessageType, ms.ToArray());
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _ws.Abort();
        _ws.Dispose();
        _invoker.Dispose();
        return ValueTask.CompletedTask;
    }
}
