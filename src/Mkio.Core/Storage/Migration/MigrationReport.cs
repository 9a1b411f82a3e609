using System.Globalization;
using System.Text;

namespace Mkio.Storage.Migration;

/// <summary>The texts of SERVICES.md §15.4, exactly as the reference prints them.</summary>
internal static class MigrationReport
{
    public const string Prompt = "  Apply these changes? [y/N] ";

    public const string AppliedSuccessfully = "  Schema changes applied successfully.";

    public const string Cancelled = "  Migration cancelled.";

    public const string ConfirmationRequired = "  ERROR: Destructive/potentially destructive changes require confirmation.";

    public const string RunInteractively = "  Run interactively or set auto_migrate=true in config.";

    /// <summary>The refusal hint on PostgreSQL, where a starting node never asks (it would hold the cluster's journal lock while waiting).</summary>
    public const string RunDbUpdate = "  Run mkio dbupdate (with --allow-risky or --allow-destructive) or set auto_migrate in config.";

    /// <summary>What mkio says instead of a backup on PostgreSQL.</summary>
    public const string NoPostgresBackup = "  No backup taken: mkio does not back up PostgreSQL databases (take a pg_dump first).";

    /// <summary>
    /// The summary table: an empty line, the header line, an empty line, the column header, the
    /// dash row, one row per change (all of them, in diff order) and an empty line. Columns are
    /// left-justified to 20/45/25 characters and never truncated; a removed table's impact is
    /// <c>All &lt;n&gt; rows will be lost</c> with thousands separators.
    /// </summary>
    public static string SummaryTable(string databasePath, IEnumerable<SchemaChange> changes)
    {
        var lines = new List<string>
        {
            string.Empty,
            $"Schema changes detected for database \"{databasePath}\":",
            string.Empty,
            Row("TABLE", "CHANGE", "LEVEL", "DATA IMPACT"),
            Row(new string('-', 20), new string('-', 45), new string('-', 25), new string('-', 40)),
        };
        foreach (var c in changes)
        {
            var impact = c.Kind == ChangeKind.RemoveTable ? $"All {c.RowCount.ToString("N0", CultureInfo.InvariantCulture)} rows will be lost" : c.Impact;
            lines.Add(Row(c.Table, c.Description, c.LevelText, impact));
        }

        lines.Add(string.Empty);
        return string.Join(Environment.NewLine, lines);
    }

    /// <summary><c>  Applied (safe): &lt;table&gt; — &lt;description&gt;</c>.</summary>
    public static string AppliedSafe(SchemaChange change) => $"  Applied (safe): {change.Table} — {change.Description}";

    /// <summary><c>  auto_migrate=true, applying all changes...</c> (<c>risky</c> when only that level is allowed).</summary>
    public static string AutoApplying(MkioAutoMigrate mode) =>
        $"  auto_migrate={(mode == MkioAutoMigrate.Risky ? "risky" : "true")}, applying all changes...";

    /// <summary><c>  Note: &lt;n&gt; rows were deduplicated during migration</c>.</summary>
    public static string DeduplicatedNote(long rows) => $"  Note: {rows.ToString(CultureInfo.InvariantCulture)} rows were deduplicated during migration";

    /// <summary><c>  Backup created: &lt;path&gt;</c>.</summary>
    public static string BackupCreated(string path) => $"  Backup created: {path}";

    /// <summary>The prompt's answer: trimmed and lower-cased, <c>y</c> means yes.</summary>
    public static bool IsYes(string? answer) => string.Equals(answer?.Trim().ToLowerInvariant(), "y", StringComparison.Ordinal);

    /// <summary>The plan's statements, numbered (for <c>mkio dbupdate --dry-run</c>).</summary>
    public static string Steps(MigrationPlan plan)
    {
        var sb = new StringBuilder("  SQL steps (one transaction):");
        for (var i = 0; i < plan.Steps.Count; i++)
        {
            sb.Append(Environment.NewLine).Append(CultureInfo.InvariantCulture, $"    {i + 1,3}. {plan.Steps[i].Sql}");
        }

        return sb.ToString();
    }

    private static string Row(string table, string change, string level, string impact) =>
        $"  {table.PadRight(20)} {change.PadRight(45)} {level.PadRight(25)} {impact}";
}
