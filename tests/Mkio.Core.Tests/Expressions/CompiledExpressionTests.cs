using System.Numerics;
using Mkio.Data;
using Mkio.Expressions;
using static Mkio.Core.Tests.Expressions.ExpressionTestHelpers;

namespace Mkio.Core.Tests.Expressions;

public class CompiledExpressionTests
{
    // ---- §10 test vectors on the spec row ------------------------------------------------------

    [TestCase("name", "Alice")]
    [TestCase("qty > 50", true)]
    [TestCase("qty < 50", false)]
    [TestCase("status == 'pending'", true)]
    [TestCase("status != 'pending'", false)]
    [TestCase("qty * price", 1500.0)]
    [TestCase("qty + 10", 110L)]
    [TestCase("qty > 50 AND status == 'pending'", true)]
    [TestCase("qty > 200 OR status == 'pending'", true)]
    [TestCase("qty > 200 AND status == 'filled'", false)]
    [TestCase("NOT qty > 200", true)]
    [TestCase("tag IS NULL", true)]
    [TestCase("name IS NULL", false)]
    [TestCase("tag IS NOT NULL", false)]
    [TestCase("name CONTAINS 'lic'", true)]
    [TestCase("name CONTAINS 'xyz'", false)]
    [TestCase("name STARTS_WITH 'Ali'", true)]
    [TestCase("name STARTS_WITH 'Bob'", false)]
    [TestCase("UPPER(name)", "ALICE")]
    [TestCase("LOWER(name)", "alice")]
    [TestCase("upper(name)", "ALICE")]
    [TestCase("COALESCE(tag, 'default')", "default")]
    [TestCase("COALESCE(name, 'default')", "Alice")]
    [TestCase("-qty", -100L)]
    [TestCase("IF(qty > 50, 'big', 'small')", "big")]
    [TestCase("IF(qty < 50, 'big', 'small')", "small")]
    [TestCase("IF(0, 1/0, 3)", 3L)]
    [TestCase(@"'it\'s'", "it's")]
    [TestCase("'abc' * 2", "abcabc")]
    [TestCase("5 == 5.0", true)]
    [TestCase("TRUE == 1", true)]
    [TestCase("TRUE + 1", 2L)]
    [TestCase("1 + 2.0", 3.0)]
    [TestCase("7 / 2", 3.5)]
    [TestCase("10 / 5", 2.0)]
    [TestCase("2 * 3 + 4 * 5", 26L)]
    [TestCase("7 - 2 - 1", 4L)]
    [TestCase("'B' < 'a'", true)]
    [TestCase(".5 + 1.", 1.5)]
    [TestCase("COALESCE()", null)]
    [TestCase("UPPER(5)", 5L)]
    [TestCase("LOWER(NULL)", null)]
    [TestCase("IF(NULL, 1, 2)", 2L)]
    [TestCase("IF('', 1, 2)", 2L)]
    public void Evaluate_SpecVector_ReturnsReferenceResult(string expression, object? expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Evaluate_RoundWithPrice157_Returns16()
    {
        var row = MakeRow(("price", 15.7));
        AssertValue(Eval("ROUND(price, 0)", row), 16.0);
    }

    [Test]
    public void Evaluate_AbsOfNegativeQty_ReturnsPositiveInteger()
    {
        var row = MakeRow(("qty", -5L));
        AssertValue(Eval("ABS(qty)", row), 5L);
    }

    [TestCase("Buy", 10.0)]
    [TestCase("Sell", -10.0)]
    public void Evaluate_IfOnSide_ReturnsSignedPrice(string side, double expected)
    {
        var row = MakeRow(("side", side), ("price", 10.0));
        AssertValue(Eval("IF(side == 'Buy', price, -price)", row), expected);
    }

    [TestCase("10 / 0", "Division by zero")]
    [TestCase("nonexistent", "Unknown field: nonexistent")]
    [TestCase("IF(1, 2)", "IF() requires exactly 3 arguments")]
    public void Evaluate_SpecErrorVector_ThrowsEvaluationErrorWithReferenceText(string expression, string message) =>
        Assert.That(EvalError(expression).Message, Is.EqualTo(message));

    [TestCase("'abc' + 1")]
    [TestCase("tag > 1")]
    [TestCase("tag < tag")]
    [TestCase("'a' < 1")]
    [TestCase("-'a'")]
    [TestCase("-tag")]
    [TestCase("'a' - 'b'")]
    [TestCase("'ab' * 2.0")]
    [TestCase("'a' / 2")]
    [TestCase("name CONTAINS 1")]
    [TestCase("name STARTS_WITH tag")]
    [TestCase("UPPER(1, 2)")]
    [TestCase("ROUND(NULL)")]
    [TestCase("ROUND('1.5')")]
    [TestCase("ABS('a')")]
    public void Evaluate_TypeMismatch_ThrowsEvaluationError(string expression) =>
        Assert.That(EvalError(expression).Message, Is.Not.Empty);

    [Test]
    public void Evaluate_OrderingWithNullField_MessageNamesBothTypes() =>
        Assert.That(EvalError("tag > 1").Message, Is.EqualTo("'>' not supported between instances of 'NoneType' and 'int'"));

    // ---- §4 semantics ----------------------------------------------------------------------------

    [Test]
    public void Evaluate_OrWithDivisionByZeroOnRightSide_ThrowsBecauseNoShortCircuit()
    {
        var row = MakeRow(("qty", 0L), ("price", 10.0));
        Assert.That(EvalError("qty == 0 OR price / qty > 1", row).Message, Is.EqualTo("Division by zero"));
    }

    [TestCase("FALSE AND nonexistent")]
    [TestCase("TRUE OR nonexistent")]
    [TestCase("TRUE OR FALSE OR nonexistent")]
    [TestCase("FALSE AND TRUE AND nonexistent")]
    [TestCase("COALESCE(1, nonexistent)")]
    public void Evaluate_LaterOperandFails_ErrorPropagates(string expression) =>
        Assert.That(EvalError(expression).Message, Is.EqualTo("Unknown field: nonexistent"));

    [TestCase("1 AND 'x'", true)]
    [TestCase("1 AND ''", false)]
    [TestCase("0 OR 0.0", false)]
    [TestCase("0 OR 'a'", true)]
    [TestCase("NOT ''", true)]
    [TestCase("NOT 0.0", true)]
    [TestCase("NOT NULL", true)]
    [TestCase("NOT 'a'", false)]
    [TestCase("1 AND 2 AND 3 AND 0", false)]
    [TestCase("0 OR 0 OR 0 OR 5", true)]
    public void Evaluate_LogicalOperators_ReturnBooleanOfTruthiness(string expression, bool expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Evaluate_IfWithFalseCondition_DoesNotEvaluateOtherBranch()
    {
        var row = MakeRow(("qty", 0L), ("price", 10.0));
        AssertValue(Eval("IF(qty > 0, price / qty, 0)", row), 0L);
    }

    [TestCase("IF()")]
    [TestCase("IF(1, 2, 3, 4)")]
    [TestCase("if(1/0, 2)")]
    public void Evaluate_IfWithWrongArgumentCount_FailsOnlyAtEvaluation(string expression)
    {
        Assert.DoesNotThrow(() => CompiledExpression.Compile(expression));
        Assert.That(EvalError(expression).Message, Is.EqualTo("IF() requires exactly 3 arguments"));
    }

    [TestCase("1 == 1.0", true)]
    [TestCase("TRUE == 1", true)]
    [TestCase("FALSE == 0", true)]
    [TestCase("TRUE == 1.0", true)]
    [TestCase("NULL == NULL", true)]
    [TestCase("NULL != NULL", false)]
    [TestCase("'1' == 1", false)]
    [TestCase("NULL == 0", false)]
    [TestCase("NULL == FALSE", false)]
    [TestCase("'' == FALSE", false)]
    [TestCase("'a' == 'a'", true)]
    [TestCase("'a' != 'A'", true)]
    [TestCase("1 != 2", true)]
    [TestCase("0.1 + 0.2 == 0.3", false)]
    [TestCase("TRUE < 2", true)]
    [TestCase("FALSE >= 0.0", true)]
    [TestCase("2.5 > 2", true)]
    [TestCase("2 <= 2.0", true)]
    [TestCase("'abc' < 'abd'", true)]
    [TestCase("'ab' < 'abc'", true)]
    [TestCase("'b' >= 'abc'", true)]
    [TestCase("'' <= ''", true)]
    public void Evaluate_Comparison_FollowsPythonRules(string expression, bool expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Evaluate_StringOrdering_UsesCodePointsNotUtf16Units()
    {
        // U+FFFF < U+1F600 by code point, although the surrogate 0xD83D < 0xFFFF as UTF-16 units.
        AssertValue(Eval("'\uFFFF' < '\U0001F600'"), true);
    }

    [Test]
    public void Evaluate_NaNField_IsUnequalAndUnorderedButTruthy()
    {
        var row = MakeRow(("x", double.NaN));
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("x == x", row), false);
            AssertValue(Eval("x != x", row), true);
            AssertValue(Eval("x > 1", row), false);
            AssertValue(Eval("x <= 1", row), false);
            AssertValue(Eval("x == 1", row), false);
            Assert.That(CompiledExpression.Compile("x").IsTruthy(row), Is.True);
        }
    }

    [Test]
    public void Evaluate_IntegerAgainstFloat_ComparesExactly()
    {
        // 2^53 + 1 is not representable as a double; Python compares exactly.
        var row = MakeRow(("i", 9007199254740993L), ("f", 9007199254740992.0));
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("i == f", row), false);
            AssertValue(Eval("i > f", row), true);
            AssertValue(Eval("f < i", row), true);
            AssertValue(Eval("i - 1 == f", row), true);
        }
    }

    [TestCase("3 * 'ab'", "ababab")]
    [TestCase("'ab' * 3", "ababab")]
    [TestCase("'ab' * 0", "")]
    [TestCase("'ab' * -2", "")]
    [TestCase("'ab' * TRUE", "ab")]
    [TestCase("FALSE * 'ab'", "")]
    [TestCase("'a' + 'b'", "ab")]
    [TestCase("'' + ''", "")]
    public void Evaluate_StringOperators_ConcatenateAndRepeat(string expression, string expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Evaluate_HugeRepetition_ThrowsEvaluationErrorInsteadOfExhaustingMemory() =>
        Assert.That(EvalError("'abc' * 100000000000").Message, Does.StartWith("Result too large"));

    [TestCase("1 / 0.0")]
    [TestCase("1 / FALSE")]
    [TestCase("1.5 / 0")]
    [TestCase("'a' / 0")]
    [TestCase("1 / (2 - 2)")]
    public void Evaluate_DivisionByAnyZero_ThrowsDivisionByZero(string expression) =>
        Assert.That(EvalError(expression).Message, Is.EqualTo("Division by zero"));

    [TestCase("TRUE / 2", 0.5)]
    [TestCase("1 / 3", 1.0 / 3)]
    [TestCase("-7 / 2", -3.5)]
    [TestCase("6 / 3", 2.0)]
    [TestCase("99999999999999999999 / 3", 33333333333333333333.0)]
    [TestCase("9007199254740993 / 1", 9007199254740992.0)]
    public void Evaluate_TrueDivision_AlwaysReturnsFloat(string expression, double expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Evaluate_ZeroDividedByNegative_IsNegativeZero() =>
        Assert.That(double.IsNegative((double)Eval("0 / -5")!), Is.True);

    [TestCase("-TRUE", -1L)]
    [TestCase("-FALSE", 0L)]
    [TestCase("- -qty", 100L)]
    [TestCase("-qty * 2", -200L)]
    [TestCase("-2.5", -2.5)]
    [TestCase("TRUE + TRUE", 2L)]
    [TestCase("TRUE * 3", 3L)]
    [TestCase("qty - 0.5", 99.5)]
    [TestCase("2 + 3 * 4", 14L)]
    [TestCase("(2 + 3) * 4", 20L)]
    [TestCase("1 - 2 - 3", -4L)]
    [TestCase("12 / 3 / 2", 2.0)]
    [TestCase("NOT 1 > 3 AND 2 < 10", true)]
    [TestCase("NOT (1 < 3 AND 2 < 10)", false)]
    [TestCase("1 + 1 == 2", true)]
    [TestCase("'a' + 'b' == 'ab'", true)]
    [TestCase("(1 == 1) == TRUE", true)]
    [TestCase("not(TRUE)", false)]
    public void Evaluate_ArithmeticAndPrecedence_MatchesGrammar(string expression, object expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Evaluate_Int64Overflow_ContinuesWithExactBigInteger()
    {
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("9223372036854775807 + 1"), Big("9223372036854775808"));
            AssertValue(Eval("-9223372036854775807 - 2"), Big("-9223372036854775809"));
            AssertValue(Eval("4611686018427387904 * 4"), Big("18446744073709551616"));
            AssertValue(Eval("-(-9223372036854775807 - 1)"), Big("9223372036854775808"));
            AssertValue(Eval("99999999999999999999 * 99999999999999999999"), Big("9999999999999999999800000000000000000001"));
        }
    }

    [Test]
    public void Evaluate_BigIntegerBackInRange_NormalisesToInt64()
    {
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("9223372036854775808 - 1"), long.MaxValue);
            AssertValue(Eval("-9223372036854775808"), long.MinValue);
            AssertValue(Eval("99999999999999999999 - 99999999999999999999"), 0L);
            AssertValue(Eval("9223372036854775808 == 9223372036854775808.0"), true);
            AssertValue(Eval("99999999999999999999 == 100000000000000000000.0"), false);
            AssertValue(Eval("99999999999999999999 < 100000000000000000000.0"), true);
            AssertValue(Eval("99999999999999999999 + 0.5"), 1e20);
        }
    }

    [Test]
    public void Evaluate_BigIntegerFieldFromFormatter_IsUsedAsInteger()
    {
        var row = MakeRow(("big", BigInteger.Pow(2, 70)));
        AssertValue(Eval("big / big", row), 1.0);
        AssertValue(Eval("big - big + 1", row), 1L);
    }

    [TestCase("and == 1", true)]
    [TestCase("contains", 5L)]
    [TestCase("contains CONTAINS 'x'", false)]
    public void Evaluate_KeywordsAsFieldNames_AreFieldReferences(string expression, object expected)
    {
        var row = MakeRow(("and", 1L), ("contains", 5L));
        AssertValue(Eval(expression, row), expected);
    }

    [TestCase("qty > 50 and status == 'pending'", true)]
    [TestCase("qty > 200 Or status == 'pending'", true)]
    [TestCase("not qty > 200", true)]
    [TestCase("tag is NULL", true)]
    [TestCase("tag is not NULL", false)]
    [TestCase("name contains 'lic'", true)]
    [TestCase("name starts_with 'Ali'", true)]
    [TestCase("true == True", true)]
    [TestCase("null IS NULL", true)]
    [TestCase("cOaLeScE(tag, 'x')", "x")]
    public void Evaluate_KeywordsAndFunctionNames_AreCaseInsensitive(string expression, object expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Evaluate_FieldNames_AreCaseSensitive() =>
        Assert.That(EvalError("NAME").Message, Is.EqualTo("Unknown field: NAME"));

    [Test]
    public void Evaluate_KeywordUsedAsFunction_ParsesButFailsAtEvaluation()
    {
        Assert.DoesNotThrow(() => CompiledExpression.Compile("AND(1)"));
        Assert.That(EvalError("and(1)").Message, Is.EqualTo("Unknown function: AND"));
    }

    [TestCase("name CONTAINS ''", true)]
    [TestCase("qty CONTAINS 'a'", false)]
    [TestCase("tag CONTAINS 'a'", false)]
    [TestCase("tag CONTAINS 1", false)]
    [TestCase("name STARTS_WITH ''", true)]
    [TestCase("qty STARTS_WITH 'a'", false)]
    [TestCase("name CONTAINS 'A' + 'li'", true)]
    [TestCase("1 IN name", false)]
    [TestCase("'A' IN name", false)]
    [TestCase("1 IN (1)", false)]
    public void Evaluate_ContainsStartsWithIn_FollowSpec(string expression, bool expected) =>
        AssertValue(Eval(expression), expected);

    [Test]
    public void Evaluate_ListValues_SupportMembershipEqualityConcatenationAndOrdering()
    {
        var row = MakeRow(("xs", new object?[] { 1L, 2.0, "a" }), ("ys", new List<object?> { 1L, 3L }), ("empty", Array.Empty<object?>()));
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("2 IN xs", row), true);
            AssertValue(Eval("TRUE IN xs", row), true);
            AssertValue(Eval("'a' IN xs", row), true);
            AssertValue(Eval("3 IN xs", row), false);
            AssertValue(Eval("xs == xs", row), true);
            AssertValue(Eval("xs == ys", row), false);
            AssertValue(Eval("xs < ys", row), true);
            AssertValue(Eval("ys > xs", row), true);
            AssertValue(Eval("empty < ys", row), true);
            Assert.That(Eval("xs + ys", row), Is.EqualTo(new object?[] { 1L, 2.0, "a", 1L, 3L }));
            Assert.That(Eval("ys * 2", row), Is.EqualTo(new object?[] { 1L, 3L, 1L, 3L }));
            Assert.That(CompiledExpression.Compile("empty").IsTruthy(row), Is.False);
            Assert.That(CompiledExpression.Compile("xs").IsTruthy(row), Is.True);
        }
    }

    [Test]
    public void Evaluate_BlobField_ComparesByContent()
    {
        var row = MakeRow(("b", new byte[] { 1, 2 }), ("c", new byte[] { 1, 2 }), ("e", Array.Empty<byte>()));
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("b == c", row), true);
            AssertValue(Eval("b CONTAINS 'x'", row), false);
            Assert.That(CompiledExpression.Compile("e").IsTruthy(row), Is.False);
            Assert.That(CompiledExpression.Compile("b").IsTruthy(row), Is.True);
        }
    }

    [TestCase(@"'a\nb'", @"a\nb")]
    [TestCase(@"'a\\b'", @"a\\b")]
    [TestCase(@"'\''", "'")]
    [TestCase(@"'a\\\'b'", @"a\\'b")]
    [TestCase("'say \"hi\"'", "say \"hi\"")]
    [TestCase("'caf\u00e9'", "caf\u00e9")]
    public void Evaluate_StringLiteral_OnlyBackslashQuoteIsAnEscape(string expression, string expected) =>
        AssertValue(Eval(expression), expected);

    [TestCase(0L, false)]
    [TestCase(3L, true)]
    public void IsTruthy_FieldAsFilter_KeepsNonZeroRows(long qty, bool expected) =>
        Assert.That(CompiledExpression.Compile("qty").IsTruthy(MakeRow(("qty", qty))), Is.EqualTo(expected));

    [TestCase("''", false)]
    [TestCase("'a'", true)]
    [TestCase("0.0", false)]
    [TestCase("-0.0", false)]
    [TestCase("0.1", true)]
    [TestCase("NULL", false)]
    [TestCase("99999999999999999999", true)]
    public void IsTruthy_Literals_FollowPythonTruthiness(string expression, bool expected) =>
        Assert.That(CompiledExpression.Compile(expression).IsTruthy(SpecRow), Is.EqualTo(expected));

    [Test]
    public void IsTruthy_EvaluationError_Throws() =>
        Assert.Throws<ExpressionException>(() => CompiledExpression.Compile("tag > 1").IsTruthy(SpecRow));

    [Test]
    public void Evaluate_PassThroughField_ReturnsTheRowsOwnBox()
    {
        object boxed = 42L;
        var row = MakeRow(("qty", boxed));
        Assert.That(CompiledExpression.Compile("qty").Evaluate(row), Is.SameAs(boxed));
    }

    [Test]
    public void Text_AfterCompile_IsTheSource() =>
        Assert.That(CompiledExpression.Compile("qty > 1").Text, Is.EqualTo("qty > 1"));

    [Test]
    public void Evaluate_NonStandardClrValuesInRow_AreConverted()
    {
        var row = MakeRow(("i", 7), ("f", 1.5f), ("m", 2.25m), ("u", ulong.MaxValue));
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("i", row), 7L);
            AssertValue(Eval("f", row), 1.5);
            AssertValue(Eval("m * 4", row), 9.0);
            AssertValue(Eval("u", row), new BigInteger(ulong.MaxValue));
        }
    }

    [Test]
    public void Evaluate_UnsupportedClrValueInRow_ThrowsEvaluationError()
    {
        var row = MakeRow(("when", new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc)));
        Assert.That(EvalError("when", row).Message, Does.Contain("unsupported value"));
    }

    // ---- schema index caching -------------------------------------------------------------------

    [Test]
    public void Evaluate_SameExpressionOnRowsOfDifferentSchemas_ResolvesFieldPerSchema()
    {
        var expression = CompiledExpression.Compile("b * 10 + a");
        var first = MakeRow(("a", 1L), ("b", 2L));
        var second = MakeRow(("b", 3L), ("x", "ignored"), ("a", 4L));
        var sameShapeAsFirst = MakeRow(("a", 5L), ("b", 6L)); // equal names, different schema instance
        var missing = MakeRow(("a", 1L));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(expression.Evaluate(first), Is.EqualTo(21L));
            Assert.That(expression.Evaluate(second), Is.EqualTo(34L));
            Assert.That(expression.Evaluate(first), Is.EqualTo(21L));
            Assert.That(expression.Evaluate(sameShapeAsFirst), Is.EqualTo(65L));
            Assert.That(Assert.Throws<ExpressionException>(() => expression.Evaluate(missing))!.Message, Is.EqualTo("Unknown field: b"));
            Assert.That(expression.Evaluate(second), Is.EqualTo(34L));
        }
    }

    [Test]
    public void Evaluate_ConcurrentRowsOfAlternatingSchemas_AlwaysReadsTheRightColumn()
    {
        var expression = CompiledExpression.Compile("v - k");
        var schemaA = new RowSchema(["k", "v"]);
        var schemaB = new RowSchema(["v", "pad", "k"]);
        var failures = 0;
        Parallel.For(0, 200_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var row = (i & 1) == 0
                ? new Row(schemaA, [(long)i, i + 7L])
                : new Row(schemaB, [i + 7L, "x", (long)i]);
            if (!Equals(expression.Evaluate(row), 7L))
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.That(failures, Is.Zero);
    }

    // ---- allocation-free filter path ------------------------------------------------------------

    [TestCase("qty > 50 AND status == 'pending'")]
    [TestCase("qty > 200 OR NOT status != 'pending'")]
    [TestCase("name CONTAINS 'lic' AND name STARTS_WITH 'Al'")]
    [TestCase("price * qty >= 1500.0 AND qty + 1 > 100 AND qty / 4 == 25")]
    [TestCase("tag IS NULL AND name IS NOT NULL")]
    [TestCase("IF(qty > 0, qty, 0) == 100 OR COALESCE(tag, 0) == 1")]
    [TestCase("-qty < ABS(-3) AND ROUND(price, 1) == 15.0")]
    [TestCase("1 < 2 OR 3 < 4 OR 5 < 6 OR qty == 7")]
    public void IsTruthy_CommonFilter_DoesNotAllocate(string filter)
    {
        var expression = CompiledExpression.Compile(filter);
        var row = SpecRow;
        for (var i = 0; i < 100; i++)
        {
            expression.IsTruthy(row); // warm up (JIT, tiering)
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var kept = 0;
        for (var i = 0; i < 1000; i++)
        {
            if (expression.IsTruthy(row))
            {
                kept++;
            }
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(kept, Is.EqualTo(1000));
        Assert.That(allocated, Is.Zero);
    }
}
