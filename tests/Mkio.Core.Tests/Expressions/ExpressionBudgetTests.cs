using Mkio.Data;
using Mkio.Expressions;
using static Mkio.Core.Tests.Expressions.ExpressionTestHelpers;

namespace Mkio.Core.Tests.Expressions;

/// <summary>
/// The cost limits of client filters (issue 9 item 2): static rejection at compile time and a
/// per-evaluation budget that every allocating or scanning operation draws from before the work.
/// </summary>
public class ExpressionBudgetTests
{
    private static readonly CostLimits Filter = new MkioFilterLimits().ToCostLimits();

    private static CompiledExpression CompileFilter(string text, CostLimits? limits = null) => CompiledExpression.Compile(text, null, limits ?? Filter);

    private static ExpressionException StaticRejection(string text, CostLimits? limits = null)
    {
        var ex = Assert.Throws<ExpressionException>(() => CompileFilter(text, limits))!;
        Assert.That(ex.Kind, Is.EqualTo(ExpressionErrorKind.Parse), "a static limit is a compile (nack) error");
        return ex;
    }

    /// <summary>Evaluates and returns the error and the bytes this thread allocated meanwhile.</summary>
    private static (ExpressionException Error, long Allocated) BudgetError(CompiledExpression expression, Row row)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<ExpressionException>(() => expression.Evaluate(row))!;
        return (ex, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Test]
    public void Repeat_HugeCountFromARow_FailsBeforeAllocating()
    {
        var expression = CompileFilter("name * 2000000000");
        var (error, allocated) = BudgetError(expression, SpecRow);
        Assert.That(error.Message, Does.StartWith("Result too large"));
        Assert.That(allocated, Is.LessThan(64 * 1024), "nothing proportional to the result was allocated");
    }

    [Test]
    public void Repeat_UnderTheHardCapButOverTheBudget_BudgetErrorBeforeAllocating()
    {
        // 5 × 400,000 = 2,000,000 characters: below the 16 Mi hard cap, above MaxResultLength (256 Ki).
        var expression = CompileFilter("(name * 400000) CONTAINS 'x'");
        var (error, allocated) = BudgetError(expression, SpecRow);
        Assert.That(error.IsBudgetExceeded, Is.True, error.Message);
        Assert.That(error.Message, Does.StartWith("Expression too expensive").And.Contain("Mkio:FilterLimits:MaxResultLength"));
        Assert.That(allocated, Is.LessThan(64 * 1024));
    }

    [Test]
    public void Budget_IsPerEvaluation_SumsIntermediateValuesAndResetsForTheNextRow()
    {
        // One term of 150,000 characters fits; two in one evaluation do not.
        var one = CompileFilter("(name * 30000) CONTAINS 'x'");
        Assert.That(one.IsTruthy(SpecRow), Is.False);
        Assert.That(one.IsTruthy(SpecRow), Is.False, "a fresh budget for every evaluation");

        var two = CompileFilter("(name * 30000) CONTAINS 'x' OR (name * 30000) CONTAINS 'y'");
        Assert.That(BudgetError(two, SpecRow).Error.IsBudgetExceeded, Is.True);

        // Intermediate values count: 100,000 + 100,000 + the 200,000 of their concatenation.
        Assert.That(CompileFilter("(name * 6000) + (name * 6000) CONTAINS 'x'").IsTruthy(SpecRow), Is.False);
        Assert.That(BudgetError(CompileFilter("(name * 20000) + (name * 20000) CONTAINS 'x'"), SpecRow).Error.IsBudgetExceeded, Is.True);
    }

    [Test]
    public void NestedDoubling_FromARowValue_StopsAtTheBudget()
    {
        var doubling = "name" + string.Concat(Enumerable.Repeat(" * 2", 24)); // 5 × 2^24 characters
        var (error, allocated) = BudgetError(CompileFilter(doubling), SpecRow);
        Assert.That(error.IsBudgetExceeded, Is.True, error.Message);
        Assert.That(allocated, Is.LessThan(1024 * 1024), "stopped near the budget (2 bytes per character), long before 5 × 2^24");

        var concat = "(" + string.Join(" + ", Enumerable.Repeat("(name * 3000)", 8)) + ")";
        var nested = "(" + concat + " + " + concat + ") + (" + concat + " + " + concat + ")"; // 32 × 15,000 characters, in steps
        Assert.That(BudgetError(CompileFilter(nested), SpecRow).Error.IsBudgetExceeded, Is.True);
    }

    [Test]
    public void IssueFilter_ConstantRepetition_RejectedAtCompileTime()
    {
        var term = "('x' * 16000000) CONTAINS symbol";
        var text = string.Join(" OR ", Enumerable.Repeat(term, 30)); // the ~1 KB subscribe of issue 9
        Assert.That(text.Length, Is.LessThan(1100));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var ex = StaticRejection(text);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(1024 * 1024), "rejected before building the string");
        Assert.That(ex.IsBudgetExceeded, Is.True);
        Assert.That(ex.Message, Does.StartWith("Expression too expensive").And.Contain("MaxResultLength"));
    }

    [Test]
    public void ConstantFolding_SharesOneBudgetAcrossTheWholeExpression()
    {
        // Each constant fits on its own; together they would pin 300,000 characters in the compiled filter.
        var text = string.Join(" OR ", Enumerable.Repeat("symbol == ('ab' * 50000)", 3));
        Assert.That(StaticRejection(text).IsBudgetExceeded, Is.True);
        Assert.That(CompileFilter("symbol == ('ab' * 50000)").IsTruthy(MakeRow(("symbol", "ab"))), Is.False);
    }

    [Test]
    public void ConstantFolding_KeepsPerRowErrorsAndLazyIf()
    {
        Assert.That(CompileFilter("IF(0, 1/0, 3)").Evaluate(SpecRow), Is.EqualTo(3L));
        var ex = Assert.Throws<ExpressionException>(() => CompileFilter("qty > 1 AND 1 / 0 > 1").Evaluate(SpecRow))!;
        Assert.That(ex.Message, Is.EqualTo("Division by zero"));
        Assert.That(CompileFilter("'ab' * 3 + UPPER('c') == 'abababC'").IsTruthy(SpecRow), Is.True);
    }

    [Test]
    public void TrustedLimits_ConfigExpressionsKeepOnlyTheHardCaps()
    {
        // A config expression may build what a filter may not (only the 16 Mi per-value cap applies).
        Assert.That(CompiledExpression.Compile("(name * 400000) CONTAINS 'x'").IsTruthy(SpecRow), Is.False);
        Assert.That(Assert.Throws<ExpressionException>(() => CompiledExpression.Compile("name * 4000000").Evaluate(SpecRow))!.Message, Does.StartWith("Result too large"));
    }

    [Test]
    public void Scans_LongHaystackOrNeedle_DrawWork()
    {
        var big = MakeRow(("text", new string('a', 5_000_000)));
        var ex = BudgetError(CompileFilter("text CONTAINS 'b'"), big).Error;
        Assert.That(ex.Message, Does.Contain("Mkio:FilterLimits:MaxWork"));

        // A 2,000-character needle multiplies the cost of searching a 100,000-character field.
        var row = MakeRow(("text", new string('a', 100_000)));
        Assert.That(CompileFilter("text CONTAINS 'ab'").IsTruthy(row), Is.False);
        Assert.That(BudgetError(CompileFilter("text CONTAINS '" + new string('a', 2000) + "b'"), row).Error.IsBudgetExceeded, Is.True);
        Assert.That(BudgetError(CompileFilter(string.Join(" OR ", Enumerable.Repeat("text == text", 50))), row).Error.IsBudgetExceeded, Is.True);
    }

    [Test]
    public void UpperOfALongValue_DrawsFromTheBudget()
    {
        var row = MakeRow(("text", new string('a', 200_000)));
        Assert.That(CompileFilter("UPPER(text) STARTS_WITH 'A'").IsTruthy(row), Is.True);
        Assert.That(BudgetError(CompileFilter("UPPER(text) STARTS_WITH 'A' AND LOWER(text) STARTS_WITH 'a'"), row).Error.IsBudgetExceeded, Is.True);
    }

    [Test]
    public void BigIntegerProducts_DrawWordWork()
    {
        var limits = Filter with { MaxWork = 10_000, MaxNodes = 100_000, MaxLength = 65536 };
        var product = "x" + string.Concat(Enumerable.Repeat(" * x", 400)); // 400 multiplications of a growing integer
        var row = MakeRow(("x", long.MaxValue));
        Assert.That(BudgetError(CompileFilter(product, limits), row).Error.IsBudgetExceeded, Is.True);
        Assert.That(CompileFilter("x * x * x > 0", limits).IsTruthy(row), Is.True);
    }

    [TestCase(8193, "Expression is too long: 8193 characters (maximum 8192; Mkio:FilterLimits:MaxLength)")]
    public void StaticLimits_TooLong(int length, string message)
    {
        var text = "a" + new string(' ', length - 1);
        Assert.That(StaticRejection(text).Message, Is.EqualTo(message));
    }

    [Test]
    public void StaticLimits_TooDeepAndTooManyNodes()
    {
        Assert.That(StaticRejection(new string('(', 65) + "1" + new string(')', 65)).Message,
            Is.EqualTo("Expression is nested too deeply (maximum depth 64; Mkio:FilterLimits:MaxDepth)"));
        Assert.That(CompileFilter(new string('(', 60) + "1" + new string(')', 60)).Evaluate(SpecRow), Is.EqualTo(1L));

        var many = string.Join(" OR ", Enumerable.Repeat("qty == 1", 400)); // 1 + 400 × 3 nodes
        Assert.That(StaticRejection(many).Message, Is.EqualTo("Expression has too many parts: 1201 nodes (maximum 1000; Mkio:FilterLimits:MaxNodes)"));
        Assert.That(CompileFilter(string.Join(" OR ", Enumerable.Repeat("qty == 1", 300))).IsTruthy(SpecRow), Is.False);
    }

    [Test]
    public void Fields_ListsEachFieldOnceWithItsFirstPosition()
    {
        var e = CompileFilter("stauts == 'pending' AND qty > 1 OR UPPER(stauts) == 'X'");
        Assert.That(e.Fields, Is.EqualTo(new[] { ("stauts", 0), ("qty", 24) }));
    }
}
