using System.CommandLine;
using Microsoft.Data.Sqlite;
using Mkio.Model;
using Mkio.Security;
using Mkio.Storage;

namespace Mkio.Cli;

/// <summary>
/// <c>mkio adduser &lt;user&gt; &lt;role&gt; [config]</c> (writes a user with a password hash into <c>_mkio_users</c> of the
/// file database while the server is stopped) and <c>mkio hashpass</c> (prints a new hash). The password comes from
/// <c>MKIO_PASSWORD</c> (set but empty is an error), else a prompt with confirmation on a terminal.
/// </summary>
internal static partial class AuthCommands
{
    public static Command AddUser()
    {
        var user = new Argument<string>("user") { Description = "The user name." };
        var role = new Argument<string>("role") { Description = "The role (its rights are the rows of _mkio_rights)." };
        var config = new Argument<string>("config") { Description = "The TOML config file.", DefaultValueFactory = _ => !File.Exists("mkio.toml") && File.Exists("server.toml") ? "server.toml" : "mkio.toml" };
        var pbkdf2 = new Option<bool>("--pbkdf2") { Description = "Store a pbkdf2 hash instead of bcrypt." };
        var command = new Command("adduser", "Add or replace a user of the built-in users table (_mkio_users) in the database file; the server must be stopped. Password from MKIO_PASSWORD or a prompt.") { user, role, config, pbkdf2 };
        command.SetAction(parse => RunAddUserAsync(parse.GetValue(user)!, parse.GetValue(role)!, parse.GetValue(config)!, parse.GetValue(pbkdf2)));
        return command;
    }

    public static Command HashPass()
    {
        var pbkdf2 = new Option<bool>("--pbkdf2") { Description = "Print a pbkdf2 hash instead of bcrypt." };
        var command = new Command("hashpass", "Print a new password hash for the users table (password from MKIO_PASSWORD or a prompt).") { pbkdf2 };
        command.SetAction(async parse =>
        {
            if (await CliLogin.PasswordAsync(confirm: true).ConfigureAwait(false) is not { } password)
            {
                return 1;
            }

            await CliConsole.Out.WriteLineAsync(Hash(password, parse.GetValue(pbkdf2))).ConfigureAwait(false);
            return 0;
        });
        return command;
    }

    private static string Hash(string password, bool pbkdf2) => pbkdf2 ? MkioPasswords.HashPbkdf2(password) : MkioPasswords.Hash(password);

    private static async Task<int> RunAddUserAsync(string user, string role, string configPath, bool pbkdf2)
    {
        var @out = CliConsole.Out;
        if (!File.Exists(configPath))
        {
            await @out.WriteLineAsync($"Config file not found: {configPath}").ConfigureAwait(false);
            return 1;
        }

        MkioModel model;
        try
        {
            model = ModelCompiler.Compile(DbUpdateCommand.LoadOptions(configPath));
        }
        catch (MkioConfigurationException ex)
        {
            await @out.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 1;
        }

        if (!model.TablesByName.TryGetValue(AccessControl.UsersTable, out var table))
        {
            await @out.WriteLineAsync($"Error: {configPath} declares no [tables.{AccessControl.UsersTable}] table.").ConfigureAwait(false);
            return 1;
        }

        if (model.Options.Postgres is null && model.InMemory)
        {
            await @out.WriteLineAsync($"Error: db_path is \"{model.Options.DbPath}\": adduser needs a database file.").ConfigureAwait(false);
            return 1;
        }

        if (string.IsNullOrEmpty(user))
        {
            await @out.WriteLineAsync("Error: the user name is empty.").ConfigureAwait(false);
            return 1;
        }

        if (await CliLogin.PasswordAsync(confirm: true).ConfigureAwait(false) is not { } password)
        {
            return 1;
        }

        var hash = Hash(password, pbkdf2);
        var error = model.Options.Postgres is not null
            ? await AddPostgresUserAsync(model, table, user, hash, role).ConfigureAwait(false)
            : AddSqliteUser(model, table, user, hash, role);
        if (error is not null)
        {
            await @out.WriteLineAsync(error).ConfigureAwait(false);
            return 1;
        }

        await @out.WriteLineAsync($"User '{user}' added with role '{role}'").ConfigureAwait(false);
        return 0;
    }

    /// <summary>Creates the users table when missing and replaces the user's row in the SQLite file; the error line, or null.</summary>
    private static string? AddSqliteUser(MkioModel model, TableModel table, string user, string hash, string role)
    {
        var file = Path.GetFullPath(model.Options.DbPath);
        try
        {
            // The server owns a database it serves: refuse while it runs (the same one-line message as a second server).
            using var ownership = DatabaseLock.Acquire(file);
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
            connection.Open();
            using var tx = connection.BeginTransaction();
            Exec(connection, tx, SchemaManager.CreateTableSql(table));
            if (!HasColumn(connection, tx, MkioSchema.RefColumn))
            {
                Exec(connection, tx, $"ALTER TABLE {table.Name} ADD COLUMN {MkioSchema.RefColumn} TEXT DEFAULT ''");
            }

            using (var insert = connection.CreateCommand())
            {
                insert.Transaction = tx;
                insert.CommandText = $"INSERT OR REPLACE INTO {table.Name} (username, password, role) VALUES ($u, $p, $r)";
                insert.Parameters.AddWithValue("$u", user);
                insert.Parameters.AddWithValue("$p", hash);
                insert.Parameters.AddWithValue("$r", role);
                insert.ExecuteNonQuery();
            }

            tx.Commit();
            return null;
        }
        catch (Exception ex) when (ex is MkioDatabaseInUseException or SqliteException or IOException or UnauthorizedAccessException)
        {
            return ex is MkioDatabaseInUseException ? ex.Message : $"Error: {ex.Message}";
        }
    }

    private static bool HasColumn(SqliteConnection c, SqliteTransaction tx, string column)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"SELECT COUNT(*) FROM pragma_table_info('{AccessControl.UsersTable}') WHERE name = $c";
        cmd.Parameters.AddWithValue("$c", column);
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    private static void Exec(SqliteConnection c, SqliteTransaction tx, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
