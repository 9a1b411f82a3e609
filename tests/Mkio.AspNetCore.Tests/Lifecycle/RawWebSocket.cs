using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>
/// A WebSocket client written on a bare TCP socket, for tests that need what <c>ClientWebSocket</c>
/// hides: sending data after the server's close frame, frames of any declared length, and telling
/// how the server ended the TCP connection (an orderly FIN or a reset).
/// </summary>
internal sealed class RawWebSocket : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawWebSocket(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
    }

    /// <summary>How the server ended the TCP connection.</summary>
    public enum Ending
    {
        /// <summary>An orderly close: reading returned end of stream.</summary>
        Fin,

        /// <summary>The connection was reset (the server closed it with data unread, or aborted it).</summary>
        Reset,
    }

    /// <summary>Connects to <paramref name="uri"/> (ws://127.0.0.1:port/path) and completes the upgrade handshake.</summary>
    public static async Task<RawWebSocket> ConnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, uri.Port), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var raw = new RawWebSocket(socket);
        try
        {
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var request = $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await raw._stream.WriteAsync(Encoding.ASCII.GetBytes(request), cancellationToken).ConfigureAwait(false);

            // Read the response head byte by byte so no frame byte after it is consumed.
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await raw._stream.ReadAsync(one, cancellationToken).ConfigureAwait(false) == 0)
                {
                    throw new IOException($"The server closed during the handshake: {head}");
                }

                head.Append((char)one[0]);
            }

            if (!head.ToString().StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
            {
                throw new IOException($"Upgrade refused: {head}");
            }

            return raw;
        }
        catch
        {
            raw.Dispose();
            throw;
        }
    }

    /// <summary>Sends one masked frame (FIN set) with <paramref name="opcode"/> (1 text, 2 binary, 8 close).</summary>
    public Task SendFrameAsync(int opcode, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        SendFrameAsync(opcode, payload, payload.Length, cancellationToken);

    /// <summary>
    /// Sends a masked frame header declaring <paramref name="declaredLength"/> bytes, then <paramref name="payload"/>
    /// (the rest, if any, can follow with <see cref="SendMaskedContinuationAsync"/>; the mask key is zero so
    /// the bytes go as they are).
    /// </summary>
    public async Task SendFrameAsync(int opcode, ReadOnlyMemory<byte> payload, long declaredLength, CancellationToken cancellationToken)
    {
        var header = new byte[14];
        header[0] = (byte)(0x80 | opcode);
        int at;
        if (declaredLength < 126)
        {
            header[1] = (byte)(0x80 | declaredLength);
            at = 2;
        }
        else if (declaredLength <= ushort.MaxValue)
        {
            header[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)declaredLength);
            at = 4;
        }
        else
        {
            header[1] = 0x80 | 127;
            BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(2), declaredLength);
            at = 10;
        }

        // A zero mask key: masking leaves the payload unchanged.
        at += 4;
        await _stream.WriteAsync(header.AsMemory(0, at), cancellationToken).ConfigureAwait(false);
        await _stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends more payload bytes of a frame started with a larger declared length.</summary>
    public ValueTask SendMaskedContinuationAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        _stream.WriteAsync(payload, cancellationToken);

    /// <summary>Sends a close frame with <paramref name="status"/>.</summary>
    public Task SendCloseAsync(int status, CancellationToken cancellationToken)
    {
        var payload = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)status);
        return SendFrameAsync(8, payload, cancellationToken);
    }

    /// <summary>Reads one frame from the server (servers do not mask).</summary>
    public async Task<(int Opcode, byte[] Payload)> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var head = await ReadExactlyAsync(2, cancellationToken).ConfigureAwait(false);
        long length = head[1] & 0x7F;
        if (length == 126)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2, cancellationToken).ConfigureAwait(false));
        }
        else if (length == 127)
        {
            length = BinaryPrimitives.ReadInt64BigEndian(await ReadExactlyAsync(8, cancellationToken).ConfigureAwait(false));
        }

        return (head[0] & 0x0F, await ReadExactlyAsync(checked((int)length), cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Reads frames until a close frame and returns its status code and reason.</summary>
    public async Task<(int Status, string Reason, int FramesBefore)> ReadUntilCloseAsync(CancellationToken cancellationToken)
    {
        for (var frames = 0; ; frames++)
        {
            var (opcode, payload) = await ReadFrameAsync(cancellationToken).ConfigureAwait(false);
            if (opcode == 8)
            {
                return (payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : 1005, Encoding.UTF8.GetString(payload.AsSpan(Math.Min(2, payload.Length))), frames);
            }
        }
    }

    /// <summary>Reads until the server ends the TCP connection; any further bytes are counted, not parsed.</summary>
    public async Task<(Ending Ending, long BytesAfter)> ReadToEndAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        long total = 0;
        try
        {
            while (true)
            {
                var n = await _stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    return (Ending.Fin, total);
                }

                total += n;
            }
        }
        catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return (Ending.Reset, total);
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var bytes = new byte[count];
        await _stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
        return bytes;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stream.Dispose();
        _socket.Dispose();
    }
}
