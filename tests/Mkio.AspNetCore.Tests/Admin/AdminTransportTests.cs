using System.Text;
using Mkio.AspNetCore.Admin;
using Mkio.Sessions;

namespace Mkio.AspNetCore.Tests.Admin;

/// <summary>
/// The admin page's transport takes a batch of frames as the frames one after another: in order, within its byte
/// bound, and it gives the batch's array back to the pool whether it took the frames or not.
/// </summary>
public class AdminTransportTests
{
    [Test, CancelAfter(30_000)]
    public async Task TrySend_Batch_FramesReadInOrder_ArrayReturned(CancellationToken ct)
    {
        var transport = new AdminTransport(1 << 20);
        var (batch, array) = Batch(["a", "bb", "ccc"]);
        Assert.That(transport.TrySend(batch), Is.True);
        Assert.That(transport.QueuedBytes, Is.EqualTo(6));
        Assert.That(array.All(m => m.IsEmpty), Is.True, "the array went back to the pool, cleared");

        foreach (var expected in new[] { "a", "bb", "ccc" })
        {
            Assert.That(Encoding.ASCII.GetString((await transport.ReadAsync(ct))!), Is.EqualTo(expected));
        }

        Assert.That(transport.QueuedBytes, Is.Zero);
    }

    [Test]
    public void TrySend_BatchPastTheBound_RefusedAndOverflowed_ArrayReturned()
    {
        var transport = new AdminTransport(4);
        var (batch, array) = Batch(["ab", "cd", "ef"]);
        Assert.That(transport.TrySend(batch), Is.False);
        Assert.That(transport.Overflowed, Is.True);
        Assert.That(array.All(m => m.IsEmpty), Is.True);

        var (late, lateArray) = Batch(["g"]);
        Assert.That(transport.TrySend(late), Is.False, "nothing more once overflowed");
        Assert.That(lateArray.All(m => m.IsEmpty), Is.True);
    }

    private static (FrameBatch Batch, ReadOnlyMemory<byte>[] Array) Batch(string[] frames)
    {
        var array = FrameBatch.Pool.Rent(frames.Length);
        long bytes = 0;
        for (var i = 0; i < frames.Length; i++)
        {
            array[i] = Encoding.ASCII.GetBytes(frames[i]);
            bytes += frames[i].Length;
        }

        return (new FrameBatch(array, frames.Length, bytes), array);
    }
}
