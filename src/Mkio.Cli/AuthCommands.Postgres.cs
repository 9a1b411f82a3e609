using Mkio.Model;
using Mkio.Storage.Postgres;
using Npgsql;

namespace Mkio.Cli;

/// <summary>
/// <c>mkio adduser</c> against a configuration with <c>postgres</c>: creates <c>_mkio_users</c> when missing and
/// replaces the user's row (as <c>INSERT OR REPLACE</c> does on SQLite). Nodes may be running: the next login
/// reads the table, so the user can log in at once.
/// </summary>
internal static partial class AuthCommands
{
    /// <summary>Creates the users table when missing and replaces the user's row; the error line, or null.</summary>
    private static async Task<string?> AddPostgresUserAsync(MkioModel model, TableModel table, string user, string hash, string role)
    {
        var name = MkioSchema.Id(table.Name);
        try
        {
            await using var source = NpgsqlDataSource.Create(model.Options.Postgres!);
            await using var connection = await source.OpenConnectionAsync().ConfigureAwait(false);
            await using var tx = await connection.BeginTransactionAsync().ConfigureAwait(false);
            await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(" + PostgresSchema.SchemaLockKey.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")", connection, tx))
            {
                await lockCmd.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            foreach (var sql in PostgresSchema.TableStatements(table))
            {
                await using var create = new NpgsqlCommand(sql, connection, tx);
                await create.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            await using (var replace = new NpgsqlBatch(connection, tx))
            {
                var delete = new NpgsqlBatchCommand($"DELETE FROM {name} WHERE username = $1");
                delete.Parameters.Add(new NpgsqlParameter { Value = user });
                var insert = new NpgsqlBatchCommand($"INSERT INTO {name} (username, password, role) VALUES ($1, $2, $3)");
                insert.Parameters.Add(new NpgsqlParameter { Value = user });
                insert.Parameters.Add(new NpgsqlParameter { Value = hash });
                insert.Parameters.Add(new NpgsqlParameter { Value = role });
                replace.BatchCommands.Add(delete);
                replace.BatchCommands.Add(insert);
                await replace.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            await tx.CommitAsync().ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is NpgsqlException or ArgumentException or InvalidOperationException)
        {
            return $"Error: {(ex is PostgresException pe ? pe.MessageText : ex.Message)}";
        }
    }
}
