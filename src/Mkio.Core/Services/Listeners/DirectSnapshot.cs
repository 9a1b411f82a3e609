using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Data.Sqlite;
using Mkio.Data;
using Mkio.Protocol;
using Mkio.Protocol.Json;
using Mkio.Storage;
using SQLitePCL;

namespace Mkio.Services.Listeners;

/// <summary>
/// A query snapshot encoded straight from the SQLite statement into its wire bytes: each column value is written as
/// JSON where SQLite hands it out (numbers formatted in place, plain ASCII text copied), so a 100,000-row read builds
/// no rows, boxes no numbers and decodes no strings. Used when the service has no <c>publish</c> formatter; the bytes
/// are those of <see cref="SerializedRows"/> over <see cref="MkioDatabase.QueryAll"/>'s rows (the tests compare them).
/// Filters of subscribers sharing the read are evaluated on rows rebuilt from the bytes
/// (<see cref="SerializedRows.RowAt"/>), which is exact for the values this reader accepts.
/// </summary>
internal static class DirectSnapshot
{
    /// <summary>
    /// Reads and serialises <paramref name="sql"/> on <paramref name="connection"/> (inside the caller's read transaction),
    /// or returns null — having read nothing the caller must keep — when a row could not be rebuilt exactly from
    /// its bytes (a blob, a non-finite float, duplicate column names): the caller then reads rows as before.
    /// </summary>
    /// <param name="connection">An open connection in a read transaction.</param>
    /// <param name="sql">The service's validated query.</param>
    /// <param name="expectedRows">The row count of the previous read, or -1 (unknown: the rows are counted first, so that
    /// the buffer is allocated once instead of growing through a chain of large-object copies).</param>
    /// <param name="native">False reads through <see cref="raw"/> even where <see cref="SqliteColumns.Usable"/> (tests of both paths).</param>
    public static SerializedRows? TryRead(SqliteConnection connection, string sql, int expectedRows, bool native = true)
    {
        var db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        if (expectedRows < 0)
        {
            expectedRows = Count(connection, sql);
        }

        using (var stmt = MkioDatabase.PrepareRead(connection, sql, out var names))
        {
            var count = names.Length;
            var schema = new RowSchema(names);
            for (var i = 0; i < count; i++)
            {
                if (schema.IndexOf(names[i]) != i)
                {
                    return null;
                }
            }

            var keys = Keys(schema);
            var output = new ArrayBufferWriter<byte>(SerializedRows.Headroom + Math.Max(1024, expectedRows * 128));
            output.Advance(SerializedRows.Headroom);
            output.Write("["u8);
            var starts = new int[Math.Max(expectedRows, 16)];
            var ends = new int[starts.Length];
            var rc = MkioDatabase.FirstStep(stmt, connection.DefaultTimeout);
            var rows = native && SqliteColumns.Usable
                ? ReadRowsNative(db, stmt, ref rc, keys, output, ref starts, ref ends)
                : ReadRows(new RawColumns(stmt), stmt, ref rc, keys, output, ref starts, ref ends);
            if (rows < 0)
            {
                return null;
            }

            MkioDatabase.Check(db, rc);
            output.Write("]"u8);
            if (rows != starts.Length)
            {
                Array.Resize(ref starts, rows);
                Array.Resize(ref ends, rows);
            }

            // Values are written in Python's form already (numbers, Python-escaped text): only a column name can need the
            // rewrite, so the 11 MB of rows are not scanned for it.
            var rewrite = Array.Exists(keys, key => WireJson.NeedsPythonRewrite(key));
            var buffer = WireJson.FinishRows(output, SerializedRows.Headroom, starts, ends, rewrite, out var arrayEnd);
            return new SerializedRows(buffer, arrayEnd, starts, ends, schema);
        }
    }

    /// <summary>
    /// <see cref="ReadRows{TColumns}"/> through <see cref="SqliteColumns"/>: the statement's and the connection's pointers
    /// held for the loop, and the connection's mutex too, so that the column calls re-enter it rather than lock it each time.
    /// </summary>
    private static int ReadRowsNative(sqlite3 db, sqlite3_stmt stmt, ref int rc, byte[][] keys, ArrayBufferWriter<byte> output, ref int[] starts, ref int[] ends)
    {
        var (stmtAdded, dbAdded) = (false, false);
        var mutex = IntPtr.Zero;
        try
        {
            stmt.DangerousAddRef(ref stmtAdded);
            db.DangerousAddRef(ref dbAdded);
            mutex = SqliteColumns.EnterConnection(db.DangerousGetHandle());
            return ReadRows(new NativeColumns(stmt.DangerousGetHandle()), stmt, ref rc, keys, output, ref starts, ref ends);
        }
        finally
        {
            SqliteColumns.LeaveConnection(mutex);
            if (dbAdded)
            {
                db.DangerousRelease();
            }

            if (stmtAdded)
            {
                stmt.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Writes the statement's rows from the current one (<paramref name="rc"/> is its first step's result, and the last
    /// step's at the end) into <paramref name="output"/>, each after a comma but the first, noting where each starts and ends.
    /// Returns the row count, or -1 at a row <see cref="WriteRow{TColumns}"/> cannot write. Optimised from the first call: a
    /// first snapshot after start-up would otherwise run much of its loop as unoptimised code.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ReadRows<TColumns>(TColumns columns, sqlite3_stmt stmt, ref int rc, byte[][] keys, ArrayBufferWriter<byte> output, ref int[] starts, ref int[] ends)
        where TColumns : struct, IColumns
    {
        var rows = 0;
        for (; rc == raw.SQLITE_ROW; rc = raw.sqlite3_step(stmt))
        {
            if (rows == starts.Length)
            {
                Array.Resize(ref starts, rows * 2);
                Array.Resize(ref ends, rows * 2);
            }

            if (rows > 0)
            {
                output.Write(","u8);
            }

            starts[rows] = output.WrittenCount;
            if (!WriteRow(columns, keys, output))
            {
                return -1;
            }

            ends[rows++] = output.WrittenCount;
        }

        return rows;
    }

    /// <summary>
    /// Each column's key as written before its value: <c>{"name":</c> for the first, <c>,"name":</c> for the others (names
    /// as <see cref="WireJson.EncodeName"/> encodes them, as <see cref="WireJson.WriteRow"/> writes them).
    /// </summary>
    private static byte[][] Keys(RowSchema schema)
    {
        var names = RowJsonNames.For(schema).Names;
        var keys = new byte[names.Length][];
        for (var i = 0; i < names.Length; i++)
        {
            var name = names[i].EncodedUtf8Bytes;
            var key = new byte[name.Length + 4];
            key[0] = i == 0 ? (byte)'{' : (byte)',';
            key[1] = (byte)'"';
            name.CopyTo(key.AsSpan(2));
            key[^2] = (byte)'"';
            key[^1] = (byte)':';
            keys[i] = key;
        }

        return keys;
    }

    /// <summary>
    /// Writes the statement's current row as <see cref="WireJson.WriteRow"/> writes the row <see cref="MkioDatabase.QueryAll"/>
    /// reads, straight from the column values: no row object, no boxed number, no string for plain ASCII text. False
    /// (nothing usable written) for a value a row rebuilt from the bytes would not hold exactly: a blob, a non-finite float.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool WriteRow<TColumns>(TColumns columns, byte[][] keys, ArrayBufferWriter<byte> output)
        where TColumns : struct, IColumns
    {
        if (keys.Length == 0)
        {
            output.Write("{}"u8);
            return true;
        }

        for (var i = 0; i < keys.Length; i++)
        {
            output.Write(keys[i]);
            switch (columns.Type(i))
            {
                case raw.SQLITE_INTEGER:
                {
                    var span = output.GetSpan(20);
                    Utf8Formatter.TryFormat(columns.Int64(i), span, out var n);
                    output.Advance(n);
                    break;
                }

                case raw.SQLITE_FLOAT:
                {
                    var d = columns.Double(i);
                    if (!double.IsFinite(d))
                    {
                        return false;
                    }

                    output.Advance(PythonFloat.Format(d, output.GetSpan(PythonFloat.MaxLength)));
                    break;
                }

                case raw.SQLITE_NULL:
                    output.Write("null"u8);
                    break;
                case raw.SQLITE_TEXT:
                    WriteText(columns.CopyText(i, output, 1, 1), output);
                    break;
                default:
                    return false;
            }
        }

        output.Write("}"u8);
        return true;
    }

    /// <summary>
    /// Writes the text <see cref="IColumns.CopyText"/> just copied into <paramref name="output"/>'s free space (one byte
    /// in, one free after) as <see cref="WireJson.WriteString(System.Text.Json.Utf8JsonWriter, string)"/> writes the
    /// string those bytes decode to: printable ASCII without quote or backslash as is (quoted in place), anything else
    /// escaped the Python way (invalid UTF-8 as U+FFFD).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteText(Span<byte> copied, ArrayBufferWriter<byte> output)
    {
        if (PythonJsonText.IsSafe(copied))
        {
            var span = output.GetSpan(copied.Length + 2);
            span[0] = (byte)'"';
            span[copied.Length + 1] = (byte)'"';
            output.Advance(copied.Length + 2);
            return;
        }

        var text = Encoding.UTF8.GetString(copied);
        output.Advance(PythonJsonText.EscapeQuoted(text, output.GetSpan(PythonJsonText.MaxQuotedLength(text))));
    }

    /// <summary>The current row's column values, as <see cref="WriteRow{TColumns}"/> reads them.</summary>
    private interface IColumns
    {
        int Type(int column);

        long Int64(int column);

        double Double(int column);

        /// <summary>
        /// Copies the text column's UTF-8 bytes into <paramref name="output"/>'s free space at <paramref name="offset"/>,
        /// leaving <paramref name="extra"/> more bytes free after them, without advancing it; returns the copy.
        /// </summary>
        Span<byte> CopyText(int column, ArrayBufferWriter<byte> output, int offset, int extra);
    }

    /// <summary>Through <see cref="raw"/>: any provider.</summary>
    private readonly struct RawColumns(sqlite3_stmt stmt) : IColumns
    {
        public int Type(int column) => raw.sqlite3_column_type(stmt, column);

        public long Int64(int column) => raw.sqlite3_column_int64(stmt, column);

        public double Double(int column) => raw.sqlite3_column_double(stmt, column);

        public Span<byte> CopyText(int column, ArrayBufferWriter<byte> output, int offset, int extra)
        {
            var text = raw.sqlite3_column_blob(stmt, column);
            var copy = output.GetSpan(offset + text.Length + extra).Slice(offset, text.Length);
            text.CopyTo(copy);
            return copy;
        }
    }

    /// <summary>Through <see cref="SqliteColumns"/> on the statement's pointer (the caller holds a reference on its handle).</summary>
    private readonly struct NativeColumns(IntPtr stmt) : IColumns
    {
        public int Type(int column) => SqliteColumns.Type(stmt, column);

        public long Int64(int column) => SqliteColumns.Int64(stmt, column);

        public double Double(int column) => SqliteColumns.Double(stmt, column);

        public Span<byte> CopyText(int column, ArrayBufferWriter<byte> output, int offset, int extra) =>
            SqliteColumns.CopyText(stmt, column, output, offset, extra);
    }

    /// <summary>The query's row count (at most a million), or 0 when it cannot be counted as a subquery (e.g. a trailing <c>;</c>).</summary>
    private static int Count(SqliteConnection connection, string sql)
    {
        try
        {
            using var counting = MkioDatabase.PrepareRead(connection, "SELECT count(*) FROM (" + sql + ")", out _);
            return MkioDatabase.FirstStep(counting, connection.DefaultTimeout) == raw.SQLITE_ROW
                ? (int)Math.Min(raw.sqlite3_column_int64(counting, 0), 1_000_000)
                : 0;
        }
        catch (SqliteException)
        {
            return 0;
        }
    }
}
