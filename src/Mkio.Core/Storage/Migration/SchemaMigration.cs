using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Mkio.Model;

namespace Mkio.Storage.Migration;

/// <summary>What start-up migration decides for a diff (SERVICES.md §15.4).</summary>
internal enum MigrationAction
{
    /// <summary>No changes: continue silently.</summary>
    None,

    /// <summary>Only safe changes: apply, print one <c>Applied (safe)</c> line each.</summary>
    ApplySafe,

    /// <summary><c>auto_migrate</c> allows every change: print the table, apply.</summary>
    ApplyAll,

    /// <summary>Print the table and ask on the terminal.</summary>
    Ask,

    /// <summary>Print the table and the error; apply nothing; start-up fails.</summary>
    Refuse,
}

/// <summary>
/// Start-up schema migration of a file database (SERVICES.md §3.1 and §15): optional backup, diff,
/// decision, output, one-transaction apply. Safe changes are always applied; the others when
/// <c>auto_migrate</c> allows their level (<c>risky</c>: potentially destructive; <c>true</c> /
/// <c>destructive</c>: everything) or the operator confirms on a terminal; otherwise start-up
/// stops with an exception whose message holds the summary table, and nothing is applied.
/// </summary>
internal static partial class SchemaMigration
{
    private const string RefusedKey = "Mkio.MigrationRefused";

    /// <summary>Whether <paramref name="level"/> may be applied unasked under <paramref name="mode"/>.</summary>
    public static bool Allows(MkioAutoMigrate mode, ChangeLevel level) => level switch
    {
        ChangeLevel.Safe => true,
        ChangeLevel.PotentiallyDestructive => mode is MkioAutoMigrate.Risky or MkioAutoMigrate.Destructive,
        _ => mode == MkioAutoMigrate.Destructive,
    };

    /// <summary>The decision function: what to do with <paramref name="diff"/>.</summary>
    /// <param name="diff">The changes.</param>
    /// <param name="mode">The <c>auto_migrate</c> setting.</param>
    /// <param name="canAsk">True when an operator can confirm (a terminal).</param>
    public static MigrationAction Decide(SchemaDiff diff, MkioAutoMigrate mode, bool canAsk) =>
        diff.IsEmpty ? MigrationAction.None
        : diff.OnlySafe ? MigrationAction.ApplySafe
        : Allows(mode, diff.MaxLevel) ? MigrationAction.ApplyAll
        : canAsk ? MigrationAction.Ask
        : MigrationAction.Refuse;

    /// <summary>An output that logs each message (hosts without <see cref="MigrationHooks"/>).</summary>
    public static Action<string> LogOutput(ILogger logger) => text => Log.Output(logger, text);

    /// <summary>True for the exception of a refused or cancelled migration whose report was already written to the output.</summary>
    public static bool IsRefusal(Exception exception) => exception.Data.Contains(RefusedKey);

    /// <summary>
    /// Runs start-up migration on <paramref name="connectionString"/>'s file: backup (when
    /// <c>backup_on_startup</c> and the file exists), then <see cref="Run(SqliteConnection, MkioModel, Action{string}, Func{string, bool}?)"/>
    /// on a short-lived connection in WAL mode.
    /// </summary>
    /// <param name="connectionString">The database's connection string (no pooling).</param>
    /// <param name="filePath">The database file.</param>
    /// <param name="model">The compiled config.</param>
    /// <param name="output">Receives each message (may span lines); null logs them.</param>
    /// <param name="confirm">Asks the operator (shows the prompt, returns yes/no); null when nobody can answer.</param>
    /// <param name="logger">Logs the output when <paramref name="output"/> is null.</param>
    public static void RunAtStartup(string connectionString, string filePath, MkioModel model, Action<string>? output, Func<string, bool>? confirm, ILogger logger)
    {
        output ??= text => Log.Output(logger, text);
        if (model.Options.BackupOnStartup && File.Exists(filePath))
        {
            output(MigrationReport.BackupCreated(DatabaseBackup.Create(filePath, model.Options.BackupDir)));
        }

        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;";
            cmd.ExecuteNonQuery();
        }

        Run(connection, model, output, confirm);
    }

    /// <summary>Diffs, decides, prints and applies; throws when the migration is refused or fails.</summary>
    /// <returns>The action taken (<see cref="MigrationAction.None"/>, <see cref="MigrationAction.ApplySafe"/>, <see cref="MigrationAction.ApplyAll"/> or <see cref="MigrationAction.Ask"/> answered yes).</returns>
    public static MigrationAction Run(SqliteConnection connection, MkioModel model, Action<string> output, Func<string, bool>? confirm)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(output);
        var diff = SchemaDiff.Compute(connection, model.Tables);
        return Run(diff, model.Options.AutoMigrate, model.Options.DbPath, output, confirm, d => Migrator.Apply(connection, MigrationPlan.Create(d), model.Options.DbPath).DeduplicatedRows, MigrationReport.RunInteractively);
    }

    /// <summary>
    /// Decides, prints and applies <paramref name="diff"/> with <paramref name="apply"/> (which returns the rows
    /// deduplicated); throws when the migration is refused or cancelled. <paramref name="refusalHint"/> is the line
    /// after <see cref="MigrationReport.ConfirmationRequired"/> in a refusal.
    /// </summary>
    public static MigrationAction Run(SchemaDiff diff, MkioAutoMigrate mode, string db, Action<string> output, Func<string, bool>? confirm, Func<SchemaDiff, long> apply, string refusalHint)
    {
        var action = Decide(diff, mode, confirm is not null);
        switch (action)
        {
            case MigrationAction.None:
                break;
            case MigrationAction.ApplySafe:
                apply(diff);
                foreach (var change in diff.Changes)
                {
                    output(MigrationReport.AppliedSafe(change));
                }

                break;
            case MigrationAction.ApplyAll:
                output(MigrationReport.SummaryTable(db, diff.Changes));
                output(MigrationReport.AutoApplying(mode));
                ApplyAndNote(apply, diff, output);
                break;
            case MigrationAction.Ask:
                var table = MigrationReport.SummaryTable(db, diff.Changes);
                output(table);
                if (!confirm!(MigrationReport.Prompt))
                {
                    output(MigrationReport.Cancelled);
                    throw Refused($"Schema migration of database \"{db}\" was cancelled; nothing was applied.", table, MigrationReport.Cancelled);
                }

                ApplyAndNote(apply, diff, output);
                output(MigrationReport.AppliedSuccessfully);
                break;
            default:
                var report = MigrationReport.SummaryTable(db, diff.Changes);
                output(report);
                output(MigrationReport.ConfirmationRequired + Environment.NewLine + refusalHint);
                throw Refused(
                    $"Schema migration of database \"{db}\" refused: destructive or potentially destructive changes need confirmation; nothing was applied.",
                    report,
                    MigrationReport.ConfirmationRequired + Environment.NewLine + refusalHint);
        }

        return action;
    }

    private static void ApplyAndNote(Func<SchemaDiff, long> apply, SchemaDiff diff, Action<string> output)
    {
        var deduplicated = apply(diff);
        if (deduplicated > 0)
        {
            output(MigrationReport.DeduplicatedNote(deduplicated));
        }
    }

    private static MkioConfigurationException Refused(string headline, string table, string trailer)
    {
        var ex = new MkioConfigurationException(headline + Environment.NewLine + table + Environment.NewLine + trailer);
        ex.Data[RefusedKey] = true;
        return ex;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "Schema migration: {Text}")]
        public static partial void Output(ILogger logger, string text);
    }
}
