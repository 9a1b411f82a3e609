using System.Globalization;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Mkio.Storage.Migration;

/// <summary>What applying a plan did.</summary>
/// <param name="DeduplicatedRows">Rows dropped because they collided under a new primary key.</param>
internal sealed record MigrationResult(long DeduplicatedRows);

/// <summary>
/// Applies a <see cref="MigrationPlan"/> all or nothing (fix F5): <c>BEGIN IMMEDIATE</c>, a check
/// that the schema is still the one the plan was made for, every step, <c>COMMIT</c>. Any failure
/// rolls everything back (no <c>&lt;table&gt;_old</c> is left behind) and is reported as a
/// <see cref="MkioConfigurationException"/> naming the failed statement and SQLite's error.
/// </summary>
internal static class Migrator
{
    public static MigrationResult Apply(SqliteConnection connection, MigrationPlan plan, string databaseName)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Steps.Count == 0)
        {
            return new MigrationResult(0);
        }

        // Both pragmas are no-ops inside a transaction, so they are set before it. legacy_alter_table
        // keeps RENAME from rewriting views, triggers and foreign keys of other tables to "<t>_old".
        var foreignKeys = PragmaValue(connection, "foreign_keys");
        var legacyAlter = PragmaValue(connection, "legacy_alter_table");
        Exec(connection, "PRAGMA foreign_keys=OFF");
        Exec(connection, "PRAGMA legacy_alter_table=ON");
        MigrationStep? current = null;
        try
        {
            Exec(connection, "BEGIN IMMEDIATE");
            try
            {
                var now = SchemaDiff.Compute(connection, plan.Diff.Tables);
                if (!now.Changes.Select(c => (c.Table, c.Description)).SequenceEqual(plan.Changes.Select(c => (c.Table, c.Description))))
                {
                    throw new InvalidOperationException("The database schema changed while the migration was being prepared.");
                }

                long deduplicated = 0;
                foreach (var step in plan.Steps)
                {
                    current = step;
                    if (step.Kind == StepKind.DeduplicatingCopy)
                    {
                        var before = LiveSchema.CountRows(connection, step.SourceTable!);
                        Exec(connection, step.Sql);
                        deduplicated += before - LiveSchema.CountRows(connection, step.Table);
                    }
                    else
                    {
                        Exec(connection, step.Sql);
                    }
                }

                current = null;
                Exec(connection, "COMMIT");
                return new MigrationResult(deduplicated);
            }
            catch
            {
                // Some errors (disk full, I/O) end the transaction themselves.
                if (raw.sqlite3_get_autocommit(connection.Handle) == 0)
                {
                    TryExec(connection, "ROLLBACK");
                }

                throw;
            }
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            var step = current is null ? string.Empty : $"{Environment.NewLine}  Failed statement: {current.Sql}";
            var reason = ex is SqliteException se ? se.Message : ex.Message;
            throw new MkioConfigurationException(
                $"Schema migration of database \"{databaseName}\" failed and was rolled back; the database is unchanged. {reason}{step}", ex);
        }
        finally
        {
            TryExec(connection, $"PRAGMA legacy_alter_table={legacyAlter}");
            TryExec(connection, $"PRAGMA foreign_keys={foreignKeys}");
        }
    }

    private static long PragmaValue(SqliteConnection connection, string name)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"PRAGMA {name}";
        return Convert.ToInt64(cmd.ExecuteScalar() ?? 0L, CultureInfo.InvariantCulture);
    }

    private static void TryExec(SqliteConnection connection, string sql)
    {
        try
        {
            Exec(connection, sql);
        }
        catch (SqliteException)
        {
            // Reporting the original failure matters more.
        }
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
