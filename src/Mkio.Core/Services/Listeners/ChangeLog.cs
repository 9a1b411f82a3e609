using Mkio.Data;

namespace Mkio.Services.Listeners;

/// <summary>One change-log (or stream buffer) entry: commit sequence, ref, op, the raw row and the undo/redo cause (or null).</summary>
internal readonly record struct LogEntry(long Sequence, string Ref, string Op, Row Row, string? Cause = null);

/// <summary>
/// A bounded, commit-ordered log of changes (SERVICES.md §8.2, §11). Resume positions are found by
/// exact ref match first and only then by ordinal ref comparison (fix F18), so client clocks cannot
/// hide changes. Not thread-safe: the owning service guards it.
/// </summary>
internal sealed class ChangeLog(int capacity)
{
    private readonly LogEntry[] _ring = new LogEntry[Math.Max(1, capacity)];
    private int _start;

    public int Count { get; private set; }

    public int Capacity => _ring.Length;

    public LogEntry this[int index] => _ring[(_start + index) % _ring.Length];

    public LogEntry First => this[0];

    public LogEntry Last => this[Count - 1];

    /// <summary>The newest ref, or <c>""</c> when empty.</summary>
    public string LastRef => Count == 0 ? string.Empty : Last.Ref;

    /// <summary>
    /// True once an entry was appended whose ref sorts before its predecessor's (client refs from
    /// skewed clocks): from then on ref order says nothing about commit order, so a resume ref that
    /// is not in the log cannot be placed and gets a snapshot (fix F18: never a partial delta).
    /// </summary>
    public bool OutOfOrder { get; private set; }

    public void Append(LogEntry entry)
    {
        if (Count > 0 && !OutOfOrder && MkioRef.Compare(entry.Ref, Last.Ref) < 0)
        {
            OutOfOrder = true;
        }

        if (Count < _ring.Length)
        {
            _ring[(_start + Count) % _ring.Length] = entry;
            Count++;
        }
        else
        {
            _ring[_start] = entry;
            _start = (_start + 1) % _ring.Length;
        }
    }

    public void Clear()
    {
        Array.Clear(_ring);
        _start = 0;
        Count = 0;
        OutOfOrder = false;
    }

    /// <summary>
    /// The entries a client resuming from <paramref name="clientRef"/> must receive, or null when the
    /// log cannot answer exactly (empty log, the ref is older than the oldest entry, or the ref is not
    /// in the log and the log's refs are not in commit order): then a full snapshot is due.
    /// </summary>
    public List<LogEntry>? ResumeFrom(string clientRef)
    {
        if (Count == 0)
        {
            return null;
        }

        for (var i = Count - 1; i >= 0; i--)
        {
            if (string.Equals(this[i].Ref, clientRef, StringComparison.Ordinal))
            {
                var exact = new List<LogEntry>(Count - i - 1);
                for (var j = i + 1; j < Count; j++)
                {
                    exact.Add(this[j]);
                }

                return exact;
            }
        }

        if (OutOfOrder || MkioRef.Compare(clientRef, First.Ref) < 0)
        {
            return null;
        }

        var later = new List<LogEntry>();
        for (var j = 0; j < Count; j++)
        {
            if (MkioRef.Compare(this[j].Ref, clientRef) > 0)
            {
                later.Add(this[j]);
            }
        }

        return later;
    }

    /// <summary>The ref of the newest entry with a sequence ≤ <paramref name="sequence"/>, or <c>""</c>.</summary>
    public string RefAtOrBefore(long sequence)
    {
        for (var i = Count - 1; i >= 0; i--)
        {
            if (this[i].Sequence <= sequence)
            {
                return this[i].Ref;
            }
        }

        return string.Empty;
    }

    /// <summary>Whether the log still holds every entry after <paramref name="sequence"/>.</summary>
    public bool CoversAfter(long sequence) => Count == 0 || First.Sequence <= sequence + 1 || Count < Capacity;
}
