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
/// included — after a restart. Pruned to what services can still serve.
/// </summary>
internal sealed class ChangeJournal : IDisposable
{
    public const string TableName = "_mkio_journal";
    private const string CreateSql = "CREATE TABLE IF NOT EXISTS _mkio_journal (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, ref TEXT NOT NULL, row TEXT NOT NULL)";
    private readonly int _keep;
    private const int ChunkRows = 32;
    private readonly Dictionary<int, sqlite3_stmt> _inserts = [];
    private sqlite3_stmt? _prune;
    private long _sincePrune;

    public ChangeJournal(int keep) => _keep = Math.Max(keep, 1);

    public static void EnsureCreated(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = CreateSql;
        cmd.ExecuteNonQuery();
    }

    public static long MaxSequence(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = "SELECT COALESCE(MAX(seq), 0) FROM _mkio_journal";
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

    /// <summary>The oldest retained commit sequence (1 while the journal was never pruned), or 0 when empty.</summary>
    public static long MinSequence(SqliteConnection connection)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT COALESCE(MIN(seq), 0) FROM _mkio_journal";
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>Writer hook: appends the batch's events before COMMIT (same transaction).</summary>
    public void Append(sqlite3 db, IReadOnlyList<ChangeEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        if (_prune is null)
        {
            SqliteErrors.Check(db, raw.sqlite3_prepare_v2(db, "DELETE FROM _mkio_journal WHERE seq <= ?", out var pr));
            _prune = pr;
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
                var json = WireJson.Serialize(e.Row, static (w, r) => WireJson.WriteRow(w, r));
                var p = (k * 5) + 1;
                raw.sqlite3_bind_int64(stmt, p, e.Sequence);
                raw.sqlite3_bind_text(stmt, p + 1, e.Table.Name);
                raw.sqlite3_bind_text(stmt, p + 2, e.Op);
                raw.sqlite3_bind_text(stmt, p + 3, e.Ref);
                raw.sqlite3_bind_text(stmt, p + 4, json);
            }

            var rc = raw.sqlite3_step(stmt);
            raw.sqlite3_reset(stmt);
            for (var waited = 0; SqliteErrors.IsSharedCacheLock(rc) && SqliteErrors.BackOff(ref waited);)
            {
                rc = raw.sqlite3_step(stmt);
                raw.sqlite3_reset(stmt);
            }

            if (rc != raw.SQLITE_DONE)
            {
                throw new MkioWriteException(SqliteErrors.LastMessage(db));
            }
        }

        _sincePrune += events.Count;
        if (_sincePrune >= 256)
        {
            _sincePrune = 0;
            raw.sqlite3_reset(_prune!);
            raw.sqlite3_bind_int64(_prune!, 1, events[^1].Sequence - _keep);
            var rc = raw.sqlite3_step(_prune!);
            raw.sqlite3_reset(_prune!);
            for (var waited = 0; SqliteErrors.IsSharedCacheLock(rc) && SqliteErrors.BackOff(ref waited);)
            {
                rc = raw.sqlite3_step(_prune!);
                raw.sqlite3_reset(_prune!);
            }

            if (rc != raw.SQLITE_DONE)
            {
                throw new MkioWriteException(SqliteErrors.LastMessage(db));
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

    private static Row ParseRow(string json, Dictionary<string, RowSchema> schemas)
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

/// <summary>One journal entry read back at start-up.</summary>
internal sealed record JournalEntry(long Sequence, TableModel Table, string Op, string Ref, Row Row);
