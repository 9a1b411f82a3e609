using Mkio.Data;

namespace Mkio.Expressions;

/// <summary>
/// One expression of the 0.1.0 language, parsed and compiled once, evaluated per row. Thread-safe:
/// one instance may be evaluated concurrently.
/// </summary>
internal sealed class CompiledExpression
{
    private readonly Evaluator _evaluator;

    private CompiledExpression(string text, Evaluator evaluator)
    {
        Text = text;
        _evaluator = evaluator;
    }

    /// <summary>The source text.</summary>
    public string Text { get; }

    /// <summary>Parses and compiles <paramref name="text"/>.</summary>
    /// <param name="text">The expression.</param>
    /// <param name="functions">Custom functions; calls to names that are neither registered nor built in fail here.</param>
    /// <exception cref="ExpressionException">A parse error (<see cref="ExpressionException.IsParseError"/> is true).</exception>
    public static CompiledExpression Compile(string text, FunctionRegistry? functions = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ast = Parser.Parse(text, functions is null ? Builtins.IsBuiltin : functions.Contains);
        return new CompiledExpression(text, Compiler.Compile(ast, functions));
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
        return _evaluator(row);
    }

    /// <inheritdoc/>
    public override string ToString() => Text;
}
