using Mkio.Data;
using Mkio.Later;
using Mkio.Protocol;
using Mkio.Sessions;

namespace Mkio.Services;

/// <summary>
/// Later subscriptions on listener services: frames with <c>subid</c> and <c>hasmore</c>, <c>fields</c> projection,
/// query row tags and filter-out deletes, and unsubscribe by group. 0.1.0 subscribers never reach this code.
/// </summary>
internal abstract partial class ListenerService
{
    /// <summary>
    /// Stream: the subscribe's <c>ref</c> is a cursor for later clients too, later frames carry <c>ref</c>, and the
    /// projection keeps exactly the listed fields. Subpub and query: later frames carry no <c>ref</c> and no delta is sent.
    /// </summary>
    protected virtual bool LaterKeepsRef => false;

    /// <summary>
    /// Subpub: handles a later subscribe that names <c>topic</c> (one row per topic, one entry per topic) and returns
    /// true; false for every other subscribe, which then takes the usual path.
    /// </summary>
    protected virtual bool TrySubscribeTopics(MkioSession session, Envelope envelope, LaterSubscription later) => false;

    private readonly ExpressionErrorLog _defaultsErrors = new("defaults");

    /// <summary>Counts (and, bounded, logs) a subpub <c>defaults</c> expression that failed on a missing topic's row (F1).</summary>
    protected void DefaultsFailed(Exception ex) => _defaultsErrors.Failed(this, ex);

    /// <summary>The entries in registration order. Under <see cref="Gate"/>.</summary>
    protected IReadOnlyList<Subscriber> SubscribersLocked => _subscribers;

    /// <summary>The key columns of the <c>_mkio_row</c> tag (query), or null when rows are not tagged.</summary>
    protected virtual string[]? RowKeyColumns => null;

    /// <summary>Removes this connection's entries of the group <paramref name="subId"/>; false when it has none left.</summary>
    public bool Unsubscribe(MkioSession session, string subId)
    {
        lock (Gate)
        {
            var left = false;
            for (var i = _subscribers.Count - 1; i >= 0; i--)
            {
                var s = _subscribers[i];
                if (!ReferenceEquals(s.Session, session))
                {
                    continue;
                }

                if (s.Later?.SubId == subId)
                {
                    _subscribers.RemoveAt(i);
                    Engine.Metrics.SubscriptionRemoved(Name);
                }
                else
                {
                    left = true;
                }
            }

            return left;
        }
    }

    /// <summary>The snapshot frame for one subscriber: the 0.1.0 shape, or the later one (shaped rows, <c>hasmore</c>, <c>subid</c>).</summary>
    protected byte[] SnapshotFor(Subscriber subscriber, string @ref, List<Row> rows)
    {
        if (subscriber.Later is not { } later)
        {
            return SubscriptionFrames.SnapshotFrame(Name, @ref, rows);
        }

        var shaped = new List<Row>(rows.Count);
        foreach (var r in rows)
        {
            shaped.Add(later.Shape(r, r, null, LaterKeepsRef));
        }

        return later.SnapshotFrame(Name, LaterKeepsRef ? @ref : null, shaped);
    }

    /// <summary>
    /// The update frame of one change for a later subscriber, or null when it gets nothing. A filtered, tagged
    /// (query) subscriber is told <c>op:"delete"</c> when a row it was sent stops matching its filter. An undo/redo
    /// change carries its <paramref name="cause"/>.
    /// </summary>
    protected byte[]? LaterUpdate(Subscriber s, LaterSubscription later, string @ref, string op, Row source, Row outgoing, string? cause = null)
    {
        var admits = Admits(s, outgoing);
        var keys = RowKeyColumns;
        if (keys is not null && s.Filter is not null)
        {
            var tagged = LaterSubscription.Tag(outgoing, source, keys);
            var id = LaterSubscription.RowId(tagged);
            if (admits)
            {
                if (id is not null)
                {
                    (later.Sent ??= []).Add(id);
                }
            }
            else if (id is not null && later.Sent?.Remove(id) == true)
            {
                op = "delete";
            }
            else
            {
                return null;
            }

            return later.UpdateFrame(Name, null, op, later.Shape(tagged, tagged, null, strict: false), cause);
        }

        if (!admits)
        {
            return null;
        }

        return later.UpdateFrame(Name, LaterKeepsRef ? @ref : null, op, later.Shape(outgoing, source, keys, LaterKeepsRef), cause);
    }

    /// <summary>
    /// <c>Unknown field: x. Available fields: …</c> for the first projected field that is not a column of the rows sent
    /// (the columns a filter may name; any <c>_mkio_</c> tag is accepted), or null.
    /// </summary>
    private string? UnknownProjectedField(LaterSubscription later)
    {
        if (later.Fields is not { Length: > 0 } fields || FilterColumns() is not { } columns)
        {
            return null;
        }

        foreach (var name in fields)
        {
            if (!columns.Contains(name) && !name.StartsWith("_mkio_", StringComparison.Ordinal))
            {
                return "Unknown field: " + name + Mkio.Model.ModelCompiler.AvailableTail("fields", name, columns);
            }
        }

        return null;
    }

    /// <summary>This connection's entry of group <paramref name="subId"/> whose query paging is in progress, or null. Under <see cref="Gate"/>.</summary>
    protected Subscriber? FindPagingLocked(MkioSession session, string subId) =>
        _subscribers.Find(s => ReferenceEquals(s.Session, session) && s.Later is { Paging: not null } l && l.SubId == subId);

    /// <summary>Every entry with a query paging in progress. Under <see cref="Gate"/>.</summary>
    protected IEnumerable<(MkioSession Session, string SubId, QueryPaging Paging)> PagingEntriesLocked() =>
        _subscribers.Where(s => s.Later is { Paging: not null, SubId: not null }).Select(s => (s.Session, s.Later!.SubId!, s.Later.Paging!));
}
