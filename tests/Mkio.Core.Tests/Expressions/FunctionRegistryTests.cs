using Mkio.Expressions;
using static Mkio.Core.Tests.Expressions.ExpressionTestHelpers;

namespace Mkio.Core.Tests.Expressions;

public class FunctionRegistryTests
{
    private static FunctionRegistry CreateWithDoubleAndHalf()
    {
        var functions = new FunctionRegistry();
        functions.Register("DOUBLE", args => args[0] switch
        {
            long l => (object)(l * 2),
            double d => d * 2,
            _ => throw new ArgumentException("DOUBLE needs a number"),
        }, 1);
        functions.Register("half", args => Convert.ToDouble(args[0], System.Globalization.CultureInfo.InvariantCulture) / 2);
        return functions;
    }

    [Test]
    public void Evaluate_RegisteredDouble_ReturnsSpecResult() =>
        AssertValue(Eval("DOUBLE(qty)", functions: CreateWithDoubleAndHalf()), 200L);

    [Test]
    public void IsTruthy_RegisteredHalfInFilter_KeepsRow() =>
        Assert.That(CompiledExpression.Compile("HALF(qty) > 30", CreateWithDoubleAndHalf()).IsTruthy(SpecRow), Is.True);

    [Test]
    public void Register_LowerCaseName_IsCallableCaseInsensitively()
    {
        var functions = CreateWithDoubleAndHalf();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(functions.Contains("HALF"), Is.True);
            Assert.That(functions.Contains("half"), Is.False);
            AssertValue(Eval("half(qty) + Half(2)", functions: functions), 51.0);
        }
    }

    [TestCase("AND")]
    [TestCase("or")]
    [TestCase("Not")]
    [TestCase("is")]
    [TestCase("null")]
    [TestCase("In")]
    [TestCase("contains")]
    [TestCase("Starts_With")]
    [TestCase("TRUE")]
    [TestCase("false")]
    [TestCase("IF")]
    [TestCase("if")]
    public void Register_KeywordName_ThrowsWithNameAsGiven(string name)
    {
        var functions = new FunctionRegistry();
        var ex = Assert.Throws<ArgumentException>(() => functions.Register(name, _ => null));
        Assert.That(ex!.Message, Is.EqualTo("Cannot register function with keyword name: " + name));
    }

    [Test]
    public void Evaluate_FunctionThrows_BecomesEvaluationErrorWithInnerException()
    {
        var functions = new FunctionRegistry();
        var boom = new InvalidOperationException("boom");
        functions.Register("FAIL", _ => throw boom);
        var ex = EvalError("FAIL()", functions: functions);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex.Message, Does.Contain("boom"));
            Assert.That(ex.InnerException, Is.SameAs(boom));
        }
    }

    [Test]
    public void Evaluate_FunctionRejectsArgument_BecomesEvaluationError() =>
        Assert.That(EvalError("DOUBLE(name)", functions: CreateWithDoubleAndHalf()).Message, Does.Contain("DOUBLE needs a number"));

    [Test]
    public void Evaluate_WrongArgumentCount_ThrowsEvaluationErrorNotCompileError()
    {
        var functions = CreateWithDoubleAndHalf();
        Assert.DoesNotThrow(() => CompiledExpression.Compile("DOUBLE(1, 2)", functions));
        Assert.That(EvalError("DOUBLE(1, 2)", functions: functions).Message, Does.StartWith("DOUBLE() takes 1 argument"));
    }

    [Test]
    public void Compile_FunctionOfAnotherRegistry_IsUnknown()
    {
        var other = new FunctionRegistry();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ParseError("DOUBLE(qty)", other).Message, Is.EqualTo("Unknown function: DOUBLE"));
            Assert.That(ParseError("double(qty)").Message, Is.EqualTo("Unknown function: double"));
        }
    }

    [Test]
    public void Evaluate_FunctionArguments_ArriveAsContractTypes()
    {
        var functions = new FunctionRegistry();
        object?[]? seen = null;
        functions.Register("SPY", args =>
        {
            seen = args;
            return null;
        });
        Eval("SPY(qty, price, name, tag, TRUE, 99999999999999999999)", functions: functions);
        Assert.That(seen!.Select(a => a?.GetType()), Is.EqualTo(new[]
        {
            typeof(long), typeof(double), typeof(string), null, typeof(bool), typeof(System.Numerics.BigInteger),
        }));
    }

    [Test]
    public void Evaluate_FunctionReturningOtherClrNumbers_AreConverted()
    {
        var functions = new FunctionRegistry();
        functions.Register("INT32", _ => 7);
        functions.Register("SINGLE", _ => 0.5f);
        functions.Register("LIST", _ => new List<object?> { 1L, "a" });
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("INT32() + 1", functions: functions), 8L);
            AssertValue(Eval("SINGLE() * 2", functions: functions), 1.0);
            AssertValue(Eval("'a' IN LIST()", functions: functions), true);
        }
    }

    [Test]
    public void Evaluate_FunctionReturningUnsupportedType_ThrowsEvaluationError()
    {
        var functions = new FunctionRegistry();
        functions.Register("OBJ", _ => new object());
        Assert.That(EvalError("OBJ()", functions: functions).Message, Does.Contain("unsupported value"));
    }

    [Test]
    public void Register_BuiltinName_ReplacesBuiltin()
    {
        var functions = new FunctionRegistry();
        functions.Register("upper", _ => "custom");
        AssertValue(Eval("UPPER(name)", functions: functions), "custom");
        AssertValue(Eval("UPPER(name)"), "ALICE");
    }

    [Test]
    public void Register_SameNameTwice_LastOneWins()
    {
        var functions = new FunctionRegistry();
        functions.Register("F", _ => 1L);
        functions.Register("f", _ => 2L);
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("F()", functions: functions), 2L);
            Assert.That(functions.RegisteredNames, Is.EqualTo(new[] { "F" }));
        }
    }

    [Test]
    public void Contains_BuiltinsAndIf_AreKnown()
    {
        var functions = new FunctionRegistry();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(functions.Contains("ROUND"), Is.True);
            Assert.That(functions.Contains("IF"), Is.True);
            Assert.That(functions.Contains("AND"), Is.False);
            Assert.That(functions.IsRegistered("ROUND"), Is.False);
        }
    }

    [Test]
    public void Register_InvalidArguments_Throw()
    {
        var functions = new FunctionRegistry();
        using (Assert.EnterMultipleScope())
        {
            Assert.Throws<ArgumentException>(() => functions.Register("", _ => null));
            Assert.Throws<ArgumentNullException>(() => functions.Register("X", null!));
            Assert.Throws<ArgumentOutOfRangeException>(() => functions.Register("X", _ => null, 2, 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => functions.Register("X", _ => null, -1));
        }
    }

    [Test]
    public void Evaluate_VariadicWithMinimum_ChecksMinimumOnly()
    {
        var functions = new FunctionRegistry();
        functions.Register("COUNT", args => (long)args.Length, 1, -1);
        using (Assert.EnterMultipleScope())
        {
            AssertValue(Eval("COUNT(1, 2, 3)", functions: functions), 3L);
            Assert.That(EvalError("COUNT()", functions: functions).Message, Does.StartWith("COUNT() takes at least 1"));
        }
    }
}
