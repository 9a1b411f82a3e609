using Mkio.Data;

namespace Mkio.Expressions;

/// <summary>
/// A <c>publish</c> formatter: output field → expression, evaluated per row into a new row whose
/// columns are the configured fields in configured order. Errors are <see cref="ExpressionException"/>s
/// whose <see cref="ExpressionException.Field"/> names the output field; the message itself is the
/// plain expression error (e.g. <c>Unknown field: qty</c>).
/// </summary>
internal sealed class CompiledFormatter
{
    private readonly string[] _names;
    private readonly CompiledExpression[] _expressions;

    private CompiledFormatter(string[] names, CompiledExpression[] expressions)
    {
        _names = names;
        _expressions = expressions;
        OutputSchema = new RowSchema(names);
    }

    /// <summary>The output columns in configured order (one instance shared by every output row).</summary>
    public RowSchema OutputSchema { get; }

    /// <summary>The compiled expression of each output column, in <see cref="OutputSchema"/> order.</summary>
    public IReadOnlyList<CompiledExpression> Expressions => _expressions;

    /// <summary>
    /// Compiles every field's expression. A field listed twice keeps its first position and its last
    /// expression (like a Python dict).
    /// </summary>
    /// <exception cref="ExpressionException">A parse error; <see cref="ExpressionException.Field"/> names the field.</exception>
    public static CompiledFormatter Compile(IEnumerable<KeyValuePair<string, string>> fields, FunctionRegistry? functions = null)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var names = new List<string>();
        var expressions = new List<CompiledExpression>();
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (field, text) in fields)
        {
            ArgumentNullException.ThrowIfNull(field);
            CompiledExpression expression;
            try
            {
                expression = CompiledExpression.Compile(text, functions);
            }
            catch (ExpressionException ex)
            {
                throw ex.WithField(field);
            }

            if (positions.TryGetValue(field, out var existing))
            {
                expressions[existing] = expression;
            }
            else
            {
                positions[field] = names.Count;
                names.Add(field);
                expressions.Add(expression);
            }
        }

        return new CompiledFormatter([.. names], [.. expressions]);
    }

    /// <summary>Formats one row.</summary>
    /// <exception cref="ExpressionException">An evaluation error; <see cref="ExpressionException.Field"/> names the field.</exception>
    public Row Format(Row row)
    {
        var values = new object?[_expressions.Length];
        for (var i = 0; i < values.Length; i++)
        {
            try
            {
                values[i] = _expressions[i].Evaluate(row);
            }
            catch (ExpressionException ex)
            {
                throw ex.WithField(_names[i]);
            }
        }

        return new Row(OutputSchema, values);
    }
}
