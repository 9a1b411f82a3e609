using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Mkio.Storage;

/// <summary>A failure of one request inside the writer, with the exact text the client receives.</summary>
internal class MkioWriteException(string message) : Exception(message)
{
    public MkioWriteException()
        : this("write failed")
    {
    }

    public MkioWriteException(string message, Exception inner)
        : this(message) => _ = inner;
}

internal static class SqliteErrors
{
    /// <summary>SQLite's own message for the last error on <paramref name="db"/>, without any wrapper.</summary>
    public static string LastMessage(sqlite3 db) => raw.sqlite3_errmsg(db).utf8_to_string() ?? "unknown SQLite error";

    /// <summary>Strips Microsoft.Data.Sqlite's <c>SQLite Error 19: '…'.</c> wrapper.</summary>
    public static string Unwrap(SqliteException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        var m = ex.Message;
        var start = m.IndexOf(": '", StringComparison.Ordinal);
        if (m.StartsWith("SQLite Error", StringComparison.Ordinal) && start > 0 && m.EndsWith("'.", StringComparison.Ordinal))
        {
            return m[(start + 3)..^2];
        }

        return m;
    }

    public static void Check(sqlite3 db, int rc)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_DONE or raw.SQLITE_ROW))
        {
            throw new MkioWriteException(LastMessage(db));
        }
    }

    public static void Exec(sqlite3 db, string sql) => Check(db, raw.sqlite3_exec(db, sql));

    /// <summary>SQLITE_LOCKED (incl. SQLITE_LOCKED_SHAREDCACHE): a table lock held by another shared-cache connection.</summary>
    public static bool IsSharedCacheLock(int rc) => (rc & 0xff) == raw.SQLITE_LOCKED;

    /// <summary>Waits a little before retrying a locked statement; false after about 10 s in total.</summary>
    public static bool BackOff(ref int waitedMs)
    {
        if (waitedMs >= 10_000)
        {
            return false;
        }

        if (waitedMs < 10)
        {
            Thread.Yield();
        }
        else
        {
            Thread.Sleep(1);
        }

        waitedMs++;
        return true;
    }
}
