namespace Mkio.Storage.Postgres;

/// <summary>A column definition or SQL text written for SQLite that has no exact PostgreSQL translation.</summary>
internal sealed class PostgresDialectException : Exception
{
    public PostgresDialectException()
    {
    }

    public PostgresDialectException(string message)
        : base(message)
    {
    }

    public PostgresDialectException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
