using System.Text.RegularExpressions;
using Mkio.Expressions;

namespace Mkio.Model;

/// <summary>A compiled reqrep service: request → optional SQL on a read connection → reply (<c>value</c>, <c>row</c> or <c>rows</c>).</summary>
internal sealed partial class ReqRepServiceModel(MkioServiceOptions options) : ServiceModel(options)
{
    /// <summary>The configured SQL with <c>:name</c> parameters, or null.</summary>
    public string? Sql { get; init; }

    /// <summary>Every <c>:word</c> of the SQL, in order, duplicates kept (discovery).</summary>
    public string[] SqlParameters { get; init; } = [];

    /// <summary>SQL parameter → expression over the request data; empty when the data itself is bound.</summary>
    public (string Name, CompiledExpression Expression)[] Params { get; init; } = [];

    /// <summary>The <c>reply</c> expression (scalar reply), or null.</summary>
    public CompiledExpression? ReplyValue { get; init; }

    /// <summary>The <c>reply</c> table (row reply), or null.</summary>
    public CompiledFormatter? ReplyRow { get; init; }

    /// <summary>True for the built-in <c>_mkio</c> identity service.</summary>
    public bool IsIdentity { get; init; }

    /// <summary>The reply shape, as discovery describes it.</summary>
    public string ReplyShape => (Sql, ReplyValue, ReplyRow) switch
    {
        (not null, _, not null) => "rows (transformed)",
        (not null, not null, _) => "value (scalar from SQL)",
        (not null, _, _) => "rows",
        (null, _, not null) => "row (single record)",
        _ => "value (scalar)",
    };

    /// <summary>The <c>:word</c> parameters of <paramref name="sql"/> (outside quotes), in order.</summary>
    public static string[] FindParameters(string sql)
    {
        var stripped = Quoted().Replace(sql, " ");
        return [.. Parameter().Matches(stripped).Select(m => m.Groups[1].Value)];
    }

    [GeneratedRegex(@"'(?:[^']|'')*'|""(?:[^""]|"""")*""")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"(?<![:\w]):([A-Za-z_]\w*)")]
    private static partial Regex Parameter();
}
