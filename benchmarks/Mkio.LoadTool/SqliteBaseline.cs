using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Mkio.LoadTool;

/// <summary>What the raw SQLite baseline measured.</summary>
internal sealed record BaselineResult(int BatchSize, double Seconds, long Requests, TimeSpan Cpu, double[] BatchDurations)
{
    public double RequestsPerSecond => Requests / Seconds;
}

/// <summary>
/// The same rows as the server's <c>orders.new</c>, written straight through Microsoft.Data.Sqlite on
/// one thread: a temp WAL database with the order-book schema (plus the <c>_mkio_ref</c> column and
/// index mkio adds), the original mkio's pragmas (64 MB page cache; the server's writer keeps 8 MB), and per request
/// <c>SAVEPOINT; INSERT INTO orders … RETURNING *; INSERT INTO audit_log … RETURNING *; RELEASE</c>
/// with one COMMIT per batch. No network, no JSON, no queues: the ceiling the server is compared to.
/// </summary>
internal static class SqliteBaseline
{
    private static readonly string[] Symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "IBM"];
    private static readonly string[] OrderColumns = ["id", "side", "symbol", "qty", "price", "status", "_mkio_ref"];
    private static readonly string[] AuditColumns = ["id", "event", "order_id", "status", "_mkio_ref"];

    public static BaselineResult Run(int batchSize, double warmupSeconds, double seconds, long count, int? autoCheckpoint = null, int journalKeep = 0)
    {
        var dir = Path.Combine(Path.GetTempPath(), "mkio-baseline-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(dir, "baseline.db"),
                Pooling = false,
            }.ToString());
            connection.Open();
            Exec(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-64000; PRAGMA busy_timeout=5000;");
            if (autoCheckpoint is { } pages)
            {
                Exec(connection, "PRAGMA wal_autocheckpoint=" + pages.ToString(CultureInfo.InvariantCulture) + ";");
            }
            Exec(connection, """
                CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, side TEXT NOT NULL, symbol TEXT NOT NULL, qty INTEGER, price REAL DEFAULT 0, status TEXT DEFAULT 'pending', _mkio_ref TEXT DEFAULT '');
                CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT, order_id INTEGER, status TEXT, _mkio_ref TEXT DEFAULT '');
                CREATE INDEX IF NOT EXISTS _mkio_ref_idx_orders ON orders(_mkio_ref);
                CREATE INDEX IF NOT EXISTS _mkio_ref_idx_audit_log ON audit_log(_mkio_ref);
                CREATE TABLE IF NOT EXISTS _mkio_journal_batch (last INTEGER PRIMARY KEY, first INTEGER NOT NULL, tbl TEXT NOT NULL, n INTEGER NOT NULL, events TEXT NOT NULL);
                """);

            using var writer = new Writer(connection, journalKeep);
            if (warmupSeconds > 0)
            {
                writer.RunFor(batchSize, TimeSpan.FromSeconds(Math.Min(warmupSeconds, 2)), 0);
                writer.Durations.Clear();
            }

            var me = Process.GetCurrentProcess();
            var cpu0 = me.TotalProcessorTime;
            var t0 = Stopwatch.GetTimestamp();
            var done = writer.RunFor(batchSize, TimeSpan.FromSeconds(seconds), count);
            var elapsed = Stopwatch.GetElapsedTime(t0);
            me.Refresh();
            var cpu = me.TotalProcessorTime - cpu0;
            Exec(connection, "PRAGMA wal_checkpoint(TRUNCATE);");
            var durations = writer.Durations.ToArray();
            Array.Sort(durations);
            return new BaselineResult(batchSize, elapsed.TotalSeconds, done, cpu, durations);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }

    private static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Prepared commands with their parameters, reused for every request.</summary>
    private sealed class Writer : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly SqliteCommand _begin;
        private readonly SqliteCommand _commit;
        private readonly SqliteCommand _savepoint;
        private readonly SqliteCommand _release;
        private readonly SqliteCommand _order;
        private readonly SqliteCommand _audit;
        private readonly SqliteParameter _side;
        private readonly SqliteParameter _symbol;
        private readonly SqliteParameter _qty;
        private readonly SqliteParameter _price;
        private readonly SqliteParameter _orderRef;
        private readonly SqliteParameter _orderId;
        private readonly SqliteParameter _status;
        private readonly SqliteParameter _auditRef;
        private readonly SqliteCommand _journal;
        private readonly SqliteCommand _prune;
        private readonly SqliteParameter _journalLast;
        private readonly SqliteParameter _journalFirst;
        private readonly SqliteParameter _journalTable;
        private readonly SqliteParameter _journalCount;
        private readonly SqliteParameter _journalEvents;
        private readonly Record _orderEvents = new();
        private readonly Record _auditEvents = new();
        private readonly SqliteParameter _pruneBelow;
        private readonly int _journalKeep;
        private readonly ArrayBufferWriter<byte> _json = new(512);
        private readonly Utf8JsonWriter _jsonWriter;
        private long _sincePrune;
        private readonly object?[] _orderRow = new object?[7];
        private readonly object?[] _auditRow = new object?[5];
        private long _sequence;

        /// <summary>Wall time (ms) of each batch, BEGIN to COMMIT.</summary>
        public List<double> Durations { get; } = [];

        public Writer(SqliteConnection connection, int journalKeep)
        {
            _connection = connection;
            _journalKeep = journalKeep;
            _jsonWriter = new Utf8JsonWriter(_json);
            _journal = Command("INSERT INTO _mkio_journal_batch (last, first, tbl, n, events) VALUES ($last, $first, $tbl, $n, $events)");
            _journalLast = _journal.Parameters.Add("$last", SqliteType.Integer);
            _journalFirst = _journal.Parameters.Add("$first", SqliteType.Integer);
            _journalTable = _journal.Parameters.Add("$tbl", SqliteType.Text);
            _journalCount = _journal.Parameters.Add("$n", SqliteType.Integer);
            _journalEvents = _journal.Parameters.Add("$events", SqliteType.Text);
            _prune = Command("DELETE FROM _mkio_journal_batch WHERE last <= $below");
            _pruneBelow = _prune.Parameters.Add("$below", SqliteType.Integer);
            _begin = Command("BEGIN");
            _commit = Command("COMMIT");
            _savepoint = Command("SAVEPOINT req");
            _release = Command("RELEASE req");
            _order = Command("INSERT INTO orders (side, symbol, qty, price, _mkio_ref) VALUES ($side, $symbol, $qty, $price, $ref) RETURNING *");
            _side = _order.Parameters.Add("$side", SqliteType.Text);
            _symbol = _order.Parameters.Add("$symbol", SqliteType.Text);
            _qty = _order.Parameters.Add("$qty", SqliteType.Integer);
            _price = _order.Parameters.Add("$price", SqliteType.Real);
            _orderRef = _order.Parameters.Add("$ref", SqliteType.Text);
            _audit = Command("INSERT INTO audit_log (event, order_id, status, _mkio_ref) VALUES ('new', $order_id, $status, $ref) RETURNING *");
            _orderId = _audit.Parameters.Add("$order_id", SqliteType.Integer);
            _status = _audit.Parameters.Add("$status", SqliteType.Text);
            _auditRef = _audit.Parameters.Add("$ref", SqliteType.Text);
            foreach (var c in new[] { _begin, _commit, _savepoint, _release, _order, _audit, _journal, _prune })
            {
                c.Prepare();
            }
        }

        private SqliteCommand Command(string sql)
        {
            var c = _connection.CreateCommand();
            c.CommandText = sql;
            return c;
        }

        /// <summary>Writes whole batches until <paramref name="duration"/> has passed (or <paramref name="count"/> requests, if positive).</summary>
        public long RunFor(int batchSize, TimeSpan duration, long count)
        {
            var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            long done = 0;
            while (count > 0 ? done < count : Stopwatch.GetTimestamp() < end)
            {
                var n = count > 0 ? (int)Math.Min(batchSize, count - done) : batchSize;
                var started = Stopwatch.GetTimestamp();
                _begin.ExecuteNonQuery();
                for (var i = 0; i < n; i++)
                {
                    Request();
                }

                if (_journalKeep > 0)
                {
                    WriteRecord("orders", _orderEvents);
                    WriteRecord("audit_log", _auditEvents);
                    Prune();
                }

                _commit.ExecuteNonQuery();
                Durations.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                done += n;
            }

            return done;
        }

        private void Request()
        {
            var seq = ++_sequence;

            // A ref string per request, as the server's writer generates one.
            var @ref = "20260101 00:00:00." + seq.ToString("D12", CultureInfo.InvariantCulture);
            _savepoint.ExecuteNonQuery();
            _side.Value = (seq & 1) == 0 ? "Buy" : "Sell";
            _symbol.Value = Symbols[seq % Symbols.Length];
            _qty.Value = 100 + (seq % 32);
            _price.Value = 101.25;
            _orderRef.Value = @ref;
            using (var r = _order.ExecuteReader())
            {
                r.Read();
                r.GetValues(_orderRow);
            }

            _orderId.Value = _orderRow[0];
            _status.Value = _orderRow[5];
            _auditRef.Value = @ref;
            using (var r = _audit.ExecuteReader())
            {
                r.Read();
                r.GetValues(_auditRow);
            }

            _release.ExecuteNonQuery();
            if (_journalKeep > 0)
            {
                // What the server's change journal (fix F18) adds: each change row as JSON, collected per table
                // and written as one record per table per batch before COMMIT (same transaction).
                Journal(_orderEvents, @ref, OrderColumns, _orderRow, 2 * seq - 1);
                Journal(_auditEvents, @ref, AuditColumns, _auditRow, 2 * seq);
            }
        }

        private void Journal(Record record, string @ref, string[] names, object?[] row, long seq)
        {
            _json.ResetWrittenCount();
            _jsonWriter.Reset(_json);
            _jsonWriter.WriteStartObject();
            for (var i = 0; i < row.Length; i++)
            {
                _jsonWriter.WritePropertyName(names[i]);
                switch (row[i])
                {
                    case long l: _jsonWriter.WriteNumberValue(l); break;
                    case double d: _jsonWriter.WriteNumberValue(d); break;
                    case string s: _jsonWriter.WriteStringValue(s); break;
                    default: _jsonWriter.WriteNullValue(); break;
                }
            }

            _jsonWriter.WriteEndObject();
            _jsonWriter.Flush();
            record.Add(seq, @ref, _json.WrittenSpan);
            _sincePrune += 1;
        }

        private void WriteRecord(string table, Record record)
        {
            if (record.Count == 0)
            {
                return;
            }

            _journalLast.Value = record.Last;
            _journalFirst.Value = record.First;
            _journalTable.Value = table;
            _journalCount.Value = record.Count;
            _journalEvents.Value = record.Take();
            _journal.ExecuteNonQuery();
        }

        /// <summary>One table's events of a batch as the server's journal record holds them: <c>[[seq, op, ref, row], …]</c>.</summary>
        private sealed class Record : IDisposable
        {
            private static readonly JsonWriterOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
            private readonly ArrayBufferWriter<byte> _buffer = new(16 * 1024);
            private readonly Utf8JsonWriter _writer;

            public Record() => _writer = new Utf8JsonWriter(_buffer, Options);

            public long First { get; private set; }

            public long Last { get; private set; }

            public int Count { get; private set; }

            public void Add(long seq, string @ref, ReadOnlySpan<byte> row)
            {
                if (Count == 0)
                {
                    First = seq;
                    _writer.WriteStartArray();
                }

                Last = seq;
                Count++;
                _writer.WriteStartArray();
                _writer.WriteNumberValue(seq);
                _writer.WriteStringValue("insert"u8);
                _writer.WriteStringValue(@ref);
                _writer.WriteStringValue(row);
                _writer.WriteEndArray();
            }

            public void Dispose() => _writer.Dispose();

            /// <summary>The record's text; the next batch starts a new one.</summary>
            public string Take()
            {
                _writer.WriteEndArray();
                _writer.Flush();
                var text = Encoding.UTF8.GetString(_buffer.WrittenSpan);
                _buffer.ResetWrittenCount();
                _writer.Reset(_buffer);
                Count = 0;
                return text;
            }
        }


        /// <summary>The server prunes the journal every max(1000, keep / 4) events down to the newest keep.</summary>
        private void Prune()
        {
            if (_sincePrune < Math.Max(1000, _journalKeep / 4))
            {
                return;
            }

            _sincePrune = 0;
            _pruneBelow.Value = 2 * _sequence - _journalKeep;
            _prune.ExecuteNonQuery();
        }

        public void Dispose()
        {
            foreach (var c in new[] { _begin, _commit, _savepoint, _release, _order, _audit, _journal, _prune })
            {
                c.Dispose();
            }

            _jsonWriter.Dispose();
            _orderEvents.Dispose();
            _auditEvents.Dispose();
        }
    }
}
