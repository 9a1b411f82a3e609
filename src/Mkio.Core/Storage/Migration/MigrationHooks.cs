namespace Mkio.Storage.Migration;

/// <summary>
/// How a host takes part in start-up migration. <c>mkio serve</c> registers one (console output,
/// and a prompt when it runs on a terminal); embedded hosts have none: output is logged and nobody
/// is asked, so <c>auto_migrate</c> alone decides.
/// </summary>
internal sealed class MigrationHooks
{
    /// <summary>Receives each migration message (may span several lines).</summary>
    public Action<string>? Output { get; init; }

    /// <summary>Shows the prompt and returns the operator's answer; null when nobody can answer.</summary>
    public Func<string, bool>? Confirm { get; init; }
}
