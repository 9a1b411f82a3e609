using Mkio.Security;
using Npgsql;

namespace Mkio.Storage.Postgres;

/// <summary>The writer's SQL access checks: run first inside the request's SAVEPOINT, atomic with its writes (as on SQLite).</summary>
internal sealed partial class PostgresWriter
{
    /// <summary>
    /// Opens the request's SAVEPOINT and runs <paramref name="check"/> in the same round trip; a check that returns
    /// no row, fails with an SQL error or cannot bind its values refuses the request with <c>permission denied</c>
    /// (the caller rolls the savepoint back). A request without ops releases the savepoint here.
    /// </summary>
    private async Task PreCheckAsync(NpgsqlConnection connection, NpgsqlTransaction tx, WriteRequest req, PreCheck check)
    {
        var passes = false;
        if (PostgresAccess.Command(check) is { } cmd)
        {
            using var batch = new NpgsqlBatch(connection, tx);
            batch.BatchCommands.Add(new NpgsqlBatchCommand(SavepointSql));
            _savepointOpen = true;
            batch.BatchCommands.Add(cmd);
            try
            {
                using var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
                passes = await reader.ReadAsync().ConfigureAwait(false);
            }
            catch (PostgresException)
            {
                passes = false;
            }
        }

        if (!passes)
        {
            req.Refused = true;
            throw new MkioWriteException(AccessControl.PermissionDenied);
        }

        if (req.OpSet.Ops.Length == 0)
        {
            await ExecuteAsync(connection, tx, ReleaseSql).ConfigureAwait(false);
            _savepointOpen = false;
        }
    }
}
