using System.Buffers;
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
/// written inside the same transaction as the change, with its commit sequence number, so change logs
/// can be rebuilt exactly — deletes and intermediate states included — after a restart.
/// <para>
/// Storage: one record per table per committed batch in <c>_mkio_journal_batch</c> (<c>last</c> — the
/// record's newest sequence, the rowid —, <c>first</c>, <c>tbl</c>, <c>n</c>, and <c>events</c>, a JSON
/// array of <c>[seq, op, ref, row]</c> whose <c>row</c> is the row's wire JSON as a string: the same
/// bytes fan-out sends). One record per batch instead of one row per change halves the journal's cost
/// on the writer. <c>_mkio_journal</c> is a read-only view with one row per change
/// (<c>seq, tbl, op, ref, row</c>), for people and tools; a journal of one row per change written by
/// an earlier version is converted at start-up (<see cref="EnsureCreated"/>).
/// </para>
/// Pruned per table to what the services reading that table can still serve (<see cref="Retention"/>),
/// a whole record at a time: a table keeps at least its size and less than one more batch.
/// <c>_mkio_journal_state</c> keeps the highest sequence ever committed once journal records are
/// deleted (pruning, a dropped table's migration), so a sequence is never handed out twice, and
/// whether the journal was ever pruned.
/// </summary>
internal sealed class ChangeJournal : IDisposable
{
    /// <summary>The one-row-per-change view (a table in journals written before per-batch records).</summary>
    public const string TableName = "_mkio_journal";

    /// <summary>The journal's storage: one record per table per committed batch.</summary>
    public const string BatchTableName = "_mkio_journal_batch";

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

    /// <summary>Raises the high-water mark to the journal's current maximum (run before deleting journal rows; reads the view or a legacy table).</summary>
    public const string SaveHighWaterSql = "INSERT INTO " + StateTableName + " (key, value) SELECT '" + HighWaterKey + "', COALESCE(MAX(seq), 0) FROM " + TableName
        + " WHERE true ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)";

    private const string CreateBatchSql = "CREATE TABLE IF NOT EXISTS " + BatchTableName
        + " (last INTEGER PRIMARY KEY, first INTEGER NOT NULL, tbl TEXT NOT NULL, n INTEGER NOT NULL, events TEXT NOT NULL)";

    // json_extract rather than ->>: the view is part of the file's schema, and SQLite before 3.38 (older tools
    // opening the file) could not parse the operator, so the whole schema would fail to load there.
    private const string CreateViewSql = "CREATE VIEW IF NOT EXISTS " + TableName
        + " AS SELECT json_extract(e.value, '$[0]') AS seq, b.tbl AS tbl, json_extract(e.value, '$[1]') AS op, json_extract(e.value, '$[2]') AS ref, json_extract(e.value, '$[3]') AS row FROM "
        + BatchTableName + " AS b, json_each(b.events) AS e";

    /// <summary>A journal of one row per change (before per-batch records) becomes one record per change.</summary>
    private const string ConvertLegacySql = "INSERT INTO " + BatchTableName + " (last, first, tbl, n, events) SELECT seq, seq, tbl, 1, json_array(json_array(seq, op, ref, row)) FROM "
        + TableName + " ORDER BY seq; DROP TABLE " + TableName;

    private const int PruneEvery = 256;

    // Only `"`, `\` and control characters are escaped: the row's JSON stays readable inside the record.
    private static readonly JsonWriterOptions RecordWriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    private readonly IReadOnlyDictionary<string, int> _keep;
    private readonly Dictionary<string, RecordQueue> _retained = new(StringComparer.Ordinal);
    private readonly ArrayBufferWriter<byte> _buffer = new(16 * 1024);
    private readonly List<TableModel> _batchTables = [];
    private Utf8JsonWriter? _writer;
    private sqlite3_stmt? _insert;
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

    /// <summary>
    /// Creates the journal (records, view, state). A journal of one row per change written by an earlier
    /// version is converted in one transaction: every entry kept, with its sequence, so resume stays exact.
    /// </summary>
    public static void EnsureCreated(SqliteConnection connection)
    {
        bool legacy;
        using (var probe = connection.CreateCommand())
        {
            probe.CommandText = "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '" + TableName + "')";
            legacy = Convert.ToInt64(probe.ExecuteScalar(), CultureInfo.InvariantCulture) == 1;
        }

        using var tx = connection.BeginTransaction();
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = CreateBatchSql + "; " + CreateStateSql + (legacy ? "; " + ConvertLegacySql : string.Empty) + "; " + CreateViewSql;
        cmd.ExecuteNonQuery();
        tx.Commit();
    }

    /// <summary>
    /// The last commit sequence handed out: the journal's newest entry, or the high-water mark kept
    /// when newer entries were deleted (never lower than a sequence a client or listener saw).
    /// </summary>
    public static long MaxSequence(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = "SELECT MAX((SELECT COALESCE(MAX(last), 0) FROM " + BatchTableName + "), COALESCE((SELECT value FROM _mkio_journal_state WHERE key = '" + HighWaterKey + "'), 0))";
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>The ref of the newest journal entry of <paramref name="tables"/> with a sequence ≤ <paramref name="sequence"/>, or null.</summary>
    public static string? RefAtOrBefore(SqliteConnection connection, SqliteTransaction? transaction, IReadOnlyCollection<string> tables, long sequence)
    {
        using var cmd = RecordsCommand(connection, tables, "first <= $seq");
        cmd.Transaction = transaction;
        cmd.Parameters.AddWithValue("$seq", sequence);
        using var r = cmd.ExecuteReader();
        long best = -1;
        string? found = null;

        // Newest records first. A record that ends after the sequence but began at or before it (a table's
        // record of the batch the sequence is in) is searched; the first record that ends at or before it
        // ends the search.
        while (r.Read())
        {
            var last = r.GetInt64(0);
            if (last <= best)
            {
                break;
            }

            using (var doc = JsonDocument.Parse(r.GetString(2)))
            {
                // Only the sequences and the chosen ref are read: the rows stay unparsed.
                var pick = -1;
                var k = 0;
                foreach (var e in doc.RootElement.EnumerateArray())
                {
                    var seq = e[0].GetInt64();
                    if (seq <= sequence && seq > best)
                    {
                        best = seq;
                        pick = k;
                    }

                    k++;
                }

                if (pick >= 0)
                {
                    found = doc.RootElement[pick][2].GetString();
                }
            }

            if (last <= sequence)
            {
                break;
            }
        }

        return found;
    }

    /// <summary>
    /// True while the journal holds every change since it began: its oldest entry is sequence 1 and
    /// pruning never deleted an entry (deleting a dropped table's entries does not count).
    /// </summary>
    public static bool IsComplete(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT COALESCE((SELECT MIN(first) FROM " + BatchTableName + ") = 1, 0) AND NOT EXISTS (SELECT 1 FROM _mkio_journal_state WHERE key = '" + PrunedKey + "')";
        return Convert.ToInt64(cmd.ExecuteScalar() ?? 0L, CultureInfo.InvariantCulture) == 1;
    }

    /// <summary>Reads which records each table holds (start-up, and after a batch whose COMMIT failed).</summary>
    public void Load(sqlite3 db)
    {
        _retained.Clear();
        SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "SELECT last, tbl, n FROM " + BatchTableName + " ORDER BY last", out var stmt));
        using (stmt)
        {
            int rc;
            while ((rc = raw.sqlite3_step(stmt)) == raw.SQLITE_ROW)
            {
                Track(raw.sqlite3_column_text(stmt, 1).utf8_to_string(), raw.sqlite3_column_int64(stmt, 0), raw.sqlite3_column_int(stmt, 2));
            }

            if (rc != raw.SQLITE_DONE)
            {
                throw new MkioWriteException(SqliteErrors.LastMessage(db));
            }
        }

        _lastAppended = -1;
    }

    private void Track(string table, long last, int count)
    {
        if (!_retained.TryGetValue(table, out var q))
        {
            q = new RecordQueue();
            _retained[table] = q;
        }

        q.Enqueue(last, count);
    }

    /// <summary>
    /// Writer hook: appends the batch's events before COMMIT (same transaction), one record per table.
    /// Throws <see cref="JournalConflictException"/> when another connection wrote journal entries: the
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

        // The tables of this batch, in order of first appearance (almost always one).
        _batchTables.Clear();
        foreach (var e in events)
        {
            if (!Listed(_batchTables, e.Table))
            {
                _batchTables.Add(e.Table);
            }
        }

        foreach (var table in _batchTables)
        {
            WriteRecord(db, events, table, first);
        }

        _lastAppended = events[^1].Sequence;
        _sincePrune += events.Count;
        if (_sincePrune >= PruneEvery)
        {
            _sincePrune = 0;
            Prune(db, events[^1].Sequence);
        }
    }

    private static bool Listed(List<TableModel> tables, TableModel table)
    {
        foreach (var t in tables)
        {
            if (string.Equals(t.Name, table.Name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private void WriteRecord(sqlite3 db, IReadOnlyList<ChangeEvent> events, TableModel table, long batchFirst)
    {
        _buffer.ResetWrittenCount();
        if (_writer is null)
        {
            _writer = new Utf8JsonWriter(_buffer, RecordWriterOptions);
        }
        else
        {
            _writer.Reset(_buffer);
        }

        var w = _writer;
        long low = -1, high = -1;
        var count = 0;
        w.WriteStartArray();
        foreach (var e in events)
        {
            if (!string.Equals(e.Table.Name, table.Name, StringComparison.Ordinal))
            {
                continue;
            }

            low = low < 0 ? e.Sequence : low;
            high = e.Sequence;
            count++;
            w.WriteStartArray();
            w.WriteNumberValue(e.Sequence);
            w.WriteStringValue(e.Op);
            w.WriteStringValue(e.Ref);

            // The row's wire JSON, kept on the row: fan-out splices the same bytes into its frames.
            w.WriteStringValue(SubscriptionFrames.RowJson(e.Row));
            w.WriteEndArray();
        }

        w.WriteEndArray();
        w.Flush();

        if (_insert is null)
        {
            SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "INSERT INTO " + BatchTableName + " (last, first, tbl, n, events) VALUES (?, ?, ?, ?, ?)", out var ins));
            _insert = ins;
        }

        raw.sqlite3_bind_int64(_insert, 1, high);
        raw.sqlite3_bind_int64(_insert, 2, low);
        raw.sqlite3_bind_text(_insert, 3, table.Name);
        raw.sqlite3_bind_int(_insert, 4, count);
        raw.sqlite3_bind_text(_insert, 5, _buffer.WrittenSpan);
        var rc = Step(_insert);
        raw.sqlite3_clear_bindings(_insert);
        if (rc != raw.SQLITE_DONE)
        {
            var message = SqliteErrors.LastMessage(db);
            if (message.Contains("UNIQUE constraint failed: " + BatchTableName + ".last", StringComparison.Ordinal))
            {
                throw new JournalConflictException(Math.Max(CurrentMax(db), high), batchFirst - 1);
            }

            throw new MkioWriteException(message);
        }

        Track(table.Name, high, count);
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
            SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(last), 0) FROM " + BatchTableName, out var m));
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
    /// Deletes, per table, its oldest records while the rest still hold what its services keep (one range
    /// statement per table), and records the high-water mark and that the journal was pruned.
    /// </summary>
    private void Prune(sqlite3 db, long last)
    {
        if (_prune is null)
        {
            SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "DELETE FROM " + BatchTableName + " WHERE last >= ? AND last <= ? AND tbl = ?", out var pr));
            _prune = pr;
            SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "INSERT INTO " + StateTableName + " (key, value) VALUES ('" + HighWaterKey + "', ?), ('" + PrunedKey + "', 1) ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)", out var st));
            _saveState = st;
        }

        var pruned = false;
        foreach (var (table, q) in _retained)
        {
            var records = q.Droppable(_keep.GetValueOrDefault(table));
            if (records == 0)
            {
                continue;
            }

            raw.sqlite3_bind_int64(_prune, 1, q.Last(0));
            raw.sqlite3_bind_int64(_prune, 2, q.Last(records - 1));
            raw.sqlite3_bind_text(_prune, 3, table);
            if (Step(_prune) != raw.SQLITE_DONE)
            {
                throw new MkioWriteException(SqliteErrors.LastMessage(db));
            }

            q.Drop(records);
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

    /// <summary>The journal records of one table (newest sequence and entry count), oldest first.</summary>
    private sealed class RecordQueue
    {
        private (long Last, int Count)[] _items = new (long, int)[16];
        private int _head;
        private int _records;
        private long _entries;

        public long Last(int index) => _items[_head + index].Last;

        /// <summary>How many of the oldest records can go while at least <paramref name="keep"/> entries stay.</summary>
        public int Droppable(int keep)
        {
            var left = _entries;
            var k = 0;
            while (k < _records && left - _items[_head + k].Count >= keep)
            {
                left -= _items[_head + k].Count;
                k++;
            }

            return k;
        }

        public void Enqueue(long last, int count)
        {
            if (_head + _records == _items.Length)
            {
                if (_head > 0 && _records <= _items.Length / 2)
                {
                    Array.Copy(_items, _head, _items, 0, _records);
                }
                else
                {
                    var grown = new (long, int)[_items.Length * 2];
                    Array.Copy(_items, _head, grown, 0, _records);
                    _items = grown;
                }

                _head = 0;
            }

            _items[_head + _records] = (last, count);
            _records++;
            _entries += count;
        }

        public void Drop(int records)
        {
            for (var k = 0; k < records; k++)
            {
                _entries -= _items[_head + k].Count;
            }

            _head += records;
            _records -= records;
            if (_records == 0)
            {
                _head = 0;
            }
        }
    }

    public void Dispose()
    {
        _insert?.Dispose();
        _prune?.Dispose();
        _saveState?.Dispose();
        _max?.Dispose();
        _writer?.Dispose();
    }

    /// <summary>The records of <paramref name="tables"/> matching <paramref name="where"/>, newest first: <c>last, tbl, events</c>.</summary>
    private static SqliteCommand RecordsCommand(SqliteConnection connection, IReadOnlyCollection<string> tables, string where)
    {
        var cmd = connection.CreateCommand();
        var names = tables.Select((t, i) => "$t" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        cmd.CommandText = $"SELECT last, tbl, events FROM {BatchTableName} WHERE tbl IN ({string.Join(", ", names)}){(where.Length > 0 ? " AND " + where : string.Empty)} ORDER BY last DESC";
        var k = 0;
        foreach (var t in tables)
        {
            cmd.Parameters.AddWithValue(names[k++], t);
        }

        return cmd;
    }

    /// <summary>The events of one record: <c>[seq, op, ref, row]</c> each.</summary>
    private static List<(long Sequence, string Op, string Ref, string Row)> Events(string record)
    {
        var list = new List<(long, string, string, string)>();
        using var doc = JsonDocument.Parse(record);
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            list.Add((e[0].GetInt64(), e[1].GetString()!, e[2].GetString()!, e[3].GetString()!));
        }

        return list;
    }

    /// <summary>The newest <paramref name="limit"/> journal entries of <paramref name="tables"/>, oldest first.</summary>
    public static List<JournalEntry> Read(SqliteConnection connection, MkioModel model, IReadOnlyCollection<string> tables, int limit)
    {
        var result = new List<JournalEntry>();
        if (limit <= 0)
        {
            return result;
        }

        using var cmd = RecordsCommand(connection, tables, string.Empty);
        var schemas = new Dictionary<string, RowSchema>(StringComparer.Ordinal);
        var found = new List<(long Sequence, TableModel Table, string Op, string Ref, string Row)>();
        long floor = -1;
        using (var r = cmd.ExecuteReader())
        {
            // Newest records first; records of different tables from one batch interleave, so reading goes
            // on until a record ends below the oldest of the newest `limit` entries found so far.
            while (r.Read())
            {
                if (r.GetInt64(0) < floor)
                {
                    break;
                }

                if (!model.TablesByName.TryGetValue(r.GetString(1), out var tm))
                {
                    continue;
                }

                foreach (var (seq, op, @ref, row) in Events(r.GetString(2)))
                {
                    found.Add((seq, tm, op, @ref, row));
                }

                if (found.Count >= limit)
                {
                    found.Sort(static (a, b) => b.Sequence.CompareTo(a.Sequence));
                    found.RemoveRange(limit, found.Count - limit);
                    floor = found[^1].Sequence;
                }
            }
        }

        found.Sort(static (a, b) => a.Sequence.CompareTo(b.Sequence));
        foreach (var (seq, table, op, @ref, row) in found)
        {
            result.Add(new JournalEntry(seq, table, op, @ref, ParseRow(row, schemas)));
        }

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
