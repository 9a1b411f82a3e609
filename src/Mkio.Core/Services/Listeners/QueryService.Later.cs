using Mkio.Data;
using Mkio.Later;

namespace Mkio.Services.Listeners;

/// <summary>Later subscribes on a query service: <c>snapshot</c>/<c>updates</c> flags, row tags, projection, filter-out deletes.</summary>
internal sealed partial class QueryService
{
    /// <summary>A paging left without getmore for longer than this is dropped silently.</summary>
    internal static readonly TimeSpan PagingIdle = TimeSpan.FromSeconds(60);

    /// <summary>How often idle pagings are looked for (as the reference: every 10 s).</summary>
    internal static readonly TimeSpan PagingIdleCheck = TimeSpan.FromSeconds(10);

    private string[]? _rowKeys;
    private long _pagings;
    private ITimer? _idleTimer;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        ITimer? timer;
        lock (Gate)
        {
            timer = _idleTimer;
            _idleTimer = null;
        }

        if (timer is not null)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

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

        var (raw, sequence, _) = RowSnapshot();
        lock (Gate)
        {
            if (!_log.CoversAfter(sequence))
            {
                (raw, sequence, _) = RowSnapshot();
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

                if (later.MaxCount is { } max && rows.Count > max)
                {
                    // The first page; the rest waits for getmore, updates are buffered meanwhile (F9 as usual).
                    later.AssignSubId("_mkio_q_" + Interlocked.Increment(ref _pagings).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    later.Paging = new QueryPaging(new Queue<Row>(rows.Skip(max)), Math.Max(Model.MaxBuffer, rows.Count + max), Engine.Time.GetTimestamp());
                    _idleTimer ??= Engine.Time.CreateTimer(static s => ((QueryService)s!).DropIdlePagings(), this, PagingIdleCheck, PagingIdleCheck);
                    rows.RemoveRange(max, rows.Count - max);
                    SendReply(subscriber, later.SnapshotFrame(Name, null, rows, hasMore: true));
                }
                else
                {
                    SendReply(subscriber, later.SnapshotFrame(Name, null, rows));
                }
            }

            if (!later.Updates && later.Paging is null)
            {
                return;
            }

            for (var i = 0; i < _log.Count; i++)
            {
                var e = _log[i];
                if (e.Sequence > sequence && e.Sequence > 0 && Format(e.Row) is { } o
                    && LaterUpdate(subscriber, later, e.Ref, e.Op, e.Row, o, e.Cause) is { } frame)
                {
                    if (later.Paging is { } paging)
                    {
                        paging.Buffer(frame);
                    }
                    else
                    {
                        subscriber.Session.TrySend(frame, Name);
                    }
                }
            }

            subscriber.SkipThrough = sequence;
            RegisterLocked(subscriber);
        }
    }

    /// <summary>
    /// <c>{"type":"getmore","service":S,"subid":I}</c>: the next page of this connection's paging subscription I. The
    /// last page (<c>hasmore:false</c>) is followed by the buffered updates (to the client only), then the entry is live,
    /// or removed when it asked for no updates. Nacks: <c>missing subid</c>, <c>unknown subid</c>, and
    /// <c>subscription reset: update buffer overflow</c> (the entry is removed). Pagings idle for more than 60 s are
    /// dropped silently.
    /// </summary>
    public async ValueTask GetMoreAsync(Sessions.MkioSession session, System.Text.Json.JsonElement root, CancellationToken cancellationToken)
    {
        // Like a subscribe: changes committed before the getmore arrived are in the buffer (or the overflow) first.
        await CatchUpAsync(cancellationToken).ConfigureAwait(false);
        var subId = root.TryGetProperty("subid"u8, out var s) && s.ValueKind == System.Text.Json.JsonValueKind.String ? s.GetString() : null;
        if (subId is null)
        {
            SendNack(session, LaterSubscription.GetMoreNack(Name, "missing subid", null));
            return;
        }

        lock (Gate)
        {
            DropIdlePagingsLocked();
            var subscriber = FindPagingLocked(session, subId);
            if (subscriber?.Later is not { Paging: { } paging } later)
            {
                SendNack(session, LaterSubscription.GetMoreNack(Name, "unknown subid", subId));
                return;
            }

            if (paging.Overflowed)
            {
                Unsubscribe(session, subId);
                SendNack(session, LaterSubscription.GetMoreNack(Name, "subscription reset: update buffer overflow", subId));
                return;
            }

            paging.LastActivity = Engine.Time.GetTimestamp();
            var page = new List<Row>(Math.Min(later.MaxCount!.Value, paging.Remaining.Count));
            while (page.Count < later.MaxCount.Value && paging.Remaining.TryDequeue(out var row))
            {
                page.Add(row);
            }

            var hasMore = paging.Remaining.Count > 0;
            SendReply(subscriber, later.SnapshotFrame(Name, null, page, hasMore));
            if (hasMore)
            {
                return;
            }

            later.Paging = null;
            foreach (var frame in paging.Buffered)
            {
                session.TrySend(frame, Name);
            }

            if (!later.Updates)
            {
                Unsubscribe(session, subId);
            }
        }
    }

    private void SendNack(Sessions.MkioSession session, byte[] nack)
    {
        session.TrySend(nack, Name);
        NotifyOut(nack);
    }

    private void DropIdlePagings()
    {
        lock (Gate)
        {
            DropIdlePagingsLocked();
        }
    }

    /// <summary>Removes every paging entry (of any connection) idle for more than <see cref="PagingIdle"/>. Under the gate.</summary>
    private void DropIdlePagingsLocked()
    {
        var time = Engine.Time;
        foreach (var (session, subId) in PagingEntriesLocked().Where(e => time.GetElapsedTime(e.Paging.LastActivity) > PagingIdle).Select(e => (e.Session, e.SubId)).ToList())
        {
            Unsubscribe(session, subId);
        }
    }
}
