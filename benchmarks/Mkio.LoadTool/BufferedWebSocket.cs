using System.Globalization;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace Mkio.LoadTool;

/// <summary>
/// A client WebSocket whose reads go through a 64 KiB buffer. <see cref="ClientWebSocket"/> reads each frame's
/// header and then its payload from the socket separately (two receive syscalls per small message); a receiver of
/// hundreds of thousands of 200-byte messages a second then spends more CPU than the server it measures. Here one
/// socket read serves every message that arrived together. Writes pass straight through (no flush needed).
/// </summary>
internal static class BufferedWebSocket
{
    /// <summary>Opens <paramref name="uri"/> (ws:// on loopback) with the RFC 6455 handshake over a buffered stream.</summary>
    public static async Task<WebSocket> ConnectAsync(Uri uri, CancellationToken ct)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(uri.Host, uri.Port, ct);
            var stream = tcp.GetStream();
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var request = "GET " + uri.PathAndQuery + " HTTP/1.1\r\nHost: " + uri.Host + ":" + uri.Port.ToString(CultureInfo.InvariantCulture)
                + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), ct);

            // The response head, byte by byte: nothing after it may be consumed here.
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(one, ct) == 0)
                {
                    throw new WebSocketException("connection closed during the handshake");
                }

                head.Append((char)one[0]);
            }

            if (!head.ToString().StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
            {
                throw new WebSocketException("upgrade refused: " + head.ToString().Split('\r')[0]);
            }

            return WebSocket.CreateFromStream(new ReadBufferedStream(stream, tcp), new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Buffers reads; writes go straight to the socket.</summary>
    private sealed class ReadBufferedStream(NetworkStream inner, TcpClient owner) : Stream
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_start == _end)
            {
                if (buffer.Length >= _buffer.Length)
                {
                    return await inner.ReadAsync(buffer, cancellationToken);
                }

                _start = 0;
                _end = await inner.ReadAsync(_buffer, cancellationToken);
                if (_end == 0)
                {
                    return 0;
                }
            }

            var n = Math.Min(buffer.Length, _end - _start);
            _buffer.AsSpan(_start, n).CopyTo(buffer.Span);
            _start += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                owner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
