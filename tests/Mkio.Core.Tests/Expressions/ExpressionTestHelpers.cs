using Mkio.Data;
using Mkio.Expressions;

namespace Mkio.Core.Tests.Expressions;

/// <summary>Rows and assertions shared by the expression tests.</summary>
internal static class ExpressionTestHelpers
{
    /// <summary>The §10 row: {"name":"Alice","qty":100,"price":15.0,"status":"pending","tag":null}.</summary>
    public static Row SpecRow { get; } = MakeRow(("name", "Alice"), ("qty", 100L), ("price", 15.0), ("status", "pending"), ("tag", null));

    public static Row MakeRow(params (string Name, object? Value)[] columns)
    {
        var schema = new RowSchema([.. columns.Select(c => c.Name)]);
        return new Row(schema, [.. columns.Select(c => c.Value)]);
    }

    public static object? Eval(string expression, Row? row = null, FunctionRegistry? functions = null) =>
        CompiledExpression.Compile(expression, functions).Evaluate(row ?? SpecRow);

    public static ExpressionException EvalError(string expression, Row? row = null, FunctionRegistry? functions = null)
    {
        var compiled = CompiledExpression.Compile(expression, functions);
        var ex = Assert.Throws<ExpressionException>(() => compiled.Evaluate(row ?? SpecRow));
        Assert.That(ex!.Kind, Is.EqualTo(ExpressionErrorKind.Evaluation), "expected an evaluation error");
        return ex;
    }

    public static ExpressionException ParseError(string expression, FunctionRegistry? functions = null)
    {
        var ex = Assert.Throws<ExpressionException>(() => CompiledExpression.Compile(expression, functions));
        Assert.That(ex!.Kind, Is.EqualTo(ExpressionErrorKind.Parse), "expected a parse error");
        return ex;
    }

    public static System.Numerics.BigInteger Big(string digits) =>
        System.Numerics.BigInteger.Parse(digits, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Asserts value AND CLR type (NUnit would otherwise accept 1500 for 1500.0).</summary>
    public static void AssertValue(object? actual, object? expected)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(actual?.GetType(), Is.EqualTo(expected?.GetType()), "result type");
            Assert.That(actual, Is.EqualTo(expected));
        }
    }
}
