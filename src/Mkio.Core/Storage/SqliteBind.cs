using System.Buffers;
using System.Globalization;
using System.Text;
using SQLitePCL;

namespace Mkio.Storage;

/// <summary>Binds request values to parameters of raw SQLite statements (the writer's ops and SQL access checks).</summary>
internal static class SqliteBind
{
    private const int StackChars = 256;

    /// <summary>
    /// Binds a value by its .NET type (SERVICES.md §4: JSON values bind by their JSON type); returns SQLite's result
    /// code. <see cref="TooLargeInteger"/> and <see cref="UnbindableValue"/> cannot be bound (SQLITE_MISMATCH): callers
    /// that answer with the reference's messages check for them first.
    /// </summary>
    public static int Value(sqlite3_stmt stmt, int position, object? value) => value switch
    {
        null => raw.sqlite3_bind_null(stmt, position),
        string s => Text(stmt, position, s),
        long l => raw.sqlite3_bind_int64(stmt, position, l),
        double d => raw.sqlite3_bind_double(stmt, position, d),
        int i => raw.sqlite3_bind_int64(stmt, position, i),
        bool b => raw.sqlite3_bind_int64(stmt, position, b ? 1 : 0),
        byte[] bytes => raw.sqlite3_bind_blob(stmt, position, bytes),
        float f => raw.sqlite3_bind_double(stmt, position, f),
        TooLargeInteger or UnbindableValue => raw.SQLITE_MISMATCH,
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) is { } text ? Text(stmt, position, text) : raw.sqlite3_bind_null(stmt, position),
    };

    /// <summary>
    /// Binds <paramref name="value"/> as UTF-8 with its length (SQLite copies it) from a stack or pooled buffer: no
    /// UTF-8 array is allocated per value (the string overload of <c>raw.sqlite3_bind_text</c> allocates one). The
    /// bytes are the same: a NUL character and what follows it are kept, lone surrogates become U+FFFD.
    /// </summary>
    public static int Text(sqlite3_stmt stmt, int position, string value)
    {
        if (value.Length == 0)
        {
            // An empty span is a null pointer, which SQLite would bind as NULL; "" must stay "".
            return raw.sqlite3_bind_text(stmt, position, string.Empty);
        }

        if (value.Length <= StackChars)
        {
            Span<byte> buffer = stackalloc byte[StackChars * 3];
            var n = Encoding.UTF8.GetBytes(value, buffer);
            return raw.sqlite3_bind_text(stmt, position, buffer[..n]);
        }

        var rented = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(value.Length));
        try
        {
            var n = Encoding.UTF8.GetBytes(value, rented);
            return raw.sqlite3_bind_text(stmt, position, rented.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
