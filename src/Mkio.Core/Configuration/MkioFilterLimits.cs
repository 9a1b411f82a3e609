using Mkio.Expressions;

namespace Mkio;

/// <summary>
/// Cost limits of client filters (the <c>filter</c> of a subscribe). A filter over a static limit is
/// answered with a <c>nack</c> naming the limit; a filter that exceeds its per-evaluation budget on a row
/// skips that row for its subscriber (the error is logged once per subscription and counted in
/// <c>mkio.filter.errors</c>). Every operation that allocates or scans in proportion to its operands
/// draws from the budget before doing the work, so one filter evaluation is bounded in time and memory.
/// Host options (<c>Mkio:FilterLimits:*</c>), not TOML keys.
/// </summary>
public sealed class MkioFilterLimits
{
    /// <summary>Longest filter text, in UTF-16 characters. Default 8192 (at most 65536).</summary>
    public int MaxLength { get; set; } = 8192;

    /// <summary>Deepest nesting (parentheses, calls, unary minus, <c>NOT</c>). Default 64 (at most 256).</summary>
    public int MaxDepth { get; set; } = 64;

    /// <summary>Most syntax-tree nodes (literals, fields, operators, calls). Default 1000.</summary>
    public int MaxNodes { get; set; } = 1000;

    /// <summary>
    /// Most characters / list elements / bytes that string and list operations (<c>+</c>, <c>*</c>,
    /// <c>UPPER</c>, …) may produce in one evaluation, summed over intermediate values; constant
    /// sub-expressions are folded at subscribe time under the same budget, so <c>'x' * 16000000</c>
    /// is a <c>nack</c>. Default 262,144 (512 KiB of UTF-16).
    /// </summary>
    public long MaxResultLength { get; set; } = 256 * 1024;

    /// <summary>
    /// Most work units of one evaluation: each character or element produced, scanned (<c>CONTAINS</c>,
    /// <c>STARTS_WITH</c>, comparisons of long strings) or big-integer word processed is one unit.
    /// Default 4,194,304 (about 1 ms of work).
    /// </summary>
    public long MaxWork { get; set; } = 4L * 1024 * 1024;

    internal CostLimits ToCostLimits() => new(MaxLength, MaxDepth, MaxNodes, MaxResultLength, MaxWork, "Mkio:FilterLimits");
}
