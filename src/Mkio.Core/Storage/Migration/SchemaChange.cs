namespace Mkio.Storage.Migration;

/// <summary>How risky a schema change is (SERVICES.md §15.3).</summary>
internal enum ChangeLevel
{
    /// <summary>No data can be lost.</summary>
    Safe,

    /// <summary>Data may be lost or altered (type or key changes, NOT NULL columns).</summary>
    PotentiallyDestructive,

    /// <summary>Data is lost (a column or a table goes away).</summary>
    Destructive,
}

/// <summary>What a change does.</summary>
internal enum ChangeKind
{
    CreateTable,
    AddColumn,
    RemoveColumn,
    ChangeType,
    ChangePrimaryKey,
    RemoveTable,
}

/// <summary>
/// One difference between the database and the config, with the reference's exact description,
/// level and data impact (SERVICES.md §15.3).
/// </summary>
/// <param name="Table">The table (as configured, or as stored for a removed table).</param>
/// <param name="Kind">What the change does.</param>
/// <param name="Description">E.g. <c>Remove column "price"</c>.</param>
/// <param name="Level">Safe, potentially destructive or destructive.</param>
/// <param name="Impact">E.g. <c>Data in column "price" will be lost</c>.</param>
/// <param name="NeedsRecreate">The reference's flag: the change needs a table rebuild.</param>
/// <param name="Column">The column concerned, if any.</param>
internal sealed record SchemaChange(string Table, ChangeKind Kind, string Description, ChangeLevel Level, string Impact, bool NeedsRecreate, string? Column = null)
{
    /// <summary>Rows of a table that <see cref="ChangeKind.RemoveTable"/> drops (shown in the report).</summary>
    public long RowCount { get; init; }

    /// <summary>The level as the report prints it: <c>SAFE</c>, <c>POTENTIALLY DESTRUCTIVE</c>, <c>DESTRUCTIVE</c>.</summary>
    public string LevelText => LevelName(Level);

    public static string LevelName(ChangeLevel level) => level switch
    {
        ChangeLevel.Safe => "SAFE",
        ChangeLevel.PotentiallyDestructive => "POTENTIALLY DESTRUCTIVE",
        _ => "DESTRUCTIVE",
    };
}
