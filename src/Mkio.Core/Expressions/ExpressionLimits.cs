using System.Globalization;

namespace Mkio.Expressions;

/// <summary>Hard limits of every expression (config and client filters alike).</summary>
internal static class ExpressionLimits
{
    /// <summary>Maximum expression length in UTF-16 characters.</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>
    /// Maximum nesting depth: parentheses, function-call argument lists, unary minus and <c>NOT</c> each
    /// add one level. Chains of the same binary operator (<c>a + b + c</c>, <c>x OR y OR z</c>) do not nest.
    /// </summary>
    public const int MaxDepth = 256;

    /// <summary>Maximum length (characters / elements / bytes) of a string, list or byte string built by <c>*</c> or <c>+</c>.</summary>
    public const int MaxSequenceLength = 16 * 1024 * 1024;
}

/// <summary>
/// The static and per-evaluation cost limits one expression is compiled with. Client filters get the
/// host's <c>FilterLimits</c>; config expressions (trusted, written by the operator) get <see cref="Trusted"/>:
/// only the hard limits of <see cref="ExpressionLimits"/>.
/// </summary>
/// <param name="MaxLength">Maximum text length in UTF-16 characters.</param>
/// <param name="MaxDepth">Maximum nesting depth (see <see cref="ExpressionLimits.MaxDepth"/>).</param>
/// <param name="MaxNodes">Maximum number of syntax-tree nodes (literals, fields, operators, calls).</param>
/// <param name="MaxResultLength">
/// Maximum characters / list elements / bytes that string, list and byte-string operations may produce in one
/// evaluation (summed over every intermediate value); also the budget of constant folding at compile time.
/// </param>
/// <param name="MaxWork">
/// Maximum work units of one evaluation: every character/element produced, scanned (CONTAINS, STARTS_WITH,
/// comparisons of long strings and lists) or big-integer word processed counts one unit.
/// </param>
/// <param name="Option">The configuration section shown in limit errors (e.g. <c>Mkio:FilterLimits</c>), or null.</param>
internal sealed record CostLimits(int MaxLength, int MaxDepth, int MaxNodes, long MaxResultLength, long MaxWork, string? Option)
{
    /// <summary>Config expressions: the hard limits only, no per-evaluation budget.</summary>
    public static CostLimits Trusted { get; } = new(ExpressionLimits.MaxLength, ExpressionLimits.MaxDepth, int.MaxValue, long.MaxValue, long.MaxValue, null);

    /// <summary><c>4096</c>, or <c>4096; Mkio:FilterLimits:MaxLength</c> when the limit comes from an option.</summary>
    internal string Max(string name, long value) =>
        value.ToString(CultureInfo.InvariantCulture) + (Option is null ? string.Empty : "; " + Option + ":" + name);
}

/// <summary>
/// The budget of the evaluation running on this thread: every operation that allocates or scans in proportion
/// to its operands draws from it <b>before</b> doing the work, so an expression that would exceed it fails
/// fast (an evaluation error: the row is skipped) instead of allocating or spinning. Evaluation is synchronous,
/// so a thread-static budget is exact; <see cref="CompiledExpression"/> starts a fresh one per evaluation.
/// </summary>
internal static class EvalBudget
{
    /// <summary>Scans of at most this many units are free: their cost is bounded by the node count.</summary>
    public const int FreeScan = 64;

    [ThreadStatic]
    private static long t_result;

    [ThreadStatic]
    private static long t_work;

    [ThreadStatic]
    private static CostLimits? t_limits;

    /// <summary>Starts a fresh budget for one evaluation (or for the constant folding of one compilation).</summary>
    public static void Begin(CostLimits limits)
    {
        t_limits = limits;
        t_result = limits.MaxResultLength;
        t_work = limits.MaxWork;
    }

    /// <summary>Draws <paramref name="length"/> produced units (and as much work) before a value of that size is built.</summary>
    public static void Produce(long length, int position)
    {
        if (length > t_result || length > t_work)
        {
            if (t_limits is not { } limits)
            {
                return; // no budget started on this thread: only the hard limits apply
            }

            if (length > t_result)
            {
                throw Exceeded("one evaluation would produce more than its budget of characters or elements (maximum " + limits.Max("MaxResultLength", limits.MaxResultLength) + ")", position);
            }

            throw WorkExceeded(limits, position);
        }

        t_result -= length;
        t_work -= length;
    }

    /// <summary>Draws <paramref name="units"/> work units before a scan or computation of that cost.</summary>
    public static void Scan(long units, int position)
    {
        if (units > t_work)
        {
            if (t_limits is not { } limits)
            {
                return;
            }

            throw WorkExceeded(limits, position);
        }

        t_work -= units;
    }

    private static ExpressionException WorkExceeded(CostLimits limits, int position) =>
        Exceeded("one evaluation would take more than its budget of work units (maximum " + limits.Max("MaxWork", limits.MaxWork) + ")", position);

    private static ExpressionException Exceeded(string what, int position) =>
        new("Expression too expensive: " + what, ExpressionErrorKind.Evaluation, position) { IsBudgetExceeded = true };
}
