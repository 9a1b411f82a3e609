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
    private static async Task<int> RunPostgresAddUserAsync(MkioModel model, TableModel table, string user, string role, bool pbkdf2)
    {
        var @out = CliConsole.Out;
        if (string.IsNullOrEmpty(user))
        {
            await @out.WriteLineAsync("Error: the user name is empty.").ConfigureAwait(false);
            return 1;
        }

        if (await CliLogin.PasswordAsync(confirm: true).ConfigureAwait(false) is not { } password)
        {
            return 1;
        }

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
                insert.Parameters.Add(new NpgsqlParameter { Value = Hash(password, pbkdf2) });
                insert.Parameters.Add(new NpgsqlParameter { Value = role });
                replace.BatchCommands.Add(delete);
                replace.BatchCommands.Add(insert);
                await replace.ExecuteNonQueryAsync().ConfigureAwait(false);
            }

            await tx.CommitAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or ArgumentException or InvalidOperationException)
        {
            await @out.WriteLineAsync($"Error: {(ex is PostgresException pe ? pe.MessageText : ex.Message)}").ConfigureAwait(false);
            return 1;
        }

        await @out.WriteLineAsync($"User '{user}' added with role '{role}'").ConfigureAwait(false);
        return 0;
    }
}
