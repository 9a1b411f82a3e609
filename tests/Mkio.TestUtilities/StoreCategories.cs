namespace Mkio.TestUtilities;

/// <summary>
/// Categories the PostgreSQL conformance run (tests/Mkio.Postgres.Tests, Postgres.runsettings) leaves out; on SQLite
/// they run as always. Every use names its reason next to it, and docs/postgres.md lists them.
/// </summary>
public static class StoreCategories
{
    /// <summary>The test checks something only SQLite has: the database file, its lock/WAL, SQLite's dynamic typing, databases written by the original.</summary>
    public const string SqliteOnly = "SqliteOnly";

    /// <summary>The test needs a feature not yet available on PostgreSQL (none at present: seed files, reqrep, the login and versioned tables landed).</summary>
    public const string PgPending = "PgPending";
}
