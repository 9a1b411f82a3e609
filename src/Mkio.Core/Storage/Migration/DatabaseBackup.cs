using Microsoft.Data.Sqlite;

namespace Mkio.Storage.Migration;

/// <summary>
/// The start-up backup of SERVICES.md §3.1: a consistent copy of the database (SQLite's online
/// backup, so pages still in the WAL are included) at
/// <c>&lt;backup_dir&gt;/&lt;stem&gt;_backup_&lt;ref&gt;.db</c>, the ref with spaces → <c>_</c>,
/// <c>:</c> removed and <c>.</c> → <c>_</c>.
/// </summary>
internal static class DatabaseBackup
{
    /// <summary>Copies <paramref name="databaseFile"/> into <paramref name="backupDir"/> (created with parents).</summary>
    /// <returns>The backup's path as printed: <paramref name="backupDir"/> joined with the file name.</returns>
    public static string Create(string databaseFile, string backupDir, TimeProvider? time = null)
    {
        var stamp = new MkioRefGenerator(time ?? TimeProvider.System).Next()
            .Replace(' ', '_').Replace(":", string.Empty, StringComparison.Ordinal).Replace('.', '_');
        var name = $"{Path.GetFileNameWithoutExtension(databaseFile)}_backup_{stamp}.db";
        var dir = string.IsNullOrEmpty(backupDir) ? "." : backupDir;
        Directory.CreateDirectory(Path.GetFullPath(dir));
        var display = Path.Combine(TrimCurrentDirectory(dir), name);
        var target = Path.Combine(Path.GetFullPath(dir), name);

        using var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databaseFile, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        using var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        source.Open();
        destination.Open();
        source.BackupDatabase(destination);
        return display;
    }

    /// <summary>Like Python's <c>pathlib</c>: <c>./backups</c> prints as <c>backups</c>.</summary>
    private static string TrimCurrentDirectory(string dir)
    {
        while (dir.StartsWith("./", StringComparison.Ordinal) && dir.Length > 2)
        {
            dir = dir[2..];
        }

        return dir;
    }
}
