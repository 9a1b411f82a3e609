using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SQLitePCL;

namespace Mkio.Storage;

/// <summary>
/// Column reads for a hot loop over many rows (a 100,000-row snapshot reads ~800,000 values): the native SQLite
/// functions called on the statement's raw pointer, without the SafeHandle reference count and the provider's
/// interface call that every <see cref="raw"/> column call pays. Used only when the provider is the bundled
/// <c>e_sqlite3</c> and this assembly binds the very same library (same handle); otherwise <see cref="Usable"/> is
/// false and callers read through <see cref="raw"/>.
/// </summary>
internal static class SqliteColumns
{
    private const string Library = "e_sqlite3";

    private static readonly Lazy<bool> Probed = new(Probe, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether these functions are SQLitePCLRaw's own library (probed once, on first use, with a connection open).</summary>
    public static bool Usable => Probed.Value;

    /// <summary>The value's type (<see cref="raw.SQLITE_INTEGER"/>, …) of <paramref name="column"/> in the current row.</summary>
    public static int Type(IntPtr stmt, int column) => NativeMethods.sqlite3_column_type(stmt, column);

    /// <summary>The column as a 64-bit integer.</summary>
    public static long Int64(IntPtr stmt, int column) => NativeMethods.sqlite3_column_int64(stmt, column);

    /// <summary>The column as a double.</summary>
    public static double Double(IntPtr stmt, int column) => NativeMethods.sqlite3_column_double(stmt, column);

    /// <summary>
    /// Copies the column's text (UTF-8, as SQLite holds it) into <paramref name="output"/>'s free space at
    /// <paramref name="offset"/> bytes into it, without advancing it; returns the span copied.
    /// </summary>
    /// <remarks>Optimised from its first call, like the snapshot loop that calls it once per text value: a first large
    /// snapshot after start-up ran it as unoptimised code until the JIT's tiering caught up.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Span<byte> CopyText(IntPtr stmt, int column, ArrayBufferWriter<byte> output, int offset, int extra)
    {
        var text = NativeMethods.sqlite3_column_text(stmt, column);
        var length = NativeMethods.sqlite3_column_bytes(stmt, column); // after _text: the length of the UTF-8 form
        var memory = output.GetMemory(offset + length + extra);
        if (!MemoryMarshal.TryGetArray<byte>(memory, out var segment))
        {
            throw new InvalidOperationException("ArrayBufferWriter is expected to write into an array.");
        }

        if (length > 0)
        {
            Marshal.Copy(text, segment.Array!, segment.Offset + offset, length);
        }

        return memory.Span.Slice(offset, length);
    }

    /// <summary>
    /// Takes the connection's own (recursive) mutex for a run of calls on it, so that each call inside re-enters it
    /// instead of locking and unlocking it (two atomic operations per column value otherwise). Only for a connection
    /// no other thread uses meanwhile (a pooled connection leased for one read); pair with <see cref="LeaveConnection"/>.
    /// </summary>
    /// <returns>The mutex (zero when the library was built without one: nothing to leave).</returns>
    public static IntPtr EnterConnection(IntPtr db)
    {
        var mutex = NativeMethods.sqlite3_db_mutex(db);
        if (mutex != IntPtr.Zero)
        {
            NativeMethods.sqlite3_mutex_enter(mutex);
        }

        return mutex;
    }

    /// <summary>Leaves the mutex <see cref="EnterConnection"/> took.</summary>
    public static void LeaveConnection(IntPtr mutex)
    {
        if (mutex != IntPtr.Zero)
        {
            NativeMethods.sqlite3_mutex_leave(mutex);
        }
    }

    private static bool Probe()
    {
        try
        {
            if (!string.Equals(raw.GetNativeLibraryName(), Library, StringComparison.Ordinal))
            {
                return false;
            }

            // The same handle from the provider's resolution and from ours: the same loaded library, so a statement
            // pointer from one is valid in the other. A second copy (say, an app's resolver sending the provider
            // elsewhere, which this comparison does not see) would have its own state: no allocation, while the caller
            // has a connection open through the provider's copy.
            var provider = typeof(SQLite3Provider_e_sqlite3).Assembly;
            return NativeLibrary.TryLoad(Library, provider, null, out var theirs)
                && NativeLibrary.TryLoad(Library, typeof(SqliteColumns).Assembly, null, out var ours)
                && theirs == ours
                && NativeMethods.sqlite3_libversion_number() == raw.sqlite3_libversion_number()
                && NativeMethods.sqlite3_memory_used() > 0;
        }
        catch (Exception)
        {
            // No provider set yet (callers probe with a connection open, so it is), no such library or entry point,
            // another provider's assembly: read through raw.
            return false;
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Style", "IDE1006:Naming Styles", Justification = "The C API's names.")]
    private static class NativeMethods
    {
        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern int sqlite3_column_type(IntPtr stmt, int column);

        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern long sqlite3_column_int64(IntPtr stmt, int column);

        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern double sqlite3_column_double(IntPtr stmt, int column);

        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr sqlite3_column_text(IntPtr stmt, int column);

        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern int sqlite3_column_bytes(IntPtr stmt, int column);

        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern int sqlite3_libversion_number();

        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern long sqlite3_memory_used();

        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr sqlite3_db_mutex(IntPtr db);

        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern void sqlite3_mutex_enter(IntPtr mutex);

        [DllImport(Library, ExactSpelling = true, CallingConvention = CallingConvention.Cdecl)]
        public static extern void sqlite3_mutex_leave(IntPtr mutex);
    }
}
