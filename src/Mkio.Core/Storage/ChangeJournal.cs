using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Mkio.Changes;
using Mkio.Data;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Protocol.Json;
using SQLitePCL;

namespace Mkio.Storage;

/// <summary>
/// The durable change journal of fix F18: every committed change (table, op, full row, ref) is
/// written to <c>_mkio_journal</c> inside the same transaction as the change, with its commit
/// sequence number, so change logs can be rebuilt exactly — deletes and intermediate states
/// included — after a restart. Pruned per table to what the services reading that table can still
/// serve (<see cref="Retention"/>). <c>_mkio_journal_state</c> keeps the highest sequence ever
/// committed once journal rows are deleted (pruning, a dropped table's migration), so a sequence is
/// never handed out twice, and whether the journal was ever pruned.
/// </summary>
internal sealed class ChangeJournal : IDisposable
{
    public const string TableName = "_mkio_journal";

    /// <summary>Journal bookkeeping: <see cref="HighWaterKey"/> and <see cref="PrunedKey"/>.</summary>
    public const string StateTableName = "_mkio_journal_state";

    /// <summary>The highest sequence committed before journal rows were deleted.</summary>
    public const string HighWaterKey = "high_water";

    /// <summary>Present once pruning deleted journal rows.</summary>
    public const string PrunedKey = "pruned";

    /// <summary>Entries every table read by a service keeps at least, whatever its services' sizes.</summary>
    public const int MinimumKeep = 1000;

    /// <summary>Creates the state table (also run by migrations before they delete journal rows).</summary>
    public const string CreateStateSql = "CREATE TABLE IF NOT EXISTS " + StateTableName + " (key TEXT PRIMARY KEY, value INTEGER NOT NULL)";

    /// <summary>Raises the high-water mark to the journal's current maximum (run before deleting journal rows).</summary>
    public const string SaveHighWaterSql = "INSERT INTO " + StateTableName + " (key, value) SELECT '" + HighWaterKey + "', COALESCE(MAX(seq), 0) FROM " + TableName
        + " WHERE true ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)";

    private const string CreateSql = "CREATE TABLE IF NOT EXISTS _mkio_journal (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, ref TEXT NOT NULL, row TEXT NOT NULL)";
    private const int ChunkRows = 32;
    private const int PruneEvery = 256;
    private readonly IReadOnlyDictionary<string, int> _keep;
    private readonly Dictionary<int, sqlite3_stmt> _inserts = [];
    private readonly Dictionary<string, SequenceQueue> _retained = new(StringComparer.Ordinal);
    private sqlite3_stmt? _prune;
    private sqlite3_stmt? _saveState;
    private sqlite3_stmt? _max;
    private long _sincePrune;
    private long _lastAppended = -1;

    /// <param name="keep">Per table, the entries to keep (<see cref="Retention"/>); tables not listed keep none.</param>
    public ChangeJournal(IReadOnlyDictionary<string, int> keep) => _keep = keep;

    /// <summary>
    /// Per table, the entries its services can still serve: the largest <c>change_log_size</c> (subpub,
    /// query) or <c>buffer_size</c> (stream) among the services that read it (their watch tables), at
    /// least <see cref="MinimumKeep"/>; application-registered services keep <see cref="MinimumKeep"/>
    /// of theirs. Tables no service reads need no entries.
    /// </summary>
    public static Dictionary<string, int> Retention(MkioModel model)
    {
        var keep = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in model.Services)
        {
            var (tables, size) = s switch
            {
                ListenerServiceModel l => (l.WatchTables, l.Kind == ListenerKind.Stream ? l.BufferSize : l.ChangeLogSize),
                CustomServiceModel c => (c.WatchTables, 0),
                _ => ([], 0),
            };
            foreach (var t in tables)
            {
                keep[t] = Math.Max(keep.GetValueOrDefault(t), Math.Max(MinimumKeep, size));
            }
        }

        return keep;
    }

    public static void EnsureCreated(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = CreateSql + "; " + CreateStateSql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// The last commit sequence handed out: the journal's newest entry, or the high-water mark kept
    /// when newer entries were deleted (never lower than a sequence a client or listener saw).
    /// </summary>
    public static long MaxSequence(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = "SELECT MAX((SELECT COALESCE(MAX(seq), 0) FROM _mkio_journal), COALESCE((SELECT value FROM _mkio_journal_state WHERE key = '" + HighWaterKey + "'), 0))";
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>The ref of the newest journal entry of <paramref name="tables"/> with a sequence ≤ <paramref name="sequence"/>, or null.</summary>
    public static string? RefAtOrBefore(SqliteConnection connection, SqliteTransaction? transaction, IReadOnlyCollection<string> tables, long sequence)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        var names = tables.Select((t, i) => "$t" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        cmd.CommandText = $"SELECT ref FROM _mkio_journal WHERE seq <= $seq AND tbl IN ({string.Join(", ", names)}) ORDER BY seq DESC LIMIT 1";
        var k = 0;
        foreach (var t in tables)
        {
            cmd.Parameters.AddWithValue(names[k++], t);
        }

        cmd.Parameters.AddWithValue("$seq", sequence);
        return cmd.ExecuteScalar() as string;
    }

    /// <summary>
    /// True while the journal holds every change since it began: its oldest entry is sequence 1 and
    /// pruning never deleted an entry (deleting a dropped table's entries does not count).
    /// </summary>
    public static bool IsComplete(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT COALESCE((SELECT MIN(seq) FROM _mkio_journal) = 1, 0) AND NOT EXISTS (SELECT 1 FROM _mkio_journal_state WHERE key = '" + PrunedKey + "')";
        return Convert.ToInt64(cmd.ExecuteScalar() ?? 0L, CultureInfo.InvariantCulture) == 1;
    }

    /// <summary>Reads which sequences each table holds (start-up, and after a batch whose COMMIT failed).</summary>
    public void Load(sqlite3 db)
    {
        _retained.Clear();
        SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "SELECT seq, tbl FROM _mkio_journal ORDER BY seq", out var stmt));
        using (stmt)
        {
            int rc;
            while ((rc = raw.sqlite3_step(stmt)) == raw.SQLITE_ROW)
            {
                Track(raw.sqlite3_column_text(stmt, 1).utf8_to_string(), raw.sqlite3_column_int64(stmt, 0));
            }

            if (rc != raw.SQLITE_DONE)
            {
                throw new MkioWriteException(SqliteErrors.LastMessage(db));
            }
        }

        _lastAppended = -1;
    }

    private void Track(string table, long sequence)
    {
        if (!_retained.TryGetValue(table, out var q))
        {
            q = new SequenceQueue();
            _retained[table] = q;
        }

        q.Enqueue(sequence);
    }

    /// <summary>
    /// Writer hook: appends the batch's events before COMMIT (same transaction). Throws
    /// <see cref="JournalConflictException"/> when another connection wrote journal entries: the
    /// journal then holds a sequence at or above the batch's first one.
    /// </summary>
    public void Append(sqlite3 db, IReadOnlyList<ChangeEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        var first = events[0].Sequence;
        if (_lastAppended >= first)
        {
            // The previous batch's COMMIT failed (its sequences are handed out again): what the journal
            // really holds is read back.
            Load(db);
        }

        var found = CurrentMax(db);
        if (found >= first)
        {
            throw new JournalConflictException(found, first - 1);
        }

        // Multi-row INSERTs (up to ChunkRows events per statement): one statement execution per
        // chunk instead of one per change keeps the journal's cost on the writer low.
        for (var start = 0; start < events.Count; start += ChunkRows)
        {
            var rows = Math.Min(ChunkRows, events.Count - start);
            var stmt = InsertFor(db, rows);
            raw.sqlite3_reset(stmt);
            for (var k = 0; k < rows; k++)
            {
                var e = events[start + k];
                // The row's wire JSON, kept on the row: fan-out splices the same bytes into its frames.
                var json = SubscriptionFrames.RowJson(e.Row);
                var p = (k * 5) + 1;
                raw.sqlite3_bind_int64(stmt, p, e.Sequence);
                raw.sqlite3_bind_text(stmt, p + 1, e.Table.Name);
                raw.sqlite3_bind_text(stmt, p + 2, e.Op);
                raw.sqlite3_bind_text(stmt, p + 3, e.Ref);
                raw.sqlite3_bind_text(stmt, p + 4, json);
            }

            if (Step(stmt) != raw.SQLITE_DONE)
            {
                var message = SqliteErrors.LastMessage(db);
                if (message.Contains("UNIQUE constraint failed: _mkio_journal.seq", StringComparison.Ordinal))
                {
                    throw new JournalConflictException(Math.Max(CurrentMax(db), events[start].Sequence), first - 1);
                }

                throw new MkioWriteException(message);
            }
        }

        foreach (var e in events)
        {
            Track(e.Table.Name, e.Sequence);
        }

        _lastAppended = events[^1].Sequence;
        _sincePrune += events.Count;
        if (_sincePrune >= PruneEvery)
        {
            _sincePrune = 0;
            Prune(db, events[^1].Sequence);
        }
    }

    private static int Step(sqlite3_stmt stmt)
    {
        var rc = raw.sqlite3_step(stmt);
        raw.sqlite3_reset(stmt);
        for (var waited = 0; SqliteErrors.IsSharedCacheLock(rc) && SqliteErrors.BackOff(ref waited);)
        {
            rc = raw.sqlite3_step(stmt);
            raw.sqlite3_reset(stmt);
        }

        return rc;
    }

    private long CurrentMax(sqlite3 db)
    {
        if (_max is null)
        {
            SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(seq), 0) FROM _mkio_journal", out var m));
            _max = m;
        }

        var rc = raw.sqlite3_step(_max);
        for (var waited = 0; SqliteErrors.IsSharedCacheLock(rc) && SqliteErrors.BackOff(ref waited);)
        {
            raw.sqlite3_reset(_max);
            rc = raw.sqlite3_step(_max);
        }

        var max = rc == raw.SQLITE_ROW ? raw.sqlite3_column_int64(_max, 0) : -1;
        raw.sqlite3_reset(_max);
        if (max < 0)
        {
            throw new MkioWriteException(SqliteErrors.LastMessage(db));
        }

        return max;
    }

    /// <summary>
    /// Deletes, per table, the entries beyond what its services keep (each table's oldest: one range
    /// statement per table), and records the high-water mark and that the journal was pruned.
    /// </summary>
    private void Prune(sqlite3 db, long last)
    {
        if (_prune is null)
        {
            SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "DELETE FROM _mkio_journal WHERE seq >= ? AND seq <= ? AND tbl = ?", out var pr));
            _prune = pr;
            SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "INSERT INTO " + StateTableName + " (key, value) VALUES ('" + HighWaterKey + "', ?), ('" + PrunedKey + "', 1) ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)", out var st));
            _saveState = st;
        }

        var pruned = false;
        foreach (var (table, q) in _retained)
        {
            var excess = q.Count - _keep.GetValueOrDefault(table);
            if (excess <= 0)
            {
                continue;
            }

            raw.sqlite3_bind_int64(_prune, 1, q.Peek(0));
            raw.sqlite3_bind_int64(_prune, 2, q.Peek(excess - 1));
            raw.sqlite3_bind_text(_prune, 3, table);
            if (Step(_prune) != raw.SQLITE_DONE)
            {
                throw new MkioWriteException(SqliteErrors.LastMessage(db));
            }

            q.Drop(excess);
            pruned = true;
        }

        if (pruned)
        {
            raw.sqlite3_bind_int64(_saveState!, 1, last);
            if (Step(_saveState!) != raw.SQLITE_DONE)
            {
                throw new MkioWriteException(SqliteErrors.LastMessage(db));
            }
        }
    }

    /// <summary>The journal sequences of one table, oldest first.</summary>
    private sealed class SequenceQueue
    {
        private long[] _items = new long[16];
        private int _head;

        public int Count { get; private set; }

        public long Peek(int index) => _items[_head + index];

        public void Enqueue(long sequence)
        {
            if (_head + Count == _items.Length)
            {
                if (_head > 0 && Count <= _items.Length / 2)
                {
                    Array.Copy(_items, _head, _items, 0, Count);
                }
                else
                {
                    var grown = new long[_items.Length * 2];
                    Array.Copy(_items, _head, grown, 0, Count);
                    _items = grown;
                }

                _head = 0;
            }

            _items[_head + Count] = sequence;
            Count++;
        }

        public void Drop(int count)
        {
            _head += count;
            Count -= count;
            if (Count == 0)
            {
                _head = 0;
            }
        }
    }

    private sqlite3_stmt InsertFor(sqlite3 db, int rows)
    {
        if (!_inserts.TryGetValue(rows, out var stmt))
        {
            var sql = "INSERT INTO _mkio_journal (seq, tbl, op, ref, row) VALUES " + string.Join(", ", Enumerable.Repeat("(?, ?, ?, ?, ?)", rows));
            SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, sql, out stmt));
            _inserts[rows] = stmt;
        }

        return stmt;
    }

    public void Dispose()
    {
        foreach (var s in _inserts.Values)
        {
            s.Dispose();
        }

        _inserts.Clear();
        _prune?.Dispose();
        _saveState?.Dispose();
        _max?.Dispose();
    }

    /// <summary>The newest <paramref name="limit"/> journal entries of <paramref name="tables"/>, oldest first.</summary>
    public static List<JournalEntry> Read(SqliteConnection connection, MkioModel model, IReadOnlyCollection<string> tables, int limit)
    {
        using var cmd = connection.CreateCommand();
        var names = tables.Select((t, i) => "$t" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        cmd.CommandText = $"SELECT seq, tbl, op, ref, row FROM _mkio_journal WHERE tbl IN ({string.Join(", ", names)}) ORDER BY seq DESC LIMIT $limit";
        var k = 0;
        foreach (var t in tables)
        {
            cmd.Parameters.AddWithValue(names[k++], t);
        }

        cmd.Parameters.AddWithValue("$limit", limit);
        var result = new List<JournalEntry>();
        var schemas = new Dictionary<string, RowSchema>(StringComparer.Ordinal);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var table = r.GetString(1);
            if (!model.TablesByName.TryGetValue(table, out var tm))
            {
                continue;
            }

            result.Add(new JournalEntry(r.GetInt64(0), tm, r.GetString(2), r.GetString(3), ParseRow(r.GetString(4), schemas)));
        }

        result.Reverse();
        return result;
    }

    /// <summary>
    /// A JSON number as SQLite gave it: integer text → <see cref="long"/>, float text → <see cref="double"/>
    /// (boxed separately: a conditional of long and double would widen the integer to double).
    /// </summary>
    private static object ParseNumber(JsonElement value)
    {
        if (value.GetRawText().AsSpan().IndexOfAny('.', 'e', 'E') < 0 && value.TryGetInt64(out var l))
        {
            return l;
        }

        return value.GetDouble();
    }

    internal static Row ParseRow(string json, Dictionary<string, RowSchema> schemas)
    {
        // Journal rows are wire JSON, which writes non-finite floats as bare NaN/Infinity/-Infinity
        // (PROTOCOL.md §2); System.Text.Json rejects them, so those rows are parsed through the scanner.
        NonFiniteJson? nonFinite = null;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            nonFinite = NonFiniteJson.Scan(json);
            doc = JsonDocument.Parse(nonFinite.Text);
        }

        var names = new List<string>();
        var values = new List<object?>();
        using (doc)
        {
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                names.Add(p.Name);
                values.Add(p.Value.ValueKind switch
                {
                    JsonValueKind.String when nonFinite is not null && nonFinite.TryGetMarkedValue(p.Value.GetString()!, out var d) => d,
                    JsonValueKind.String => p.Value.GetString(),
                    JsonValueKind.Number => ParseNumber(p.Value),
                    JsonValueKind.True => 1L,
                    JsonValueKind.False => 0L,
                    _ => null,
                });
            }
        }

        var key = string.Join('\u0001', names);
        if (!schemas.TryGetValue(key, out var schema))
        {
            schema = new RowSchema(names);
            schemas[key] = schema;
        }

        return new Row(schema, [.. values]);
    }
}

/// <summary>
/// Another connection or process wrote to the change journal: it holds sequence <paramref name="found"/>
/// while this writer's last commit is <paramref name="position"/>.
/// </summary>
internal sealed class JournalConflictException(long found, long position)
    : MkioWriteException($"Writes are stopped: another process wrote to this database's change journal (sequence {found.ToString(CultureInfo.InvariantCulture)}); only one mkio server may use a database file, restart this one")
{
    public long Found { get; } = found;

    public long Position { get; } = position;
}

/// <summary>One journal entry read back at start-up.</summary>
internal sealed record JournalEntry(long Sequence, TableModel Table, string Op, string Ref, Row Row)
{
    /// <summary>The undo/redo cause (PostgreSQL journal only; null otherwise).</summary>
    public string? Cause { get; init; }

    /// <summary>The undo/redo pre-image (PostgreSQL journal only; null otherwise).</summary>
    public Row? Old { get; init; }
}
