using System.Globalization;

namespace Mkio.Storage.Postgres;

/// <summary>
/// Refs for ref-less requests when several nodes write: each node's clock-based generator, raised above the
/// newest ref in the journal (read under the journal lock, so it is the cluster's newest), so refs stay
/// unique and in commit order across nodes even when their clocks differ.
/// </summary>
internal sealed class ClusterRefs(MkioRefGenerator local)
{
    private string? _floor;

    /// <summary>Raises the floor to <paramref name="newest"/> (a ref already committed by any node).</summary>
    public void Observe(string? newest)
    {
        if (newest is not null && MkioRef.IsWellFormed(newest) && (_floor is null || MkioRef.Compare(newest, _floor) > 0))
        {
            _floor = newest;
        }
    }

    /// <summary>The next ref: the local generator's, or the successor of the floor when that is not greater.</summary>
    public string Next()
    {
        var r = local.Next();
        if (_floor is not null && MkioRef.Compare(r, _floor) <= 0)
        {
            r = Successor(_floor);
        }

        _floor = r;
        return r;
    }

    /// <summary>The smallest well-formed ref greater than <paramref name="r"/> (counter + 1, carrying into the nanoseconds).</summary>
    internal static string Successor(string r)
    {
        var time = DateTime.ParseExact(r.AsSpan(0, 17), "yyyyMMdd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        var nanos = long.Parse(r.AsSpan(18, 9), NumberStyles.None, CultureInfo.InvariantCulture);
        var counter = int.Parse(r.AsSpan(27, 3), NumberStyles.None, CultureInfo.InvariantCulture) + 1;
        var ns = ((time - DateTime.UnixEpoch).Ticks * 100) + nanos;
        if (counter >= 1000)
        {
            ns++;
            counter = 0;
        }

        return MkioRef.Format(ns, counter);
    }
}
