using System.Numerics;
using Mkio.Expressions;
using static Mkio.Core.Tests.Expressions.ExpressionTestHelpers;

namespace Mkio.Core.Tests.Expressions;

public class BuiltinsTests
{
    [TestCase("ROUND(2.5)", 2.0)]
    [TestCase("ROUND(3.5)", 4.0)]
    [TestCase("ROUND(-2.5)", -2.0)]
    [TestCase("ROUND(0.5)", 0.0)]
    [TestCase("ROUND(1.5)", 2.0)]
    [TestCase("ROUND(15.7, 0)", 16.0)]
    [TestCase("ROUND(2.675, 2)", 2.67)]
    [TestCase("ROUND(1.005, 2)", 1.0)]
    [TestCase("ROUND(0.125, 2)", 0.12)]
    [TestCase("ROUND(0.375, 2)", 0.38)]
    [TestCase("ROUND(1234.5678, -2)", 1200.0)]
    [TestCase("ROUND(1250.0, -2)", 1200.0)]
    [TestCase("ROUND(1350.0, -2)", 1400.0)]
    [TestCase("ROUND(123.456, 1)", 123.5)]
    [TestCase("ROUND(2.5, 0.9)", 2.0)]
    [TestCase("ROUND(1.25, 1.7)", 1.2)]
    [TestCase("ROUND(1.35, -0.5)", 1.0)]
    [TestCase("ROUND(1.25, TRUE)", 1.2)]
    [TestCase("ROUND(1.25, '1')", 1.2)]
    [TestCase("ROUND(0.1 + 0.2, 15)", 0.3)]
    [TestCase("ROUND(0.1 + 0.2, 17)", 0.30000000000000004)]
    [TestCase("ROUND(0.1, 400)", 0.1)]
    [TestCase("ROUND(123.0, -400)", 0.0)]
    [TestCase("ROUND(5.5, 99999999999999999999)", 5.5)]
    [TestCase("ROUND(12345678901234567.0, -3)", 12345678901235000.0)]
    [TestCase("ROUND(0.000123456789, 20)", 0.000123456789)]
    public void Round_Float_MatchesPythonRound(string expression, double expected) =>
        AssertValue(Eval(expression), expected);

    [TestCase("ROUND(-0.4)")]
    [TestCase("ROUND(-0.001, 2)")]
    [TestCase("ROUND(-123.0, -400)")]
    public void Round_SmallNegativeFloat_ReturnsNegativeZero(string expression)
    {
        var result = Eval(expression);
        Assert.That(result, Is.TypeOf<double>());
        Assert.That(double.IsNegative((double)result!) && (double)result == 0.0, Is.True);
    }

    [TestCase("ROUND(5)", 5L)]
    [TestCase("ROUND(5, 2)", 5L)]
    [TestCase("ROUND(25, -1)", 20L)]
    [TestCase("ROUND(35, -1)", 40L)]
    [TestCase("ROUND(-25, -1)", -20L)]
    [TestCase("ROUND(-35, -1)", -40L)]
    [TestCase("ROUND(26, -1)", 30L)]
    [TestCase("ROUND(1234, -2)", 1200L)]
    [TestCase("ROUND(1250, -2)", 1200L)]
    [TestCase("ROUND(1251, -2)", 1300L)]
    [TestCase("ROUND(5, -1)", 0L)]
    [TestCase("ROUND(15, -1)", 20L)]
    [TestCase("ROUND(12345, -30)", 0L)]
    [TestCase("ROUND(TRUE)", 1L)]
    [TestCase("ROUND(FALSE, 3)", 0L)]
    [TestCase("ROUND(TRUE, -1)", 0L)]
    public void Round_Integer_StaysIntegerWithTiesToEven(string expression, long expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Round_IntegerNearInt64Limit_WidensToBigInteger() =>
        AssertValue(Eval("ROUND(9223372036854775807, -1)"), Big("9223372036854775810"));

    [Test]
    public void Round_HugeFloatRoundingUp_ThrowsOverflowError()
    {
        var row = MakeRow(("x", double.MaxValue));
        Assert.That(EvalError("ROUND(x, -308)", row).Message, Is.EqualTo("rounded value too large to represent"));
    }

    [TestCase(double.PositiveInfinity)]
    [TestCase(double.NegativeInfinity)]
    [TestCase(double.NaN)]
    public void Round_NonFiniteFloat_ReturnsItself(double x) =>
        Assert.That(Eval("ROUND(x, 2)", MakeRow(("x", x))), Is.EqualTo(x));

    [TestCase("ROUND(NULL)")]
    [TestCase("ROUND('2.5')")]
    [TestCase("ROUND()")]
    [TestCase("ROUND(1, 2, 3)")]
    [TestCase("ROUND(1.5, NULL)")]
    [TestCase("ROUND(1.5, 'x')")]
    [TestCase("ROUND(1.5, '1.5')")]
    public void Round_InvalidArguments_ThrowsEvaluationError(string expression) =>
        Assert.That(EvalError(expression).Message, Is.Not.Empty);

    [TestCase("ABS(-5)", 5L)]
    [TestCase("ABS(5)", 5L)]
    [TestCase("ABS(-2.5)", 2.5)]
    [TestCase("ABS(TRUE)", 1L)]
    [TestCase("ABS(FALSE)", 0L)]
    [TestCase("ABS(-0.0)", 0.0)]
    public void Abs_Numeric_KeepsKind(string expression, object expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Abs_Int64MinValue_WidensToBigInteger() =>
        AssertValue(Eval("ABS(-9223372036854775808)"), Big("9223372036854775808"));

    [TestCase("ABS(NULL)")]
    [TestCase("ABS('a')")]
    [TestCase("ABS()")]
    [TestCase("ABS(1, 2)")]
    public void Abs_InvalidArguments_ThrowsEvaluationError(string expression) =>
        Assert.That(EvalError(expression).Message, Is.Not.Empty);

    [TestCase("UPPER('stra\u00dfe')", "STRASSE")]
    [TestCase("UPPER('\ufb01x')", "FIX")]
    [TestCase("UPPER('\u00e9t\u00e9')", "\u00c9T\u00c9")]
    [TestCase("LOWER('\u00c9T\u00c9')", "\u00e9t\u00e9")]
    [TestCase("LOWER('\u0130')", "i\u0307")]
    [TestCase("UPPER('')", "")]
    [TestCase("UPPER('ABC')", "ABC")]
    public void UpperLower_Strings_UsePythonCaseMapping(string expression, string expected) =>
        AssertValue(Eval(expression), expected);

    [TestCase("UPPER(5)", 5L)]
    [TestCase("LOWER(2.5)", 2.5)]
    [TestCase("UPPER(TRUE)", true)]
    [TestCase("UPPER(NULL)", null)]
    [TestCase("LOWER(qty)", 100L)]
    public void UpperLower_NonStrings_ReturnedUnchanged(string expression, object? expected) =>
        AssertValue(Eval(expression), expected);

    [TestCase("UPPER()")]
    [TestCase("UPPER('a', 'b')")]
    [TestCase("LOWER(1, 2)")]
    public void UpperLower_WrongArgumentCount_ThrowsEvaluationError(string expression) =>
        Assert.That(EvalError(expression).Message, Does.StartWith(expression[..5]));

    [Test]
    public void Upper_WrongArgumentCount_EvaluatesArgumentsFirst() =>
        Assert.That(EvalError("UPPER(1, 1/0)").Message, Is.EqualTo("Division by zero"));

    [TestCase("COALESCE(NULL, NULL)", null)]
    [TestCase("COALESCE(tag, qty, 1)", 100L)]
    [TestCase("COALESCE(tag)", null)]
    [TestCase("COALESCE(0, 1)", 0L)]
    [TestCase("COALESCE('', 'x')", "")]
    [TestCase("COALESCE(tag, 0) > -1", true)]
    public void Coalesce_Arguments_ReturnsFirstNonNull(string expression, object? expected) =>
        AssertValue(Eval(expression), expected);
}
