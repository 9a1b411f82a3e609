using System.Collections.Frozen;
using Mkio.Expressions;

namespace Mkio.Model;

/// <summary>A configured table, compiled.</summary>
internal sealed class TableModel
{
    private readonly FrozenDictionary<string, ColumnInfo> _byName;

    public TableModel(string name, IReadOnlyList<ColumnInfo> columns, bool appendOnly, string[]? tableKey = null)
    {
        Name = name;
        Columns = [.. columns];
        AppendOnly = appendOnly;
        _byName = Columns.ToFrozenDictionary(c => c.Name, StringComparer.Ordinal);
        TableKey = tableKey;
        PrimaryKey = tableKey is null ? [.. Columns.Where(c => c.PrimaryKey)] : [.. tableKey.Select(k => _byName[k])];
    }

    /// <summary>The table-level <c>primary_key</c> columns, in key order (DDL <c>PRIMARY KEY (a, b)</c>), or null.</summary>
    public string[]? TableKey { get; }

    public string Name { get; }

    public ColumnInfo[] Columns { get; }

    /// <summary>The primary-key columns in key order (a column <c>PRIMARY KEY</c>, or <see cref="TableKey"/>).</summary>
    public ColumnInfo[] PrimaryKey { get; }

    public bool AppendOnly { get; }

    public ColumnInfo? Find(string column) => _byName.GetValueOrDefault(column);

    public bool Has(string column) => _byName.ContainsKey(column) || column == MkioSchema.RefColumn || (Versioned && column == Versioning.VersionedSchema.VersionColumn);

    /// <summary>True for a versioned base table (<c>versioned = true</c>): every change is kept in <see cref="History"/>.</summary>
    public bool Versioned => History is not null;

    /// <summary>The recorded columns of a versioned base (all but <c>unversioned</c>), in config order; empty otherwise.</summary>
    public ColumnInfo[] Recorded { get; init; } = [];

    /// <summary>The <c>&lt;table&gt;__history</c> table of a versioned base, or null.</summary>
    public TableModel? History { get; set; }

    /// <summary>
    /// For a history table: true when a service follows it (<c>primary_table</c> / <c>watch_tables</c>). Only then are
    /// its changes published (and journaled); the history table itself is the durable record.
    /// </summary>
    public bool Watched { get; set; }

    /// <summary>For a history table: its versioned base table; else null.</summary>
    public TableModel? HistoryOf { get; init; }
}

/// <summary>Op types of transaction ops.</summary>
internal enum OpType
{
    Insert,
    Update,
    Delete,
    Upsert,

    /// <summary>Steps a versioned row back one version (LATER.md §7.4).</summary>
    Undo,

    /// <summary>Steps a versioned row forward one version.</summary>
    Redo,
}

/// <summary>A <c>$N.col</c> bind: take <see cref="SourceColumn"/> from the row of op <see cref="SourceOp"/>.</summary>
internal readonly record struct BindRef(int SourceOp, string SourceColumn, string Raw);

/// <summary>Where a statement parameter's value comes from.</summary>
internal enum ParamSource
{
    /// <summary>Request data, then op default, then omitted (if optional) or Missing field.</summary>
    Data,

    /// <summary>A bind to an earlier op's row.</summary>
    Bind,

    /// <summary>The transaction ref, stamped into <c>_mkio_ref</c>.</summary>
    Ref,
}

/// <summary>One parameter of an op's statement, in SQL order (SERVICES.md §5.1).</summary>
internal sealed record OpParam(string Name, ParamSource Source, bool IsKey, bool Optional, bool HasDefault, object? DefaultValue, BindRef Bind);

/// <summary>A compiled op spec.</summary>
internal sealed class OpModel
{
    public required int Index { get; init; }

    public required TableModel Table { get; init; }

    public required OpType Type { get; init; }

    public required string OpTypeName { get; init; }

    public required string[] Fields { get; init; }

    public required string[] Key { get; init; }

    public required OrderedDictionary<string, object?> Defaults { get; init; }

    public required OrderedDictionary<string, string> BindRaw { get; init; }

    /// <summary>Statement parameters in SQL order (for upsert: key columns first).</summary>
    public required OpParam[] Params { get; init; }

    /// <summary>True when any parameter may be omitted, i.e. statement variants exist (F14).</summary>
    public bool HasOptionalParams => Params.Any(p => p.Optional);
}

/// <summary>A compiled op set.</summary>
internal sealed class OpSetModel
{
    public required string? Name { get; init; }

    /// <summary>Name used by discovery: the configured name, or <c>default</c> for the list form.</summary>
    public string DisplayName => Name ?? "default";

    public required OpModel[] Ops { get; init; }
}

/// <summary>A compiled service of any type.</summary>
internal abstract class ServiceModel
{
    protected ServiceModel(MkioServiceOptions options)
    {
        Options = options;
        Name = options.Name;
        Type = options.Type ?? string.Empty;
    }

    public MkioServiceOptions Options { get; }

    public string Name { get; }

    /// <summary>The configured type string.</summary>
    public string Type { get; }

    public string? Description => string.IsNullOrEmpty(Options.Description) ? null : Options.Description;

    public CompiledFormatter? Publish { get; init; }

    public CompiledExpression? Where { get; init; }

    public string[] Filterable { get; init; } = [];
}

/// <summary>A compiled transaction service.</summary>
internal sealed class TransactionServiceModel(MkioServiceOptions options) : ServiceModel(options)
{
    public required OpSetModel[] OpSets { get; init; }

    public required bool Named { get; init; }

    public required int ResultCacheSize { get; init; }

    /// <summary>Distinct tables of its ops, in first-appearance order.</summary>
    public required string[] Tables { get; init; }

    /// <summary>The op set named by the JSON string <paramref name="name"/> (compared as UTF-8, no string made), or null.</summary>
    public OpSetModel? FindOpSet(System.Text.Json.JsonElement name)
    {
        foreach (var s in OpSets)
        {
            if (s.Name is not null && name.ValueEquals(s.Name))
            {
                return s;
            }
        }

        return null;
    }

    /// <summary>The op set named <paramref name="name"/>, or null.</summary>
    public OpSetModel? FindOpSet(string name)
    {
        foreach (var s in OpSets)
        {
            if (s.Name == name)
            {
                return s;
            }
        }

        return null;
    }
}

/// <summary>Listener service kinds.</summary>
internal enum ListenerKind
{
    SubPub,
    Stream,
    Query,
}

/// <summary>A compiled subpub, stream or query service.</summary>
internal sealed class ListenerServiceModel(MkioServiceOptions options) : ServiceModel(options)
{
    public required ListenerKind Kind { get; init; }

    public required TableModel PrimaryTable { get; init; }

    public required string[] WatchTables { get; init; }

    /// <summary>The configured SQL, or <c>SELECT * FROM &lt;primary_table&gt;</c>.</summary>
    public required string Sql { get; init; }

    public bool HasCustomSql => Options.Sql is not null;

    public bool SqlHasJoin => Sql.Contains("JOIN", StringComparison.OrdinalIgnoreCase);

    /// <summary>SubPub cache key column.</summary>
    public string? Key { get; init; }

    /// <summary>Effective change-log size (subpub, query).</summary>
    public int ChangeLogSize { get; init; }

    /// <summary>Effective ring-buffer size (stream).</summary>
    public int BufferSize { get; init; }

    /// <summary>Query: the update-buffer cap of a paged snapshot (<c>max_buffer</c>, default 1000).</summary>
    public int MaxBuffer { get; init; } = 1000;

    /// <summary>SubPub topic subscriptions: column → compiled expression filling a missing topic's row (<c>defaults</c>).</summary>
    public (string Column, Expressions.CompiledExpression Expression)[] TopicDefaults { get; init; } = [];
}

/// <summary>A service of a type registered by the application (SERVICES.md §16).</summary>
internal sealed class CustomServiceModel(MkioServiceOptions options) : ServiceModel(options)
{
    public string[] WatchTables { get; init; } = [];
}

/// <summary>The immutable, validated model of an mkio application.</summary>
internal sealed class MkioModel
{
    public required MkioOptions Options { get; init; }

    public required TableModel[] Tables { get; init; }

    public required FrozenDictionary<string, TableModel> TablesByName { get; init; }

    public required ServiceModel[] Services { get; init; }

    public required FrozenDictionary<string, ServiceModel> ServicesByName { get; init; }

    public required IReadOnlyList<ConfigDiagnostic> Warnings { get; init; }

    public bool InMemory => Options.DbPath == ":memory:";
}

/// <summary>Names the framework adds to every schema.</summary>
internal static class MkioSchema
{
    public const string RefColumn = "_mkio_ref";

    /// <summary>PostgreSQL's reserved key words (those that cannot name a column unquoted), lower case.</summary>
    private static readonly FrozenSet<string> Reserved = FrozenSet.Create(
        StringComparer.OrdinalIgnoreCase,
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary",
        "both", "case", "cast", "check", "collate", "collation", "column", "concurrently", "constraint", "create",
        "cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
        "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end",
        "except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike",
        "in", "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left",
        "like", "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only",
        "or", "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
        "session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then", "to",
        "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window",
        "with");

    public static string RefIndexName(string table) => $"idx_{table}__mkio_ref";

    /// <summary>
    /// A configured table or column name as mkio writes it into SQL: unchanged when it is lower case and not a
    /// PostgreSQL reserved word, else double-quoted, so PostgreSQL keeps its case (it folds unquoted names to lower
    /// case) and takes a reserved word (<c>right</c>, <c>user</c>) as a name. SQLite treats both forms alike.
    /// </summary>
    public static string Id(string name) =>
        !name.Any(char.IsAsciiLetterUpper) && !Reserved.Contains(name) ? name : "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
