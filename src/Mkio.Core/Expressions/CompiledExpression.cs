using Mkio.Data;

namespace Mkio.Expressions;

/// <summary>
/// One expression of the 0.1.0 language, parsed and compiled once, evaluated per row. Thread-safe:
/// one instance may be evaluated concurrently.
/// </summary>
internal sealed class CompiledExpression
{
    private readonly Evaluator _evaluator;
    private readonly CostLimits _limits;

    private CompiledExpression(string text, Evaluator evaluator, CostLimits limits, List<(string Name, int Position)> fields, int nodes)
    {
        Text = text;
        _evaluator = evaluator;
        _limits = limits;
        Fields = fields;
        NodeCount = nodes;
    }

    /// <summary>The source text.</summary>
    public string Text { get; }

    /// <summary>The field names the expression reads, each once, in order of first use, with the position of that use.</summary>
    public IReadOnlyList<(string Name, int Position)> Fields { get; }

    /// <summary>The number of syntax-tree nodes (its static size).</summary>
    public int NodeCount { get; }

    /// <summary>Parses and compiles <paramref name="text"/>.</summary>
    /// <param name="text">The expression.</param>
    /// <param name="functions">Custom functions; calls to names that are neither registered nor built in fail here.</param>
    /// <param name="limits">Static and per-evaluation cost limits; null for <see cref="CostLimits.Trusted"/> (config expressions).</param>
    /// <exception cref="ExpressionException">
    /// A parse error (<see cref="ExpressionException.IsParseError"/> is true), including a static limit: too long, too
    /// deep, too many nodes, or a constant sub-expression over the per-evaluation budget.
    /// </exception>
    public static CompiledExpression Compile(string text, FunctionRegistry? functions = null, CostLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        limits ??= CostLimits.Trusted;
        var ast = Parser.Parse(text, functions is null ? Builtins.IsBuiltin : functions.Contains, limits);
        var fields = new List<(string Name, int Position)>();
        var nodes = StaticAnalysis.Walk(ast, fields);
        StaticAnalysis.CheckNodes(nodes, limits);
        ast = StaticAnalysis.Fold(ast, functions, limits);
        return new CompiledExpression(text, Compiler.Compile(ast, functions), limits, fields, nodes);
    }

    /// <summary>
    /// Evaluates the expression. Integers come back as <see cref="long"/> (or
    /// <see cref="System.Numerics.BigInteger"/> beyond 64 bits), floats as <see cref="double"/>, then
    /// <see cref="bool"/>, <see cref="string"/>, lists, byte[] or null.
    /// </summary>
    /// <exception cref="ExpressionException">An evaluation error.</exception>
    public object? Evaluate(Row row) => EvaluateValue(row).ToObject();

    /// <summary>The truthiness of the expression's value (filters, <c>where</c>). Does not allocate for common expressions.</summary>
    /// <exception cref="ExpressionException">An evaluation error.</exception>
    public bool IsTruthy(Row row) => EvaluateValue(row).IsTruthy;

    /// <summary>Evaluates to an unboxed <see cref="Value"/>.</summary>
    /// <exception cref="ExpressionException">An evaluation error.</exception>
    internal Value EvaluateValue(Row row)
    {
        ArgumentNullException.ThrowIfNull(row);
        EvalBudget.Begin(_limits);
        return _evaluator(row);
    }

    /// <inheritdoc/>
    public override string ToString() => Text;
}
