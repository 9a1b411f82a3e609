using System.Text.Json;
using Mkio.Model;

namespace Mkio.Storage;

/// <summary>The outcome of one transaction: committed with its effective ref, or failed with the client-facing text.</summary>
internal readonly record struct WriteOutcome(bool Ok, string Ref, string? Error);

/// <summary>A value that cannot be bound (an object or array in the request data).</summary>
internal sealed class UnbindableValue(string pythonType)
{
    public static readonly UnbindableValue Dict = new("dict");
    public static readonly UnbindableValue List = new("list");

    public string PythonType { get; } = pythonType;
}

/// <summary>
/// One transaction queued for the writer: the op set, its parameter values (aligned with each op's
/// <see cref="OpModel.Params"/>; bind and ref slots are filled by the writer), and which optional
/// parameters the request omitted (fix F14). Completes after COMMIT and after the change events were
/// handed to the bus.
/// </summary>
internal sealed class WriteRequest : TaskCompletionSource<WriteOutcome>
{
    public WriteRequest(OpSetModel opSet, object?[][] values, ulong[] omitted, JsonElement data, string? @ref)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        OpSet = opSet;
        Values = values;
        Omitted = omitted;
        Data = data;
        Ref = @ref;
    }

    /// <summary>Creates a maintenance item: <paramref name="action"/> runs on the writer between batches.</summary>
    public WriteRequest(Action<MkioDatabase> action)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        Maintenance = action;
        OpSet = null!;
        Values = [];
        Omitted = [];
    }

    /// <summary>
    /// Runs this maintenance item on <paramref name="database"/> (null on PostgreSQL, which has no SQLite database)
    /// and completes it: ok, or with the action's exception.
    /// </summary>
    public void RunMaintenance(MkioDatabase? database)
    {
        try
        {
            Maintenance!(database!);
            TrySetResult(new WriteOutcome(true, string.Empty, null));
        }
        catch (Exception ex)
        {
            TrySetException(ex);
        }
    }

    public OpSetModel OpSet { get; }

    public object?[][] Values { get; }

    public ulong[] Omitted { get; }

    /// <summary>The request <c>data</c> (valid until the request completes); binds fall back to it.</summary>
    public JsonElement Data { get; }

    /// <summary>The client's ref (may be empty), or null to have the writer assign one in commit order.</summary>
    public string? Ref { get; }

    public Action<MkioDatabase>? Maintenance { get; }

    /// <summary>The user of the connection that sent the request (recorded in versioned tables' history), or null.</summary>
    public string? User { get; set; }

    /// <summary>The service that submitted the request (recorded in versioned tables' history), or null.</summary>
    public string? Service { get; set; }

    /// <summary>An SQL access check run first inside the request's savepoint; failing it fails the request with <c>permission denied</c>.</summary>
    public Security.PreCheck? PreCheck { get; set; }

    /// <summary>True when <see cref="PreCheck"/> failed (set by the writer before the request completes).</summary>
    public bool Refused { get; set; }

    /// <summary>The transaction's <c>mkio.transaction</c> span (null when nothing listens); the writer's batch span links to it.</summary>
    public System.Diagnostics.Activity? Activity { get; set; }
}
