using Mkio.Data;
using Mkio.Model;

namespace Mkio.Changes;

/// <summary>
/// One committed change: the table, the op that produced it, the full affected row (from
/// <c>RETURNING *</c>, fix F3) and the transaction ref. Produced by the write batcher after COMMIT,
/// in commit order; shared read-only by every consumer. An <c>undo</c>/<c>redo</c> of a versioned table produces the
/// actual op with <see cref="Cause"/> set and the row as it was before in <see cref="Old"/>.
/// </summary>
internal sealed class ChangeEvent(TableModel table, string op, Row row, string @ref, long sequence, string? cause = null, Row? old = null)
{
    /// <summary>The <see cref="Cause"/> of a change made by an <c>undo</c> op.</summary>
    public const string Undo = "undo";

    /// <summary>The <see cref="Cause"/> of a change made by a <c>redo</c> op.</summary>
    public const string Redo = "redo";

    public TableModel Table { get; } = table;

    /// <summary><c>insert</c>, <c>update</c>, <c>delete</c> or <c>upsert</c>.</summary>
    public string Op { get; } = op;

    public Row Row { get; } = row;

    public string Ref { get; } = @ref;

    /// <summary>Commit sequence number: strictly increasing across the life of the database.</summary>
    public long Sequence { get; } = sequence;

    /// <summary><see cref="Undo"/> or <see cref="Redo"/> when a versioned table's undo/redo made the change, else null.
    /// Events replayed from the journal (after a restart) carry none.</summary>
    public string? Cause { get; } = cause;

    /// <summary>The pre-image of an undo/redo change (the row before it; null for a redo that rebuilt a row), else null.</summary>
    public Row? Old { get; } = old;
}

/// <summary>A change of the current request, kept until its SAVEPOINT is released (then it becomes a <see cref="ChangeEvent"/>).</summary>
internal readonly record struct PendingChange(TableModel Table, string Op, Row Row, string? Cause = null, Row? Old = null);

/// <summary>Receives committed changes. Implementations must not block: they enqueue and return.</summary>
internal interface IChangeListener
{
    /// <summary>The tables whose events this listener wants (null = all tables).</summary>
    IReadOnlyCollection<string>? Tables { get; }

    /// <summary>Called once per committed batch with that batch's events for the listener's tables, in commit order.</summary>
    void OnCommitted(IReadOnlyList<ChangeEvent> events);
}

/// <summary>
/// Hands committed change events to listeners (SERVICES.md §6). Publishing never blocks the writer
/// and never drops an event: each listener owns an unbounded queue, so back-pressure is applied per
/// connection further down, never by losing events for a whole service (fix F10).
/// </summary>
internal sealed class ChangeBus
{
    private readonly Lock _lock = new();
    private IChangeListener[] _listeners = [];

    public IDisposable Subscribe(IChangeListener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_lock)
        {
            _listeners = [.. _listeners, listener];
        }

        return new Subscription(this, listener);
    }

    /// <summary>Publishes one committed batch. Called only by the writer, after COMMIT.</summary>
    public void Publish(List<ChangeEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        var listeners = Volatile.Read(ref _listeners);
        foreach (var listener in listeners)
        {
            var tables = listener.Tables;
            if (tables is null)
            {
                listener.OnCommitted(events);
                continue;
            }

            // Null while every event so far is the listener's: then it gets the batch's own list.
            List<ChangeEvent>? mine = null;
            for (var i = 0; i < events.Count; i++)
            {
                var e = events[i];
                if (tables.Contains(e.Table.Name))
                {
                    mine?.Add(e);
                }
                else if (mine is null)
                {
                    mine = new List<ChangeEvent>(events.Count - 1);
                    for (var k = 0; k < i; k++)
                    {
                        mine.Add(events[k]);
                    }
                }
            }

            if (mine is null)
            {
                listener.OnCommitted(events);
            }
            else if (mine.Count > 0)
            {
                listener.OnCommitted(mine);
            }
        }
    }

    private void Remove(IChangeListener listener)
    {
        lock (_lock)
        {
            _listeners = [.. _listeners.Where(l => !ReferenceEquals(l, listener))];
        }
    }

    private sealed class Subscription(ChangeBus bus, IChangeListener listener) : IDisposable
    {
        public void Dispose() => bus.Remove(listener);
    }
}
