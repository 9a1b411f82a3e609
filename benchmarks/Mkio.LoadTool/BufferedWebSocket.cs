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
    public static async Task<WebSocket> ConnectAsync(Uri uri, CancellationToken ct) => (await ConnectClientAsync(uri, ct)).Ws;

    /// <summary>
    /// Opens <paramref name="uri"/> like <see cref="ConnectAsync"/> and also returns a <see cref="MessageReader"/> over the
    /// same buffered stream. Use one or the other for receiving, never both on one connection: the WebSocket buffers
    /// ahead of what it hands out, so the reader cannot take over after it.
    /// </summary>
    public static async Task<BufferedClient> ConnectClientAsync(Uri uri, CancellationToken ct)
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

            var buffered = new ReadBufferedStream(stream, tcp);
            return new BufferedClient(WebSocket.CreateFromStream(buffered, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero }), buffered);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>A connected client: its WebSocket (sends, close) and a reader of whole server messages.</summary>
    internal sealed class BufferedClient(WebSocket ws, ReadBufferedStream stream)
    {
        public WebSocket Ws { get; } = ws;

        public MessageReader Reader { get; } = new(stream);
    }

    /// <summary>
    /// Reads the server's messages by parsing RFC 6455 frames straight from the buffered stream (server frames are
    /// unmasked): a message that arrived in one frame is handed out as a slice of the stream's buffer, without a copy,
    /// a lock, a cancellation registration or an async state machine per message; fragments are joined in a buffer of
    /// the reader's own. Pings and pongs are skipped (the server never needs an answer within a run); a close frame
    /// ends the reading. A receiver of a million messages a second then costs a fraction of what
    /// the framework's client WebSocket's <c>ReceiveAsync</c> costs per message. Stop a pending read by aborting the socket.
    /// </summary>
    internal sealed class MessageReader(ReadBufferedStream stream)
    {
        private byte[] _message = new byte[1 << 16];

        /// <summary>
        /// The next data message (text or binary), valid until the next call. Throws <see cref="WebSocketException"/>
        /// on a close frame or the end of the stream, <see cref="InvalidDataException"/> on a masked or malformed frame.
        /// </summary>
        public async ValueTask<ReadOnlyMemory<byte>> ReadAsync()
        {
            var length = 0;
            var fragmented = false;
            while (true)
            {
                if (!stream.TryPeekHeader(out var opcode, out var fin, out var headerLength, out var payload))
                {
                    await stream.FillAsync();
                    continue;
                }

                if (opcode == 0x8)
                {
                    throw new WebSocketException("closed by the server");
                }

                stream.Consume(headerLength);
                if (opcode is 0x9 or 0xA)
                {
                    // A ping or pong, also between a message's fragments.
                    await stream.SkipAsync(payload);
                    continue;
                }

                // Data: a continuation exactly when a fragmented message is open.
                if (opcode is not (0x0 or 0x1 or 0x2) || (opcode == 0x0) != fragmented)
                {
                    throw new InvalidDataException($"unexpected WebSocket frame: opcode {opcode}, {(fragmented ? "inside" : "outside")} a fragmented message");
                }

                if (fin && !fragmented && stream.Buffered >= payload)
                {
                    return stream.Take((int)payload);
                }

                if (length + payload > Array.MaxLength)
                {
                    throw new InvalidDataException($"a message of more than {Array.MaxLength} bytes");
                }

                if (length + payload > _message.Length)
                {
                    Array.Resize(ref _message, (int)Math.Min(Array.MaxLength, Math.Max(_message.Length * 2L, length + payload)));
                }

                await stream.ReadExactlyAsync(_message.AsMemory(length, (int)payload));
                length += (int)payload;
                if (fin)
                {
                    return _message.AsMemory(0, length);
                }

                fragmented = true;
            }
        }
    }

    /// <summary>Buffers reads; writes go straight to the socket.</summary>
    internal sealed class ReadBufferedStream(NetworkStream inner, TcpClient owner) : Stream
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        /// <summary>Bytes read from the socket and not yet handed out.</summary>
        public int Buffered => _end - _start;

        /// <summary>Parses the frame header at the read position, if all of it is buffered.</summary>
        public bool TryPeekHeader(out int opcode, out bool fin, out int headerLength, out long payload)
        {
            var b = _buffer.AsSpan(_start, _end - _start);
            opcode = 0;
            fin = false;
            headerLength = 0;
            payload = 0;
            if (b.Length < 2)
            {
                return false;
            }

            if ((b[1] & 0x80) != 0 || (b[0] & 0x70) != 0)
            {
                throw new InvalidDataException("a masked frame or reserved bits from the server");
            }

            fin = (b[0] & 0x80) != 0;
            opcode = b[0] & 0x0F;
            var len7 = b[1] & 0x7F;
            headerLength = len7 switch { 126 => 4, 127 => 10, _ => 2 };
            if (b.Length < headerLength)
            {
                return false;
            }

            payload = len7 switch
            {
                126 => System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(b[2..]),
                127 => (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(b[2..]),
                _ => len7,
            };
            if (payload < 0)
            {
                throw new InvalidDataException("a frame length beyond 2^63");
            }

            return true;
        }

        /// <summary>Drops <paramref name="count"/> buffered bytes.</summary>
        public void Consume(int count) => _start += count;

        /// <summary>Hands out <paramref name="count"/> buffered bytes (valid until the next read).</summary>
        public ReadOnlyMemory<byte> Take(int count)
        {
            var m = _buffer.AsMemory(_start, count);
            _start += count;
            return m;
        }

        /// <summary>Moves the buffered bytes to the front and reads once more from the socket (at least one byte).</summary>
        public async ValueTask FillAsync()
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            var n = await inner.ReadAsync(_buffer.AsMemory(_end));
            if (n == 0)
            {
                throw new WebSocketException("the server closed the connection");
            }

            _end += n;
        }

        /// <summary>Skips the next <paramref name="count"/> bytes of the stream.</summary>
        public async ValueTask SkipAsync(long count)
        {
            while (count > 0)
            {
                if (_start == _end)
                {
                    await FillAsync();
                }

                var n = (int)Math.Min(count, _end - _start);
                _start += n;
                count -= n;
            }
        }

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
