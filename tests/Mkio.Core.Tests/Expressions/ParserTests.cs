using Mkio.Expressions;
using static Mkio.Core.Tests.Expressions.ExpressionTestHelpers;

namespace Mkio.Core.Tests.Expressions;

public class ParserTests
{
    [TestCase("BOGUS(x)", "Unknown function: BOGUS")]
    [TestCase("bogus(x)", "Unknown function: bogus")]
    [TestCase("1 + foo(2)", "Unknown function: foo")]
    [TestCase("name.__class__", "Unexpected character: '.' at position 4")]
    [TestCase("a == b == c", "Unexpected token: '=='")]
    [TestCase("x IS NOT NULL == TRUE", "Unexpected token: '=='")]
    [TestCase("x IS null", "Expected IDENT(NULL), got IDENT('null')")]
    [TestCase("x IS NOT null", "Expected IDENT(NULL), got IDENT('null')")]
    [TestCase("x IS 5", "Expected IDENT(NULL), got NUMBER('5')")]
    [TestCase("x IS", "Expected IDENT(NULL), got EOF('')")]
    [TestCase("x IS 'it\\'s'", "Expected IDENT(NULL), got STRING(\"it's\")")]
    [TestCase("(1", "Expected RPAREN, got EOF('')")]
    [TestCase("(1 2", "Expected RPAREN, got NUMBER('2')")]
    [TestCase("UPPER(name name)", "Expected RPAREN, got IDENT('name')")]
    [TestCase("(1, 2)", "Expected RPAREN, got COMMA(',')")]
    [TestCase("n > 3 AND", "Unexpected token: ''")]
    [TestCase("", "Unexpected token: ''")]
    [TestCase("   ", "Unexpected token: ''")]
    [TestCase("\"x\"", "Unexpected character: '\"' at position 0")]
    [TestCase("n % 2", "Unexpected character: '%' at position 2")]
    [TestCase("n # 2", "Unexpected character: '#' at position 2")]
    [TestCase("a ! b", "Unexpected character: '!' at position 2")]
    [TestCase("a && b", "Unexpected character: '&' at position 2")]
    [TestCase("a \\ b", "Unexpected character: '\\\\' at position 2")]
    [TestCase("[1]", "Unexpected character: '[' at position 0")]
    [TestCase("1e5", "Unexpected token: 'e5'")]
    [TestCase("1.2.3", "Unexpected token: '.3'")]
    [TestCase("'hello", "Unterminated string literal")]
    [TestCase("'hello\\'", "Unterminated string literal")]
    [TestCase("'hello\\", "Unterminated string literal")]
    [TestCase(") 'x", "Unterminated string literal")]
    [TestCase("a = 1", "Unexpected token: '='")]
    [TestCase("a <> 1", "Unexpected token: '>'")]
    [TestCase("a ** 2", "Unexpected token: '*'")]
    [TestCase("a // 2", "Unexpected token: '/'")]
    [TestCase("UPPER(1,)", "Unexpected token: ')'")]
    [TestCase("UPPER(,1)", "Unexpected token: ','")]
    [TestCase("x IN -1", "Unexpected token: '-'")]
    [TestCase("NULL(1)", "Unexpected token: '('")]
    [TestCase("TRUE(1)", "Unexpected token: '('")]
    [TestCase("1 2", "Unexpected token: '2'")]
    [TestCase("'a' 'b'", "Unexpected token: 'b'")]
    [TestCase("'a' 'it\\'s'", "Unexpected token: \"it's\"")]
    [TestCase("-", "Unexpected token: ''")]
    [TestCase("NOT", "Unexpected token: ''")]
    [TestCase(")", "Unexpected token: ')'")]
    [TestCase("a == == b", "Unexpected token: '=='")]
    [TestCase("a CONTAINS", "Unexpected token: ''")]
    public void Compile_InvalidExpression_ThrowsParseErrorWithReferenceText(string expression, string message) =>
        Assert.That(ParseError(expression).Message, Is.EqualTo(message));

    [TestCase("n % 2", 2)]
    [TestCase("a == b == c", 7)]
    [TestCase("(1", 2)]
    [TestCase("'hello", 0)]
    [TestCase("n > 3 AND", 9)]
    [TestCase("bogus(1)", 0)]
    public void Compile_InvalidExpression_ReportsUtf16Position(string expression, int position) =>
        Assert.That(ParseError(expression).Position, Is.EqualTo(position));

    [Test]
    public void Compile_UnexpectedCharacterAfterAstralCharacter_MessageCountsCodePoints()
    {
        var ex = ParseError("'\U0001F600' %");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex.Message, Is.EqualTo("Unexpected character: '%' at position 4"));
            Assert.That(ex.Position, Is.EqualTo(5));
        }
    }

    [TestCase("\U0001F600", "Unexpected character: '\U0001F600' at position 0")]
    [TestCase("a \u0001", "Unexpected character: '\\x01' at position 2")]
    [TestCase("a \u00a0 b", "Unexpected character: '\\xa0' at position 2")]
    [TestCase("a \u2028", "Unexpected character: '\\u2028' at position 2")]
    [TestCase("a \u00b2", "Unexpected character: '\u00b2' at position 2")]
    public void Compile_UnexpectedUnicodeCharacter_ShownPythonStyle(string expression, string message) =>
        Assert.That(ParseError(expression).Message, Is.EqualTo(message));

    [Test]
    public void Compile_UnknownFunctionWithRegistry_StillRejected()
    {
        var functions = new FunctionRegistry();
        functions.Register("DOUBLE", args => args[0]);
        Assert.That(ParseError("TRIPLE(1)", functions).Message, Is.EqualTo("Unknown function: TRIPLE"));
    }

    [Test]
    public void Compile_ExpressionLongerThanLimit_ThrowsParseError()
    {
        var text = "1" + string.Concat(Enumerable.Repeat(" + 1", ExpressionLimits.MaxLength / 4));
        Assert.That(text, Has.Length.GreaterThan(ExpressionLimits.MaxLength));
        Assert.That(ParseError(text).Message, Does.StartWith("Expression is too long"));
    }

    [Test]
    public void Compile_HundredThousandOpenParentheses_ThrowsParseErrorInsteadOfCrashing()
    {
        var text = new string('(', 100_000);
        var ex = Assert.Throws<ExpressionException>(() => CompiledExpression.Compile(text));
        Assert.That(ex!.IsParseError, Is.True);
    }

    [Test]
    public void Compile_ParenthesesJustOverDepthLimit_ThrowsNestedTooDeeply()
    {
        var depth = ExpressionLimits.MaxDepth + 1;
        var text = new string('(', depth) + "1" + new string(')', depth);
        Assert.That(ParseError(text).Message, Does.StartWith("Expression is nested too deeply"));
    }

    [TestCase("-")]
    [TestCase("NOT ")]
    [TestCase("ABS(")]
    public void Compile_RepeatedPrefixBeyondDepthLimit_ThrowsNestedTooDeeply(string prefix)
    {
        var depth = ExpressionLimits.MaxDepth + 1;
        var text = string.Concat(Enumerable.Repeat(prefix, depth)) + "1" + (prefix == "ABS(" ? new string(')', depth) : "");
        Assert.That(ParseError(text).Message, Does.StartWith("Expression is nested too deeply"));
    }

    [Test]
    public void Evaluate_MaximumDepthMixingEveryConstruct_WorksOnASmallStack()
    {
        // Each level: a parenthesised OR/AND/comparison/additive/multiplicative chain around a call.
        var depth = ExpressionLimits.MaxDepth / 2;
        var text = "1";
        for (var i = 0; i < depth; i++)
        {
            text = "ABS(0 OR 1 AND 1 * 1 + (" + text + ") * 1 + 0 > -1)";
        }

        var expression = CompiledExpression.Compile(text);
        object? result = null;
        Exception? error = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    result = expression.Evaluate(SpecRow);
                }
                catch (Exception ex)
                {
                    error = ex;
                }
            },
            maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();
        Assert.That(error, Is.Null);
        Assert.That(result, Is.EqualTo(1L));
    }

    [TestCase(1024, true)]
    [TestCase(160, false)]
    public void Compile_MaximumDepthOnLimitedStack_SucceedsOrFailsCleanly(int stackKiB, bool mustSucceed)
    {
        // NOT and ( each count one level; the parser runs ~10 frames per NOT-( pair.
        var depth = ExpressionLimits.MaxDepth / 2;
        var text = string.Concat(Enumerable.Repeat("NOT (", depth)) + "qty" + new string(')', depth);
        CompiledExpression? compiled = null;
        Exception? error = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    compiled = CompiledExpression.Compile(text);
                }
                catch (Exception ex)
                {
                    error = ex;
                }
            },
            maxStackSize: stackKiB * 1024);
        thread.Start();
        thread.Join();
        if (mustSucceed || error is null)
        {
            Assert.That(error, Is.Null);
            Assert.That(compiled!.IsTruthy(SpecRow), Is.True);
        }
        else
        {
            Assert.That(error, Is.InstanceOf<ExpressionException>());
            Assert.That(error!.Message, Does.StartWith("Expression is nested too deeply"));
        }
    }

    [Test]
    public void Evaluate_VeryLongOperatorChains_DoNotNestAndEvaluate()
    {
        var sum = "1" + string.Concat(Enumerable.Repeat(" + 1", 10_000));
        var ors = "qty == 0" + string.Concat(Enumerable.Repeat(" OR qty == 0", 3_000)) + " OR qty == 100";
        var ands = "TRUE" + string.Concat(Enumerable.Repeat(" AND 1", 5_000));
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval(sum), 10_001L);
            AssertValue(Eval(ors), true);
            AssertValue(Eval(ands), true);
        }
    }

    [Test]
    public void Compile_DepthExactlyAtLimit_Succeeds()
    {
        var depth = ExpressionLimits.MaxDepth;
        var text = new string('(', depth) + "1" + new string(')', depth);
        AssertValue(Eval(text), 1L);
    }
}
