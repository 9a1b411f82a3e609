using Microsoft.Data.Sqlite;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Storage;

namespace Mkio.Services.Listeners;

/// <summary>
/// Query (SERVICES.md §10): snapshots read from SQLite on subscribe, a change log for delta resume,
/// and the live change feed. The snapshot is read outside the service lock in one read transaction
/// together with the journal's commit sequence, so the subscriber is registered exactly at the
/// snapshot's position: no change lost or duplicated (F9).
/// </summary>
internal sealed class QueryService(MkioEngine engine, ListenerServiceModel model) : ListenerService(engine, model)
{
    private readonly ChangeLog _log = new(model.ChangeLogSize);

    protected override void Load()
    {
        LoadedSequence = Engine.Writer.Sequence;

        // As live (Apply): with a JOIN, changes of the secondary tables are not logged.
        SeedLog(_log, null, Model.SqlHasJoin ? [Model.PrimaryTable.Name] : null);
    }

    protected override string? Apply(ChangeEvent change)
    {
        if (change.Table.Name != Model.PrimaryTable.Name && Model.SqlHasJoin)
        {
            return null;
        }

        _log.Append(new LogEntry(change.Sequence, change.Ref, change.Op, change.Row));
        return change.Op;
    }

    protected override void Subscribe(Subscriber subscriber, string? clientRef)
    {
        if (clientRef is not null)
        {
            lock (Gate)
            {
                if (_log.ResumeFrom(clientRef) is { } entries)
                {
                    SendReply(subscriber, SubscriptionFrames.DeltaFrame(Name, _log.LastRef, OutgoingChanges(subscriber, entries)));
                    RegisterLocked(subscriber);
                    return;
                }
            }
        }

        // Read the snapshot, the commit sequence it reflects and that position's ref in one read transaction.
        var (rows, sequence, snapshotRef) = Engine.Database.Read(ReadSnapshot);
        var outgoing = Outgoing(subscriber, rows);

        // Serialise a (possibly large) snapshot before taking the lock, so live fan-out and other
        // subscribers do not wait behind it; only when the ref must come from the log is it built inside.
        var frame = snapshotRef is not null ? SubscriptionFrames.SnapshotFrame(Name, snapshotRef, outgoing) : null;
        lock (Gate)
        {
            if (!_log.CoversAfter(sequence))
            {
                // Too many changes since the read to replay exactly: read again under the lock.
                (rows, sequence, snapshotRef) = Engine.Database.Read(ReadSnapshot);
                outgoing = Outgoing(subscriber, rows);
                frame = null;
            }

            // The snapshot may hold changes the loop has not logged yet: its ref comes from the
            // journal position it was read at, so a resume from it neither repeats nor skips (F9, F18).
            SendReply(subscriber, frame ?? SubscriptionFrames.SnapshotFrame(Name, snapshotRef ?? _log.RefAtOrBefore(sequence), outgoing));

            // Changes committed after the snapshot that the loop already fanned out: replay them.
            for (var i = 0; i < _log.Count; i++)
            {
                var e = _log[i];
                if (e.Sequence > sequence && e.Sequence > 0 && Format(e.Row) is { } o && Admits(subscriber, o))
                {
                    subscriber.Session.TrySend(SubscriptionFrames.UpdateFrame(Name, e.Ref, e.Op, o), Name);
                }
            }

            subscriber.SkipThrough = sequence;
            RegisterLocked(subscriber);
        }
    }

    protected override void SubscribeLocked(Subscriber subscriber, string? clientRef) =>
        throw new NotSupportedException("Query subscriptions use Subscribe.");

    private (List<Row> Rows, long Sequence, string? Ref) ReadSnapshot(SqliteConnection connection)
    {
        using var tx = connection.BeginTransaction(deferred: true);
        var rows = MkioDatabase.Query(connection, Model.Sql, tx);
        var sequence = ChangeJournal.MaxSequence(connection, tx);
        var @ref = ChangeJournal.RefAtOrBefore(connection, tx, Model.SqlHasJoin ? [Model.PrimaryTable.Name] : Model.WatchTables, sequence);
        tx.Commit();
        return (rows, Math.Max(sequence, 0), @ref);
    }
}
