using System.CommandLine;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Mkio.Model;
using Mkio.Storage;
using Mkio.Storage.Migration;

namespace Mkio.Cli;

/// <summary>
/// <c>mkio dbupdate [config] [--allow-risky] [--allow-destructive] [--dry-run] [--drop-history] [--keep-redo]</c> (CLI.md appendix,
/// 1.x): migrates the database file to the config explicitly. Prints the summary table of
/// SERVICES.md §15.4 (every change, safe ones included); with <c>--dry-run</c> also the SQL steps,
/// and changes nothing. Otherwise applies the plan in one transaction when the flags allow every
/// change (safe always; potentially destructive with <c>--allow-risky</c>; destructive with
/// <c>--allow-destructive</c>, which implies <c>--allow-risky</c>), and refuses with exit status 1,
/// applying nothing, when they do not.
/// </summary>
internal static class DbUpdateCommand
{
    public const string DryRunDone = "  Dry run: nothing was applied.";

    public const string NothingApplied = "  Nothing was applied.";

    public const string RiskyNeedsFlag = "  ERROR: Potentially destructive changes require --allow-risky.";

    public const string DestructiveNeedsFlag = "  ERROR: Destructive changes require --allow-destructive.";

    public static Command Create()
    {
        var config = new Argument<string>("config") { Description = "The TOML config file.", DefaultValueFactory = _ => "mkio.toml" };
        var allowRisky = new Option<bool>("--allow-risky") { Description = "Also apply potentially destructive changes (column type or primary-key changes, NOT NULL columns without default)." };
        var allowDestructive = new Option<bool>("--allow-destructive") { Description = "Also apply destructive changes (removed columns and tables); implies --allow-risky." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan and its SQL steps; change nothing." };
        var dropHistory = new Option<bool>("--drop-history") { Description = "Drop the history tables of tables that are no longer versioned." };
        var keepRedo = new Option<bool>("--keep-redo") { Description = "Keep redo state (undone versions) of versioned tables; by default it is discarded." };
        var command = new Command("dbupdate", "Migrate the database schema to the config (default mkio.toml) and print the plan.") { config, allowRisky, allowDestructive, dryRun, dropHistory, keepRedo };
        command.SetAction(parse => Run(parse.GetValue(config)!, parse.GetValue(allowRisky), parse.GetValue(allowDestructive), parse.GetValue(dryRun), Console.Out, Console.Error, parse.GetValue(dropHistory), parse.GetValue(keepRedo)));
        return command;
    }

    public static int Run(string configPath, bool allowRisky, bool allowDestructive, bool dryRun, TextWriter stdout, TextWriter stderr, bool dropHistory = false, bool keepRedo = false)
    {
        if (!File.Exists(configPath))
        {
            stderr.WriteLine($"Config file not found: {configPath}");
            stdout.WriteLine($"Config file not found: {configPath}");
            return 1;
        }

        MkioModel model;
        try
        {
            model = ModelCompiler.Compile(LoadOptions(configPath));
        }
        catch (MkioConfigurationException ex)
        {
            stderr.WriteLine(ex.Message);
            return 1;
        }

        if (model.Options.Postgres is not null)
        {
            var allowedPg = allowDestructive ? MkioAutoMigrate.Destructive : allowRisky ? MkioAutoMigrate.Risky : MkioAutoMigrate.Safe;
            return DbUpdatePostgres.Run(model, allowedPg, dryRun, stdout, stderr, dropHistory, keepRedo);
        }

        var db = model.Options.DbPath;
        if (model.InMemory)
        {
            stdout.WriteLine($"  db_path is \"{db}\": there is no database file to migrate.");
            return 0;
        }

        var file = Path.GetFullPath(db);
        var dir = Path.GetDirectoryName(file);
        if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
        {
            stderr.WriteLine($"Error: db_path: the directory of '{db}' does not exist ({dir}).");
            return 1;
        }

        try
        {
            var allowed = allowDestructive ? MkioAutoMigrate.Destructive : allowRisky ? MkioAutoMigrate.Risky : MkioAutoMigrate.Safe;
            if (dryRun)
            {
                return DryRun(model, file, allowed, stdout);
            }

            // A database served by a running process is not migrated under it (same one-line refusal as a second server).
            using var ownership = DatabaseLock.Acquire(file);
            return Apply(model, file, allowed, stdout, dropHistory, keepRedo);
        }
        catch (Exception ex) when (ex is MkioConfigurationException or MkioDatabaseInUseException or SqliteException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine(ex is MkioConfigurationException or MkioDatabaseInUseException ? ex.Message : $"Error: {ex.Message}");
            return 1;
        }
    }

    /// <summary>
    /// The options as <c>mkio serve</c> sees them: the TOML file (errors name it as given), then the
    /// <c>Mkio__*</c> environment overrides (so both migrate the same <c>db_path</c>).
    /// </summary>
    internal static MkioOptions LoadOptions(string configPath)
    {
        var options = new MkioOptions { SourceName = configPath };
        TomlConfigLoader.Apply(configPath, options);
        using var provider = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddEnvironmentVariables().Build())
            .BuildServiceProvider();
        new MkioConfigurationOverrides(provider).PostConfigure(Options.DefaultName, options);
        return options;
    }

    private static int DryRun(MkioModel model, string file, MkioAutoMigrate allowed, TextWriter stdout)
    {
        SchemaDiff diff;
        if (File.Exists(file))
        {
            using var connection = Open(file, SqliteOpenMode.ReadOnly);
            diff = SchemaDiff.Compute(connection, model.Tables);
        }
        else
        {
            diff = SchemaDiff.Compute(LiveSchema.Empty, model.Tables);
        }

        if (diff.IsEmpty)
        {
            stdout.WriteLine(UpToDate(model.Options.DbPath));
            return 0;
        }

        stdout.WriteLine(MigrationReport.SummaryTable(model.Options.DbPath, diff.Changes));
        stdout.WriteLine(MigrationReport.Steps(MigrationPlan.Create(diff)));
        stdout.WriteLine();
        var needs = Needs(diff, allowed);
        stdout.WriteLine(needs.Length == 0 ? DryRunDone : $"{DryRunDone[..^1]}; applying it needs {needs}.");
        return 0;
    }

    private static int Apply(MkioModel model, string file, MkioAutoMigrate allowed, TextWriter stdout, bool dropHistory, bool keepRedo)
    {
        var db = model.Options.DbPath;
        var existed = File.Exists(file);
        using var connection = Open(file, SqliteOpenMode.ReadWriteCreate);
        var diff = SchemaDiff.Compute(connection, model.Tables);
        if (diff.IsEmpty)
        {
            SchemaManager.Apply(connection, model, NullLogger.Instance);
            History(connection, model, dropHistory, keepRedo, stdout);
            stdout.WriteLine(UpToDate(db));
            return 0;
        }

        stdout.WriteLine(MigrationReport.SummaryTable(db, diff.Changes));
        var blocked = diff.Changes.Where(c => !SchemaMigration.Allows(allowed, c.Level)).Select(c => c.Level).ToHashSet();
        if (blocked.Count > 0)
        {
            if (blocked.Contains(ChangeLevel.PotentiallyDestructive))
            {
                stdout.WriteLine(RiskyNeedsFlag);
            }

            if (blocked.Contains(ChangeLevel.Destructive))
            {
                stdout.WriteLine(DestructiveNeedsFlag);
            }

            stdout.WriteLine(NothingApplied);
            return 1;
        }

        if (model.Options.BackupOnStartup && existed)
        {
            stdout.WriteLine(MigrationReport.BackupCreated(DatabaseBackup.Create(file, model.Options.BackupDir)));
        }

        var result = Migrator.Apply(connection, MigrationPlan.Create(diff), db);
        SchemaManager.Apply(connection, model, NullLogger.Instance);
        History(connection, model, dropHistory, keepRedo, stdout);
        if (result.DeduplicatedRows > 0)
        {
            stdout.WriteLine(MigrationReport.DeduplicatedNote(result.DeduplicatedRows));
        }

        stdout.WriteLine(MigrationReport.AppliedSuccessfully);
        return 0;
    }

    /// <summary>Versioned tables: redo state discarded unless <c>--keep-redo</c>; with <c>--drop-history</c>, history of tables no longer versioned dropped.</summary>
    private static void History(SqliteConnection connection, MkioModel model, bool dropHistory, bool keepRedo, TextWriter stdout)
    {
        foreach (var line in Versioning.HistoryMaintenance.Run(connection, model, dropHistory, keepRedo))
        {
            stdout.WriteLine(line);
        }
    }

    /// <summary>The flags the changes need beyond <paramref name="allowed"/>: <c>--allow-risky</c> and/or <c>--allow-destructive</c>.</summary>
    internal static string Needs(SchemaDiff diff, MkioAutoMigrate allowed)
    {
        var blocked = diff.Changes.Where(c => !SchemaMigration.Allows(allowed, c.Level)).Select(c => c.Level).ToHashSet();
        return blocked.Contains(ChangeLevel.Destructive) ? "--allow-destructive"
            : blocked.Contains(ChangeLevel.PotentiallyDestructive) ? "--allow-risky"
            : string.Empty;
    }

    internal static string UpToDate(string db) => $"  Database \"{db}\" matches the config; no schema changes.";

    internal static SqliteConnection Open(string file, SqliteOpenMode mode)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = mode, Pooling = false }.ToString());
        try
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = mode == SqliteOpenMode.ReadOnly ? "PRAGMA busy_timeout=5000;" : "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;";
            cmd.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }
}
