using System.Buffers;
using System.Text;
using SQLitePCL;

namespace Mkio.Storage;

/// <summary>Binds text parameters on raw SQLite statements.</summary>
internal static class SqliteText
{
    private const int StackChars = 256;

    /// <summary>
    /// Binds <paramref name="value"/> as UTF-8 with its length (SQLite copies it) from a stack or pooled buffer: no
    /// UTF-8 array is allocated per value (the string overload of <c>raw.sqlite3_bind_text</c> allocates one). The
    /// bytes are the same: a NUL character and what follows it are kept, lone surrogates become U+FFFD.
    /// </summary>
    public static int Bind(sqlite3_stmt stmt, int position, string value)
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
