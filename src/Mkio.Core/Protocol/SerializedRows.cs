using System.Text.Json;
using Mkio.Data;

namespace Mkio.Protocol;

/// <summary>
/// The rows of one query snapshot serialised once (wire JSON, byte-exact Python). Snapshot frames for
/// every subscriber filter are assembled from it by copying the admitted rows' bytes, so ten
/// subscribers with ten different filters cost one serialisation, not ten. The first frame over all
/// the rows is built in place around the serialised array (its prefix in the free space before it,
/// <c>}</c> after it): a 100,000-row snapshot is not copied again.
/// </summary>
internal sealed class SerializedRows
{
    /// <summary>Free bytes before the array: enough for <c>{"type":"snapshot","service":S,"ref":R,"rows":</c> with usual names and refs.</summary>
    internal const int Headroom = 256;

    private readonly byte[] _buffer;
    private readonly int _arrayEnd;
    private readonly int[] _starts;
    private readonly int[] _ends;
    private readonly RowSchema? _decodable;
    private int _inPlaceTaken;

    public SerializedRows(IReadOnlyList<Row> rows)
    {
        _buffer = WireJson.SerializeRows(rows, Headroom, out _arrayEnd, out _starts, out _ends);
    }

    /// <summary>
    /// Rows already serialised into <paramref name="buffer"/> as <see cref="WireJson.FinishRows"/> returns them: the array
    /// at <c>buffer[Headroom..arrayEnd]</c>, row <c>i</c> at <c>starts[i]..ends[i]</c>, at least one free byte after it.
    /// With <paramref name="decodable"/> (the rows' schema, distinct names; every value null, a 64-bit integer, a finite
    /// float or text), <see cref="RowAt"/> rebuilds any row from its bytes, so filters need no row objects.
    /// </summary>
    public SerializedRows(byte[] buffer, int arrayEnd, int[] starts, int[] ends, RowSchema? decodable)
    {
        _buffer = buffer;
        _arrayEnd = arrayEnd;
        _starts = starts;
        _ends = ends;
        _decodable = decodable;
    }

    /// <summary>Whether <see cref="RowAt"/> can rebuild rows.</summary>
    public bool CanDecode => _decodable is not null;

    /// <summary>
    /// Row <paramref name="index"/> rebuilt from its bytes: the same names and the same values as the row it was
    /// written from (integers as <see cref="long"/>, floats as <see cref="double"/>: Python's float repr round-trips).
    /// </summary>
    public Row RowAt(int index)
    {
        var schema = _decodable ?? throw new InvalidOperationException("These rows were not serialised decodable.");
        var reader = new Utf8JsonReader(_buffer.AsSpan(_starts[index], _ends[index] - _starts[index]));
        var values = new object?[schema.Count];
        reader.Read();
        for (var k = 0; reader.Read() && reader.TokenType == JsonTokenType.PropertyName; k++)
        {
            reader.Read();
            values[k] = reader.TokenType switch
            {
                JsonTokenType.Null => null,
                JsonTokenType.String => reader.GetString(),
                JsonTokenType.Number => reader.TryGetInt64(out var l) ? (object)l : reader.GetDouble(),
                _ => throw new InvalidOperationException($"Unexpected {reader.TokenType} in a serialised row."),
            };
        }

        return new Row(schema, values);
    }

    /// <summary>The number of rows.</summary>
    public int Count => _starts.Length;

    /// <summary>
    /// <c>{"type":"snapshot","service":S,"ref":R,"rows":[…]}</c> holding the rows <paramref name="admit"/>
    /// accepts (all rows when it is null); byte-identical to <see cref="SubscriptionFrames.SnapshotFrame"/>
    /// over the same rows. The frame over all rows may share this object's buffer (never written again).
    /// </summary>
    public ReadOnlyMemory<byte> SnapshotFrame(string service, string @ref, Func<int, bool>? admit)
    {
        // The frame with no rows ends in "[]}": everything before "[]}" is the prefix.
        var empty = SubscriptionFrames.SnapshotFrame(service, @ref, []);
        var prefix = empty.AsSpan(0, empty.Length - 3);
        var array = _buffer.AsSpan(Headroom, _arrayEnd - Headroom);
        if (admit is null)
        {
            // The buffer's free bytes around the array are written once, by the first frame over all rows.
            if (prefix.Length <= Headroom && Interlocked.Exchange(ref _inPlaceTaken, 1) == 0)
            {
                prefix.CopyTo(_buffer.AsSpan(Headroom - prefix.Length));
                _buffer[_arrayEnd] = (byte)'}';
                return _buffer.AsMemory(Headroom - prefix.Length, prefix.Length + array.Length + 1);
            }

            var frame = new byte[prefix.Length + array.Length + 1];
            prefix.CopyTo(frame);
            array.CopyTo(frame.AsSpan(prefix.Length));
            frame[^1] = (byte)'}';
            return frame;
        }

        List<int>? admitted = null;
        var size = prefix.Length + 3;
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
        result[at++] = (byte)'[';
        if (admitted is not null)
        {
            for (var k = 0; k < admitted.Count; k++)
            {
                if (k > 0)
                {
                    result[at++] = (byte)',';
                }

                var i = admitted[k];
                var row = _buffer.AsSpan(_starts[i], _ends[i] - _starts[i]);
                row.CopyTo(result.AsSpan(at));
                at += row.Length;
            }
        }

        "]}"u8.CopyTo(result.AsSpan(at));
        return result;
    }
}
