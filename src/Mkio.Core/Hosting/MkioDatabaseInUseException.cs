namespace Mkio;

/// <summary>
/// Thrown at start-up when another process (or another host in this process) owns the database
/// file: only one process may serve a database. The message is one line naming the absolute file
/// and, when known, the holder (pid, host, start time).
/// </summary>
public sealed class MkioDatabaseInUseException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public MkioDatabaseInUseException()
        : this("The database is in use by another mkio process.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong.</param>
    public MkioDatabaseInUseException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The underlying failure.</param>
    public MkioDatabaseInUseException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal MkioDatabaseInUseException(string databasePath, string? holder, Exception? innerException)
        : base(Format(databasePath, holder), innerException)
    {
        DatabasePath = databasePath;
        Holder = holder;
    }

    /// <summary>The absolute database file, when known.</summary>
    public string? DatabasePath { get; }

    /// <summary>The holder as it described itself (<c>pid N on host H, started T</c>), when known.</summary>
    public string? Holder { get; }

    private static string Format(string databasePath, string? holder) =>
        $"Database {databasePath} is in use by another mkio process ({holder ?? "holder unknown"}); only one process may serve a database file. Stop that process or change db_path.";
}
