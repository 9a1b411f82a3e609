using Mkio.Changes;
using Mkio.Data;
using Mkio.Model;
using Mkio.Storage;
using SQLitePCL;

namespace Mkio.Versioning;

/// <summary>Who and what a history row records: the transaction ref, the connection's user (or null) and the service.</summary>
internal readonly record struct HistoryContext(string Ref, string? User, string? Service);

/// <summary>
/// Records versions of versioned tables on the writer's connection, inside the request's SAVEPOINT (so a failed
/// request leaves no history), and runs the <c>undo</c>/<c>redo</c> op types (LATER.md §7.3–7.4). Every row it writes
/// or removes — base and history — is added to the request's pending change events.
/// </summary>
internal sealed class HistoryWriter(sqlite3 db, List<PendingChange> events) : IDisposable
{
    public const string NothingToUndo = "nothing to undo";
    public const string NothingToRedo = "nothing to redo";

    private readonly Dictionary<TableModel, Statements> _tables = [];
    private readonly Dictionary<OpModel, WriteBatcher.PreparedOp> _exists = [];

    /// <summary>A new row (insert, or an upsert that inserted): its key's old history is dropped, the row is version 1.</summary>
    public void Inserted(TableModel table, Row row, HistoryContext context)
    {
        var s = For(table);
        Change(table, s.DeleteHistory, "delete", Key(table, row));
        Record(table, s, row, Version(row), "insert", context);
    }

    /// <summary>
    /// An updated row: when a recorded column differs from the version at its cursor, the cursor moves up one, the redo
    /// branch above is cut and the new version recorded. Returns the row as it now is (with its new cursor).
    /// </summary>
    public Row Updated(TableModel table, Row row, HistoryContext context)
    {
        var s = For(table);
        var key = Key(table, row);
        var cursor = Version(row);
        var current = Run(s.SelectVersion, [.. key, cursor]);
        if (current.Count == 1 && SameRecorded(table, current[0], row))
        {
            return row;
        }

        var next = cursor + 1;
        Change(table, s.DeleteFrom, "delete", [.. key, next]);
        var updated = Run(s.SetVersion, [next, .. key]);
        Record(table, s, row, next, "update", context);
        return updated.Count == 1 ? updated[0] : row;
    }

    /// <summary>A deleted row: the key's whole history goes with it.</summary>
    public void Deleted(TableModel table, Row row)
    {
        Change(table, For(table).DeleteHistory, "delete", Key(table, row));
    }

    /// <summary>True when a row with the op's key values exists (decides whether an upsert inserts).</summary>
    public bool Exists(OpModel op, object?[] keyValues)
    {
        if (!_exists.TryGetValue(op, out var s))
        {
            var where = string.Join(" AND ", op.Key.Select(k => k + " = ?"));
            s = new WriteBatcher.PreparedOp(db, $"SELECT 1 FROM {op.Table.Name} WHERE {where}", []);
            _exists[op] = s;
        }

        return Run(s, keyValues).Count > 0;
    }

    /// <summary>
    /// <c>undo</c>: back to the version below the cursor (event <c>update</c>); at version 1 the row is deleted and its
    /// history kept (event <c>delete</c>); otherwise <see cref="NothingToUndo"/>. Returns the event (cause <c>undo</c>,
    /// the live row before as its pre-image).
    /// </summary>
    public PendingChange Undo(TableModel table, object?[] key, HistoryContext context)
    {
        var s = For(table);
        var live = Run(s.SelectBase, key);
        if (live.Count == 0)
        {
            throw new MkioWriteException(NothingToUndo);
        }

        var old = live[0];
        var cursor = Version(old);
        if (cursor > 1 && Run(s.SelectVersion, [.. key, cursor - 1]) is [var previous])
        {
            return new(table, "update", Restore(table, s, key, previous, cursor - 1, context), ChangeEvent.Undo, old);
        }

        if (cursor == 1)
        {
            return new(table, "delete", Run(s.DeleteBase, key)[0], ChangeEvent.Undo, old);
        }

        throw new MkioWriteException(NothingToUndo);
    }

    /// <summary>
    /// <c>redo</c>: forward to the version above the cursor (event <c>update</c>); a row undone past its first version is
    /// rebuilt at version 1 (event <c>insert</c>, no pre-image); otherwise <see cref="NothingToRedo"/>. Returns the
    /// event (cause <c>redo</c>).
    /// </summary>
    public PendingChange Redo(TableModel table, object?[] key, HistoryContext context)
    {
        var s = For(table);
        var live = Run(s.SelectBase, key);
        if (live.Count == 1)
        {
            var cursor = Version(live[0]);
            if (Run(s.SelectVersion, [.. key, cursor + 1]) is [var next])
            {
                return new(table, "update", Restore(table, s, key, next, cursor + 1, context), ChangeEvent.Redo, live[0]);
            }

            throw new MkioWriteException(NothingToRedo);
        }

        if (Run(s.SelectVersion, [.. key, 1L]) is [var first])
        {
            var values = new object?[table.Recorded.Length + 2];
            for (var i = 0; i < table.Recorded.Length; i++)
            {
                values[i] = first[i];
            }

            values[^2] = 1L;
            values[^1] = context.Ref;
            return new(table, "insert", Run(s.Rebuild, values)[0], ChangeEvent.Redo);
        }

        throw new MkioWriteException(NothingToRedo);
    }

    private static Row Restore(TableModel table, Statements s, object?[] key, Row version, long cursor, HistoryContext context)
    {
        var values = new List<object?>(table.Recorded.Length + 3);
        for (var i = 0; i < table.Recorded.Length; i++)
        {
            if (!table.Recorded[i].PrimaryKey)
            {
                values.Add(version[i]);
            }
        }

        values.Add(cursor);
        values.Add(context.Ref);
        values.AddRange(key);
        return Run(s.Restore, [.. values])[0];
    }

    private void Record(TableModel table, Statements s, Row row, long version, string op, HistoryContext context)
    {
        var values = new object?[5 + table.Recorded.Length];
        values[0] = version;
        values[1] = op;
        values[2] = context.Ref;
        values[3] = context.User;
        values[4] = context.Service;
        for (var i = 0; i < table.Recorded.Length; i++)
        {
            row.TryGetValue(table.Recorded[i].Name, out values[5 + i]);
        }

        Change(table, s.InsertHistory, "insert", values);
    }

    /// <summary>
    /// Runs a change to <paramref name="table"/>'s history. When a service follows the history table, the changed rows
    /// are read back (<c>RETURNING *</c>) and become events; otherwise the statement without <c>RETURNING</c> runs and
    /// nothing is read or materialised (the common case, and the write path's hot one).
    /// </summary>
    private void Change(TableModel table, HistoryStatement statement, string op, params object?[] args)
    {
        var history = table.History!;
        if (!history.Watched)
        {
            Run(statement.Quiet, args);
            return;
        }

        foreach (var r in Run(statement.Returning, args))
        {
            events.Add(new(history, op, r));
        }
    }

    /// <summary>The row's primary-key values, in key order.</summary>
    internal static object?[] Key(TableModel table, Row row)
    {
        var key = new object?[table.PrimaryKey.Length];
        for (var i = 0; i < key.Length; i++)
        {
            row.TryGetValue(table.PrimaryKey[i].Name, out key[i]);
        }

        return key;
    }

    /// <summary>The row's version (1 when it has none).</summary>
    internal static long Version(Row row) =>
        row.TryGetValue(VersionedSchema.VersionColumn, out var v) && v is long l ? l : 1L;

    /// <summary>True when every recorded column of <paramref name="row"/> equals the history row (recorded columns first, in order).</summary>
    internal static bool SameRecorded(TableModel table, Row history, Row row)
    {
        for (var i = 0; i < table.Recorded.Length; i++)
        {
            row.TryGetValue(table.Recorded[i].Name, out var value);
            if (!SameValue(history[i], value))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool SameValue(object? a, object? b) => a switch
    {
        null => b is null,
        byte[] x => b is byte[] y && x.AsSpan().SequenceEqual(y),
        _ => a.Equals(b),
    };

    /// <summary>Binds <paramref name="args"/>, steps to the end and returns the rows.</summary>
    private static List<Row> Run(WriteBatcher.PreparedOp s, params object?[] args)
    {
        s.Reset();
        for (var i = 0; i < args.Length; i++)
        {
            s.Bind(i + 1, args[i]);
        }

        return s.ReadAll();
    }

    private Statements For(TableModel table)
    {
        if (!_tables.TryGetValue(table, out var s))
        {
            s = new Statements(db, table);
            _tables[table] = s;
        }

        return s;
    }

    public void Dispose()
    {
        foreach (var s in _tables.Values)
        {
            s.Dispose();
        }

        foreach (var s in _exists.Values)
        {
            s.Dispose();
        }

        _tables.Clear();
        _exists.Clear();
    }

    /// <summary>The prepared statements of one versioned table.</summary>
    private sealed class Statements : IDisposable
    {
        public Statements(sqlite3 db, TableModel table)
        {
            var t = table.Name;
            var h = table.History!.Name;
            var pk = VersionedSchema.KeyWhere(table);
            var recorded = table.Recorded.Select(c => c.Name).ToArray();
            var cols = string.Join(", ", recorded);
            var v = VersionedSchema.VersionColumn;
            var r = MkioSchema.RefColumn;
            WriteBatcher.PreparedOp P(string sql) => new(db, sql, []);
            SelectBase = P($"SELECT * FROM {t} WHERE {pk}");
            SelectVersion = P($"SELECT {cols} FROM {h} WHERE {pk} AND {v} = ?");
            HistoryStatement H(string sql) => new(P(sql + " RETURNING *"), P(sql));
            DeleteHistory = H($"DELETE FROM {h} WHERE {pk}");
            DeleteFrom = H($"DELETE FROM {h} WHERE {pk} AND {v} >= ?");
            InsertHistory = H($"INSERT INTO {h} ({string.Join(", ", VersionedSchema.MetaColumns)}, {cols}) VALUES ({string.Join(", ", Enumerable.Repeat("?", 5 + recorded.Length))})");
            SetVersion = P($"UPDATE {t} SET {v} = ? WHERE {pk} RETURNING *");
            var set = table.Recorded.Where(c => !c.PrimaryKey).Select(c => c.Name + " = ?").Append(v + " = ?").Append(r + " = ?");
            Restore = P($"UPDATE {t} SET {string.Join(", ", set)} WHERE {pk} RETURNING *");
            Rebuild = P($"INSERT INTO {t} ({cols}, {v}, {r}) VALUES ({string.Join(", ", Enumerable.Repeat("?", recorded.Length + 2))}) RETURNING *");
            DeleteBase = P($"DELETE FROM {t} WHERE {pk} RETURNING *");
        }

        public WriteBatcher.PreparedOp SelectBase { get; }

        public WriteBatcher.PreparedOp SelectVersion { get; }

        public HistoryStatement DeleteHistory { get; }

        public HistoryStatement DeleteFrom { get; }

        public HistoryStatement InsertHistory { get; }

        public WriteBatcher.PreparedOp SetVersion { get; }

        public WriteBatcher.PreparedOp Restore { get; }

        public WriteBatcher.PreparedOp Rebuild { get; }

        public WriteBatcher.PreparedOp DeleteBase { get; }

        public void Dispose()
        {
            foreach (var s in new[] { SelectBase, SelectVersion, DeleteHistory.Returning, DeleteHistory.Quiet, DeleteFrom.Returning, DeleteFrom.Quiet, InsertHistory.Returning, InsertHistory.Quiet, SetVersion, Restore, Rebuild, DeleteBase })
            {
                s.Dispose();
            }
        }
    }

    /// <summary>One change to a history table, prepared twice: with <c>RETURNING *</c> (watched) and without.</summary>
    private sealed record HistoryStatement(WriteBatcher.PreparedOp Returning, WriteBatcher.PreparedOp Quiet);
}
