using System.Globalization;

namespace Mkio;

/// <summary>
/// Ownership of one database file by one process: an exclusive OS lock on the sidecar file
/// <c>&lt;db&gt;.lock</c>, held for the process lifetime. On Unix .NET takes it with <c>flock</c>
/// (<see cref="FileShare.None"/>), on Windows with a share-mode lock; either way the OS releases it
/// when the process exits, also after a crash or <c>kill -9</c>. The holder (pid, host, start time)
/// is written to <c>&lt;db&gt;.lock.owner</c> so that a refused process can name it (the locked file
/// itself cannot be read by another .NET process). Taken before the database is opened, created or
/// migrated.
/// </summary>
internal sealed class DatabaseLock : IDisposable
{
    private readonly FileStream _stream;

    private DatabaseLock(string databasePath, FileStream stream)
    {
        DatabasePath = databasePath;
        _stream = stream;
    }

    /// <summary>The absolute database file this lock owns.</summary>
    public string DatabasePath { get; }

    /// <summary>The sidecar lock file of <paramref name="databasePath"/>.</summary>
    public static string LockPathOf(string databasePath) => databasePath + ".lock";

    /// <summary>Where the holder describes itself.</summary>
    public static string OwnerPathOf(string databasePath) => databasePath + ".lock.owner";

    /// <summary>Takes ownership of <paramref name="databasePath"/> or throws <see cref="MkioDatabaseInUseException"/>.</summary>
    /// <exception cref="MkioDatabaseInUseException">Another process (or another host in this process) owns the file.</exception>
    /// <exception cref="MkioConfigurationException">The database's directory does not exist.</exception>
    public static DatabaseLock Acquire(string databasePath)
    {
        var full = Path.GetFullPath(databasePath);
        var dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
        {
            throw new MkioConfigurationException($"db_path: the directory of '{databasePath}' does not exist ({dir}).");
        }

        FileStream stream;
        try
        {
            stream = new FileStream(LockPathOf(full), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (ex.GetType() == typeof(IOException))
        {
            // Only the sharing violation is a plain IOException here (missing directories and
            // too-long paths have their own types): someone holds the lock.
            throw new MkioDatabaseInUseException(full, ReadOwner(full), ex);
        }

        try
        {
            using var process = System.Diagnostics.Process.GetCurrentProcess();
            var self = string.Create(
                CultureInfo.InvariantCulture,
                $"pid {Environment.ProcessId} on host {Environment.MachineName}, started {process.StartTime.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z");
            File.WriteAllText(OwnerPathOf(full), self + Environment.NewLine);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            // The description is a courtesy; the lock alone decides ownership.
        }

        return new DatabaseLock(full, stream);
    }

    private static string? ReadOwner(string full)
    {
        try
        {
            var text = File.ReadAllText(OwnerPathOf(full)).Trim();
            return text.Length == 0 || text.Contains('\n', StringComparison.Ordinal) ? null : text;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Releases the lock (the files stay: deleting a lock file races with the next owner).</summary>
    public void Dispose() => _stream.Dispose();
}
