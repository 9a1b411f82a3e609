using Mkio.Model;
using Mkio.Storage.Migration;
using Mkio.Storage.Postgres;
using Npgsql;

namespace Mkio.Cli;

/// <summary>
/// <c>mkio dbupdate</c> on a configuration with <c>postgres</c>: the same diff, classification, flags and output as
/// on SQLite, applied in one PostgreSQL transaction holding the schema and journal locks (running nodes' write
/// batches wait for it). mkio takes no backup of a PostgreSQL database: the output says so (take a pg_dump first).
/// </summary>
internal static class DbUpdatePostgres
{
    public static int Run(MkioModel model, MkioAutoMigrate allowed, bool dryRun, TextWriter stdout, TextWriter stderr, bool dropHistory, bool keepRedo)
    {
        var name = PostgresMigration.DisplayName(model.Options.Postgres!);
        try
        {
            using var connection = new NpgsqlConnection(model.Options.Postgres);
            connection.Open();
            using var tx = connection.BeginTransaction();
            if (dryRun)
            {
                var preview = PostgresMigration.Diff(connection, tx, model);
                if (preview.IsEmpty)
                {
                    stdout.WriteLine(DbUpdateCommand.UpToDate(name));
                    return 0;
                }

                stdout.WriteLine(MigrationReport.SummaryTable(name, preview.Changes));
                stdout.WriteLine(PostgresMigration.Describe(PostgresMigration.Steps(preview)));
                stdout.WriteLine();
                var needs = DbUpdateCommand.Needs(preview, allowed);
                stdout.WriteLine(needs.Length == 0 ? DbUpdateCommand.DryRunDone : $"{DbUpdateCommand.DryRunDone[..^1]}; applying it needs {needs}.");
                return 0;
            }

            PostgresMigration.LockAsync(connection, tx, CancellationToken.None).GetAwaiter().GetResult();
            var diff = PostgresMigration.Diff(connection, tx, model);
            long deduplicated = 0;
            if (!diff.IsEmpty)
            {
                stdout.WriteLine(MigrationReport.SummaryTable(name, diff.Changes));
                var blocked = diff.Changes.Where(c => !SchemaMigration.Allows(allowed, c.Level)).Select(c => c.Level).ToHashSet();
                if (blocked.Count > 0)
                {
                    if (blocked.Contains(ChangeLevel.PotentiallyDestructive))
                    {
                        stdout.WriteLine(DbUpdateCommand.RiskyNeedsFlag);
                    }

                    if (blocked.Contains(ChangeLevel.Destructive))
                    {
                        stdout.WriteLine(DbUpdateCommand.DestructiveNeedsFlag);
                    }

                    stdout.WriteLine(DbUpdateCommand.NothingApplied);
                    return 1;
                }

                stdout.WriteLine(MigrationReport.NoPostgresBackup);
                deduplicated = PostgresMigration.Apply(connection, tx, PostgresMigration.Steps(diff));
            }

            PostgresMigration.CompleteAsync(connection, tx, model, CancellationToken.None).GetAwaiter().GetResult();
            foreach (var line in PostgresMigration.MaintainHistory(connection, tx, model, dropHistory, keepRedo))
            {
                stdout.WriteLine(line);
            }

            tx.Commit();
            if (diff.IsEmpty)
            {
                stdout.WriteLine(DbUpdateCommand.UpToDate(name));
                return 0;
            }

            if (deduplicated > 0)
            {
                stdout.WriteLine(MigrationReport.DeduplicatedNote(deduplicated));
            }

            stdout.WriteLine(MigrationReport.AppliedSuccessfully);
            return 0;
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or PostgresDialectException)
        {
            stderr.WriteLine($"Error: {(ex is PostgresException pg ? pg.MessageText : ex.Message)}");
            stdout.WriteLine(DbUpdateCommand.NothingApplied);
            return 1;
        }
    }
}
