using Mkio.Data;

namespace Mkio.Protocol;

/// <summary>
/// The rows of one query snapshot serialised once (wire JSON, byte-exact Python). Snapshot frames for
/// every subscriber filter are assembled from it by copying the admitted rows' bytes, so ten
/// subscribers with ten different filters cost one serialisation, not ten.
/// </summary>
internal sealed class SerializedRows
{
    private readonly byte[] _array;
    private readonly int[] _starts;
    private readonly int[] _ends;

    public SerializedRows(IReadOnlyList<Row> rows)
    {
        _array = WireJson.SerializeRows(rows, out _starts, out _ends);
    }

    /// <summary>The number of rows.</summary>
    public int Count => _starts.Length;

    /// <summary>
    /// <c>{"type":"snapshot","service":S,"ref":R,"rows":[…]}</c> holding the rows <paramref name="admit"/>
    /// accepts (all rows when it is null); byte-identical to <see cref="SubscriptionFrames.SnapshotFrame"/>
    /// over the same rows.
    /// </summary>
    public byte[] SnapshotFrame(string service, string @ref, Func<int, bool>? admit)
    {
        // The frame with no rows ends in "[]}": everything before "]}" is the prefix.
        var empty = SubscriptionFrames.SnapshotFrame(service, @ref, []);
        var prefix = empty.AsSpan(0, empty.Length - 2);
        if (admit is null)
        {
            var body = Count == 0 ? ReadOnlySpan<byte>.Empty : _array.AsSpan(_starts[0], _ends[^1] - _starts[0]);
            var frame = new byte[prefix.Length + body.Length + 2];
            prefix.CopyTo(frame);
            body.CopyTo(frame.AsSpan(prefix.Length));
            "]}"u8.CopyTo(frame.AsSpan(prefix.Length + body.Length));
            return frame;
        }

        List<int>? admitted = null;
        var size = prefix.Length + 2;
        for (var i = 0; i < Count; i++)
        {
            if (admit(i))
            {
                (admitted ??= []).Add(i);
                size += _ends[i] - _starts[i] + (admitted.Count > 1 ? 1 : 0);
            }
        }

        var result = new byte[size];
        prefix.CopyTo(result);
        var at = prefix.Length;
        if (admitted is not null)
        {
            for (var k = 0; k < admitted.Count; k++)
            {
                if (k > 0)
                {
                    result[at++] = (byte)',';
                }

                var i = admitted[k];
                var row = _array.AsSpan(_starts[i], _ends[i] - _starts[i]);
                row.CopyTo(result.AsSpan(at));
                at += row.Length;
            }
        }

        "]}"u8.CopyTo(result.AsSpan(at));
        return result;
    }
}
