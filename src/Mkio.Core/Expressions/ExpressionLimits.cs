namespace Mkio.Expressions;

/// <summary>Limits that protect the server against hostile (client-submitted) expressions.</summary>
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
