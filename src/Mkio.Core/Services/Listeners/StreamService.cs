using Mkio.Changes;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Storage;

namespace Mkio.Services.Listeners;

/// <summary>
/// Stream (SERVICES.md §9): an append-only ring buffer of inserts with a ref cursor. Seeded from
/// the table itself (stored <c>_mkio_ref</c> values), so cursors survive restarts.
/// </summary>
internal sealed partial class StreamService(MkioEngine engine, ListenerServiceModel model) : ListenerService(engine, model)
{
    /// <inheritdoc/>
    protected override bool LaterKeepsRef => true;

    private readonly ChangeLog _buffer = new(model.BufferSize);

    public override int? CachedRows
    {
        get
        {
            lock (Gate)
            {
                return _buffer.Count;
            }
        }
    }

    protected override ChangeLog ResumeLog => _buffer;

    /// <summary>
    /// The order of the newest rows: by rowid, or — for a history table, which is clustered by (key, version) and has no
    /// rowid — by the ref (indexed; refs grow with commit order) and version.
    /// </summary>
    private string NewestFirst => Model.PrimaryTable.HistoryOf is null
        ? (Engine.PostgresReads is null ? "rowid DESC" : Storage.Postgres.PostgresReads.InsertionOrderDescending(Model.PrimaryTable))
        : $"{MkioSchema.RefColumn} DESC, {Versioning.VersionedSchema.VersionColumn} DESC";

    protected override void Load()
    {
        LoadedSequence = Engine.Position;
        var rows = Model.SqlHasJoin
            ? Engine.Reads.Query($"SELECT * FROM ({Model.Sql}) AS _q LIMIT $p1", Model.BufferSize)
            : Engine.Reads.Query($"{Model.Sql} ORDER BY {NewestFirst} LIMIT $p1", Model.BufferSize);
        if (!Model.SqlHasJoin)
        {
            rows.Reverse();
        }

        foreach (var row in rows)
        {
            var r = row.TryGetValue(MkioSchema.RefColumn, out var v) && v is string { Length: > 0 } s ? s : Engine.Refs.Next();
            _buffer.Append(new LogEntry(0, r, "insert", row));
        }
    }

    protected override string? Apply(ChangeEvent change)
    {
        if (change.Op != "insert")
        {
            return null;
        }

        var row = change.Row;
        if (Model.SqlHasJoin)
        {
            var rows = Engine.Reads.Query($"{Model.Sql} ORDER BY {NewestFirst} LIMIT 1");
            if (rows.Count > 0)
            {
                row = rows[0];
            }
        }

        _buffer.Append(new LogEntry(change.Sequence, change.Ref, "insert", row, change.Cause));
        FanOut(change.Sequence, change.Ref, "insert", row, change.Cause);
        return null; // fanned out here: the buffer row may differ from the event row
    }

    protected override Func<byte[]> CaptureReplyLocked(Subscriber subscriber, string? clientRef)
    {
        var entries = CursorSelection(clientRef);
        var lastRef = _buffer.LastRef;
        return () => SnapshotFor(subscriber, lastRef, Outgoing(subscriber, entries.Select(e => e.Row)));
    }
}
