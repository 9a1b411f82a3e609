using Mkio.Data;
using Mkio.Later;

namespace Mkio.Services.Listeners;

/// <summary>Later subscribes on a query service: <c>snapshot</c>/<c>updates</c> flags, row tags, projection, filter-out deletes.</summary>
internal sealed partial class QueryService
{
    private string[]? _rowKeys;

    /// <summary>
    /// The primary-key columns of <c>primary_table</c>, then those of the other watch tables not already named.
    /// </summary>
    protected override string[]? RowKeyColumns => _rowKeys ??= ComputeRowKeys();

    private string[] ComputeRowKeys()
    {
        var keys = new List<string>(Model.PrimaryTable.PrimaryKey.Select(c => c.Name));
        foreach (var name in Model.WatchTables)
        {
            if (name != Model.PrimaryTable.Name && Engine.Model.TablesByName.TryGetValue(name, out var table))
            {
                keys.AddRange(table.PrimaryKey.Select(c => c.Name).Where(c => !keys.Contains(c)));
            }
        }

        return [.. keys];
    }

    /// <summary>
    /// A later subscribe: the snapshot (unless <c>snapshot</c> is false) of formatted, filtered, tagged and projected
    /// rows, with <c>hasmore:false</c> and no <c>ref</c>; then (unless <c>updates</c> is false) the changes since the
    /// read and registration, exactly at the snapshot's position as for 0.1.0 subscribers (F9).
    /// </summary>
    private void LaterSubscribe(Subscriber subscriber, LaterSubscription later)
    {
        if (!later.Snapshot && !later.Updates)
        {
            return;
        }

        var (raw, sequence, _) = Engine.Database.Read(ReadSnapshot);
        lock (Gate)
        {
            if (!_log.CoversAfter(sequence))
            {
                (raw, sequence, _) = Engine.Database.Read(ReadSnapshot);
            }

            var keys = RowKeyColumns!;
            if (subscriber.Filter is not null)
            {
                later.Sent = new HashSet<string>(StringComparer.Ordinal);
            }

            if (later.Snapshot)
            {
                var rows = new List<Row>(raw.Count);
                foreach (var r in raw)
                {
                    if (Format(r) is not { } o || !Admits(subscriber, o))
                    {
                        continue;
                    }

                    var tagged = LaterSubscription.Tag(o, r, keys);
                    if (later.Sent is not null && LaterSubscription.RowId(tagged) is { } id)
                    {
                        later.Sent.Add(id);
                    }

                    rows.Add(later.Shape(tagged, tagged, null, strict: false));
                }

                SendReply(subscriber, later.SnapshotFrame(Name, null, rows));
            }

            if (!later.Updates)
            {
                return;
            }

            for (var i = 0; i < _log.Count; i++)
            {
                var e = _log[i];
                if (e.Sequence > sequence && e.Sequence > 0 && Format(e.Row) is { } o
                    && LaterUpdate(subscriber, later, e.Ref, e.Op, e.Row, o) is { } frame)
                {
                    subscriber.Session.TrySend(frame, Name);
                }
            }

            subscriber.SkipThrough = sequence;
            RegisterLocked(subscriber);
        }
    }
}
