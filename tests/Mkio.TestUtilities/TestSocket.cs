using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Mkio.TestUtilities;

/// <summary>A WebSocket client for tests: send text or binary frames, receive parsed messages with timeouts.</summary>
public sealed class TestSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _ws;
    private readonly Channel<Received> _inbox = Channel.CreateUnbounded<Received>();
    private readonly Task _receiver;
    private readonly CancellationTokenSource _cts = new();
    private int _disposed;

    private TestSocket(ClientWebSocket ws)
    {
        _ws = ws;
        _receiver = Task.Run(ReceiveLoopAsync);
    }

    public static TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public WebSocketState State => _ws.State;

    public WebSocketCloseStatus? CloseStatus => _ws.CloseStatus;

    public string? CloseStatusDescription => _ws.CloseStatusDescription;

    /// <summary>Completes when the server closed the socket (or it failed).</summary>
    public Task Closed => _receiver;

    public static async Task<TestSocket> ConnectAsync(Uri uri, CancellationToken cancellationToken = default, Action<ClientWebSocketOptions>? options = null)
    {
        var ws = new ClientWebSocket();
        options?.Invoke(ws.Options);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(DefaultTimeout);
        await ws.ConnectAsync(uri, cts.Token).ConfigureAwait(false);
        return new TestSocket(ws);
    }

    public Task SendAsync(string json, WebSocketMessageType type = WebSocketMessageType.Text, CancellationToken cancellationToken = default) =>
        SendBytesAsync(Encoding.UTF8.GetBytes(json), type, cancellationToken);

    public async Task SendBytesAsync(byte[] bytes, WebSocketMessageType type = WebSocketMessageType.Text, CancellationToken cancellationToken = default)
    {
        await _ws.SendAsync(bytes, type, true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="json"/> and returns the next message.</summary>
    public async Task<JsonElement> RequestAsync(string json, CancellationToken cancellationToken = default)
    {
        await SendAsync(json, cancellationToken: cancellationToken).ConfigureAwait(false);
        return await ReceiveAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The next message, parsed; fails after <see cref="DefaultTimeout"/>, or when the message is not JSON (see <see cref="ReceiveRawAsync"/>).</summary>
    public async Task<JsonElement> ReceiveAsync(CancellationToken cancellationToken = default, TimeSpan? timeout = null)
    {
        var r = await ReceiveRawAsync(cancellationToken, timeout).ConfigureAwait(false);
        if (r.Json.ValueKind == JsonValueKind.Undefined)
        {
            throw new InvalidDataException($"The message is not strict JSON (read it with ReceiveRawAsync): {r.Text}");
        }

        return r.Json;
    }

    public async Task<Received> ReceiveRawAsync(CancellationToken cancellationToken = default, TimeSpan? timeout = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout ?? DefaultTimeout);
        try
        {
            return await _inbox.Reader.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No message within {(timeout ?? DefaultTimeout).TotalSeconds} s (socket state {_ws.State}).");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The socket closed ({_ws.CloseStatus} {_ws.CloseStatusDescription}) before a message arrived.");
        }
    }

    /// <summary>Receives messages until one satisfies <paramref name="match"/>.</summary>
    public async Task<JsonElement> ReceiveUntilAsync(Func<JsonElement, bool> match, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var m = await ReceiveAsync(cancellationToken).ConfigureAwait(false);
            if (match(m))
            {
                return m;
            }
        }
    }

    /// <summary>True when no message arrives within <paramref name="window"/> (a bounded wait used to assert silence).</summary>
    public async Task<bool> NoMessageWithinAsync(TimeSpan window, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(window);
        try
        {
            await _inbox.Reader.WaitToReadAsync(cts.Token).ConfigureAwait(false);
            return !_inbox.Reader.TryPeek(out _);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return true;
        }
    }

    /// <summary>Messages already received and not yet read.</summary>
    public int Pending => _inbox.Reader.CanCount ? _inbox.Reader.Count : 0;

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        try
        {
            while (_ws.State is WebSocketState.Open or WebSocketState.CloseSent)
            {
                var r = await _ws.ReceiveAsync(buffer, _cts.Token).ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    // Answer the server's close frame, as a browser or the original clients do.
                    if (_ws.State == WebSocketState.CloseReceived)
                    {
                        using var close = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                        await _ws.CloseOutputAsync(_ws.CloseStatus ?? WebSocketCloseStatus.NormalClosure, string.Empty, close.Token).ConfigureAwait(false);
                    }

                    break;
                }

                ms.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage)
                {
                    continue;
                }

                var bytes = ms.ToArray();
                ms.SetLength(0);
                await _inbox.Writer.WriteAsync(new Received(r.MessageType, bytes, Parse(bytes))).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            _inbox.Writer.TryComplete();
        }
    }

    /// <summary>The parsed message, or an undefined element when it is not strict JSON (e.g. a bare NaN as Python writes it).</summary>
    private static JsonElement Parse(byte[] bytes)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return default;
        }
    }

    public async Task CloseAsync()
    {
        if (_ws.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _ws.CloseAsync(WebSocketCloseStatus.NormalClosure, string.Empty, cts.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await CloseAsync().ConfigureAwait(false);
        await _cts.CancelAsync().ConfigureAwait(false);
        try
        {
            await _receiver.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        _ws.Dispose();
        _cts.Dispose();
    }

    /// <summary>One received message: frame type, raw bytes and the parsed JSON (undefined when the bytes are not strict JSON).</summary>
    public sealed record Received(WebSocketMessageType Type, byte[] Bytes, JsonElement Json)
    {
        public string Text => Encoding.UTF8.GetString(Bytes);
    }
}
