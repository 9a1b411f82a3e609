using Mkio.Data;
using Mkio.Later;
using Mkio.Protocol;

namespace Mkio.Services.Listeners;

/// <summary>
/// Later stream subscribes that page through the buffer instead of going live: forward (<c>maxcount</c>, from the
/// subscribe's ref cursor) and backward (<c>"before": true</c>, the rows just before the ref). Neither registers
/// anything; a client pages on by subscribing again with the returned <c>ref</c>, and goes live with a subscribe
/// without <c>maxcount</c>.
/// </summary>
internal sealed partial class StreamService
{
    protected override ValueTask SubscribeCoreAsync(Subscriber subscriber, string? clientRef, CancellationToken cancellationToken)
    {
        if (subscriber.Later is not { } later || (later.MaxCount is null && !later.Before))
        {
            return base.SubscribeCoreAsync(subscriber, clientRef, cancellationToken);
        }

        List<LogEntry> entries;
        lock (Gate)
        {
            entries = later.Before ? Before(clientRef) : CursorSelection(clientRef);
        }

        var selected = new List<(string Ref, Row Row)>(entries.Count);
        foreach (var e in entries)
        {
            if (Format(e.Row) is { } o && Admits(subscriber, o))
            {
                selected.Add((e.Ref, o));
            }
        }

        var max = later.MaxCount ?? selected.Count;
        var page = later.Before ? selected.GetRange(Math.Max(0, selected.Count - max), Math.Min(max, selected.Count)) : selected.GetRange(0, Math.Min(max, selected.Count));
        var hasMore = page.Count < selected.Count;
        var @ref = page.Count == 0 ? string.Empty : later.Before ? page[0].Ref : page[^1].Ref;
        var rows = new List<Row>(page.Count);
        foreach (var (_, row) in page)
        {
            rows.Add(later.Shape(row, row, null, strict: true));
        }

        SendReply(subscriber, later.SnapshotFrame(Name, @ref, rows, hasMore));
        return ValueTask.CompletedTask;
    }

    /// <summary>The 0.1.0 cursor rules: the entries after <paramref name="clientRef"/>, or the whole buffer. Under the gate.</summary>
    private List<LogEntry> CursorSelection(string? clientRef)
    {
        if (clientRef is not null && _buffer.ResumeFrom(clientRef) is { } after)
        {
            return after;
        }

        return All();
    }

    /// <summary>
    /// The entries before <paramref name="clientRef"/> (by position when the ref is in the buffer, else those whose ref
    /// sorts before it), or the whole buffer without a ref. Under the gate.
    /// </summary>
    private List<LogEntry> Before(string? clientRef)
    {
        var all = All();
        if (clientRef is null)
        {
            return all;
        }

        var exact = all.FindLastIndex(e => string.Equals(e.Ref, clientRef, StringComparison.Ordinal));
        return exact >= 0 ? all.GetRange(0, exact) : all.FindAll(e => MkioRef.Compare(e.Ref, clientRef) < 0);
    }

    private List<LogEntry> All()
    {
        var all = new List<LogEntry>(_buffer.Count);
        for (var i = 0; i < _buffer.Count; i++)
        {
            all.Add(_buffer[i]);
        }

        return all;
    }
}
