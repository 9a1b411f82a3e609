using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Lifecycle;

/// <summary>
/// The server's side of the close handshake (RFC 6455 §7.1.1): once it has sent its close frame
/// (shutdown 1001, oversized message 1009) it keeps reading — and drops — what the client still sends
/// until the client's close frame, and only then ends the TCP connection. Closing with bytes unread
/// would make the kernel reset the connection, and a reset can destroy the close frame and the last
/// replies before the client has read them (a client sending while the server stops saw no close code).
/// </summary>
public class CloseHandshakeTests
{
    private static void Orders(MkioOptions o)
    {
        o.DbPath = ":memory:";
        o.BatchMaxWaitMs = 1;
        o.MaxMessageBytes = 64 * 1024;
        o.Table("orders", t => t
                .Column("id", "TEXT PRIMARY KEY")
                .Column("qty", "INTEGER"))
            .Transaction("add_order", tx => tx.Insert("orders", ["id", "qty"]));
    }

    private static long MessagesIn(MetricCollector<long> messages) =>
        messages.GetMeasurementSnapshot().Where(m => Equals(m.Tags["mkio.message.direction"], "in")).Sum(m => m.Value);

    /// <summary>Runs <paramref name="send"/>; false if the server reset the connection meanwhile.</summary>
    private static async Task<bool> SendUnlessResetAsync(Func<Task> send)
    {
        try
        {
            await send();
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static byte[] Insert(string id) => Encoding.UTF8.GetBytes($$$"""{"service":"add_order","ref":"{{{id}}}","data":{"id":"{{{id}}}","qty":1}}""");

    [Test, CancelAfter(60_000)]
    public async Task Shutdown_ClientKeepsSendingAfterThe1001_ServerReadsUntilItsCloseAndEndsWithFin(CancellationToken ct)
    {
        var host = await MkioTestHost.StartAsync(Orders, ct);
        await using (host)
        {
            using var messages = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.service.messages");
            using var raw = await RawWebSocket.ConnectAsync(new Uri(host.WsBase, "ws"), ct);
            await raw.SendFrameAsync(1, Insert("before"), ct);
            var (opcode, reply) = await raw.ReadFrameAsync(ct);
            Assert.That(Encoding.UTF8.GetString(reply), Is.EqualTo("""{"type":"result","service":"add_order","ref":"before","ok":true}"""), $"opcode {opcode}");

            var stop = host.StopAsync();
            var (status, reason, framesBefore) = await raw.ReadUntilCloseAsync(ct);

            // As a client that has not read the close yet: it goes on sending — 8 MiB of messages, more than the
            // server's transport buffers, so a server that closed now would leave bytes unread — then requests,
            // then its own close frame.
            var sent = await SendUnlessResetAsync(async () =>
            {
                var chunk = new byte[48 * 1024];
                for (var k = 0; k < 8 * 1024 * 1024 / chunk.Length; k++)
                {
                    await raw.SendFrameAsync(1, chunk, ct);
                }

                for (var k = 0; k < 20; k++)
                {
                    await raw.SendFrameAsync(1, Insert($"after-{k}"), ct);
                }

                await raw.SendCloseAsync(1000, ct);
            });
            var (ending, bytesAfter) = await raw.ReadToEndAsync(ct);
            await stop.WaitAsync(ct);

            using (Assert.EnterMultipleScope())
            {
                Assert.That((status, reason, framesBefore), Is.EqualTo((1001, "server shutting down", 0)));
                Assert.That(sent, Is.True, "the server did not reset the connection while the client was still sending");
                Assert.That(ending, Is.EqualTo(RawWebSocket.Ending.Fin), "the server read everything up to the client's close frame before closing TCP");
                Assert.That(bytesAfter, Is.Zero, "nothing is sent after the close frame");
                Assert.That(MessagesIn(messages), Is.EqualTo(1), "what arrives after the close frame is dropped, not dispatched");
            }
        }
    }

    [Test, CancelAfter(60_000)]
    public async Task OversizedMessage_ClientSendsTheRestAnyway_Gets1009ThenFin(CancellationToken ct)
    {
        await using var host = await MkioTestHost.StartAsync(Orders, ct);
        using var messages = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Mkio", "mkio.service.messages");
        using var raw = await RawWebSocket.ConnectAsync(new Uri(host.WsBase, "ws"), ct);

        // A frame declaring 16 MiB: the server closes with 1009 after the first 64 KiB.
        const int Declared = 16 * 1024 * 1024;
        const int First = 96 * 1024;
        await raw.SendFrameAsync(1, new byte[First], Declared, ct);
        var (status, reason, framesBefore) = await raw.ReadUntilCloseAsync(ct);

        // The client (which sent before it read the close) completes the frame, sends a request, then its close.
        var sent = await SendUnlessResetAsync(async () =>
        {
            var chunk = new byte[64 * 1024];
            for (var done = First; done < Declared; done += chunk.Length)
            {
                await raw.SendMaskedContinuationAsync(chunk.AsMemory(0, Math.Min(chunk.Length, Declared - done)), ct);
            }

            await raw.SendFrameAsync(1, Insert("after"), ct);
            await raw.SendCloseAsync(1000, ct);
        });
        var (ending, bytesAfter) = await raw.ReadToEndAsync(ct);

        using (Assert.EnterMultipleScope())
        {
            Assert.That((status, reason, framesBefore), Is.EqualTo((1009, "message too big (limit 65536 bytes)", 0)));
            Assert.That(sent, Is.True, "the server did not reset the connection while the client was still sending");
            Assert.That(ending, Is.EqualTo(RawWebSocket.Ending.Fin), "the server read the rest of the frame and the client's close before closing TCP");
            Assert.That(bytesAfter, Is.Zero);
            Assert.That(MessagesIn(messages), Is.Zero, "neither the oversized message nor the later request is dispatched");
        }

        // The server carries on.
        await using var ws = await host.ConnectAsync("ws", ct);
        var ok = await ws.RequestAsync(Encoding.UTF8.GetString(Insert("next")), ct);
        Assert.That(ok.GetRawText(), Is.EqualTo("""{"type":"result","service":"add_order","ref":"next","ok":true}"""));
    }

    [Test, CancelAfter(60_000)]
    public async Task Shutdown_ClientNeverAnswersTheClose_ConnectionIsAbortedAndTheHostStops(CancellationToken ct)
    {
        var host = await MkioTestHost.StartAsync(Orders, ct);
        await using (host)
        {
            using var raw = await RawWebSocket.ConnectAsync(new Uri(host.WsBase, "ws"), ct);
            await raw.SendFrameAsync(1, Insert("before"), ct);
            await raw.ReadFrameAsync(ct);

            var stop = host.StopAsync();
            var (status, _, _) = await raw.ReadUntilCloseAsync(ct);

            // The client keeps its side open and silent: the server must not wait for it for ever.
            var (ending, bytesAfter) = await raw.ReadToEndAsync(ct);
            await stop.WaitAsync(ct);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(status, Is.EqualTo(1001));
                Assert.That(ending, Is.AnyOf(RawWebSocket.Ending.Fin, RawWebSocket.Ending.Reset));
                Assert.That(bytesAfter, Is.Zero);
            }
        }
    }
}
