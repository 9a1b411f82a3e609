namespace Mkio.TestUtilities;

/// <summary>
/// Constraint-violation texts of the store the tests run on (<see cref="MkioTestHost.Store"/>). mkio passes the
/// database's own wording through; SQLite and PostgreSQL word the same violation differently (docs/postgres.md),
/// so tests that pin the exact text ask here for the exact text of the current store — never for "any error".
/// </summary>
public static class StoreErrors
{
    /// <summary>
    /// A duplicate key: SQLite's <c>UNIQUE constraint failed: t.c</c>, PostgreSQL's
    /// <c>duplicate key value violates unique constraint "t_pkey"</c> (or <c>"t_c_key"</c> for a <c>UNIQUE</c>
    /// column that is not the primary key).
    /// </summary>
    public static string Unique(string table, string column, bool primaryKey = true) => MkioTestHost.Store == TestStore.Postgres
        ? $"duplicate key value violates unique constraint \"{table}_{(primaryKey ? "pkey" : column + "_key")}\""
        : $"UNIQUE constraint failed: {table}.{column}";

    /// <summary>A missing value: SQLite's <c>NOT NULL constraint failed: t.c</c>, PostgreSQL's <c>null value in column "c" of relation "t" violates not-null constraint</c>.</summary>
    public static string NotNull(string table, string column) => MkioTestHost.Store == TestStore.Postgres
        ? $"null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
        : $"NOT NULL constraint failed: {table}.{column}";

    /// <summary>A missing table in SQL mkio compiles: SQLite's <c>no such table: t</c>, PostgreSQL's <c>relation "t" does not exist</c>.</summary>
    public static string NoSuchTable(string table) => MkioTestHost.Store == TestStore.Postgres
        ? $"relation \"{table}\" does not exist"
        : $"no such table: {table}";

    /// <summary>The start of every duplicate-key text of the current store.</summary>
    public static string UniquePrefix => MkioTestHost.Store == TestStore.Postgres ? "duplicate key value violates unique constraint" : "UNIQUE constraint failed";

    /// <summary><see cref="Unique"/> as it appears inside a JSON string (quotes escaped), for exact frame texts.</summary>
    public static string UniqueJson(string table, string column, bool primaryKey = true) => Json(Unique(table, column, primaryKey));

    /// <summary><see cref="NotNull"/> as it appears inside a JSON string (quotes escaped), for exact frame texts.</summary>
    public static string NotNullJson(string table, string column) => Json(NotNull(table, column));

    private static string Json(string text) => text.Replace("\"", "\\\"", StringComparison.Ordinal);
}
