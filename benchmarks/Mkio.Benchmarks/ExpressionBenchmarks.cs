using BenchmarkDotNet.Attributes;
using Mkio.Data;
using Mkio.Expressions;

namespace Mkio.Benchmarks;

/// <summary>
/// Per-row cost of the expression language on an order-book row: the compiled closure tree
/// (<see cref="CompiledExpression"/>, what subscriptions and <c>where</c> filters use) against a
/// tree-walking interpreter over the same syntax tree.
/// </summary>
[MemoryDiagnoser]
public class ExpressionBenchmarks
{
    private static readonly RowSchema OrderSchema = new(["id", "side", "symbol", "qty", "price", "status", "_mkio_ref"]);
    private Row _row = null!;
    private CompiledExpression _compiled = null!;
    private AstNode _ast = null!;

    [Params(
        "qty > 50 AND status == 'pending'",
        "IF(side == 'Buy', price, -price)",
        "price * qty > 10000 OR symbol STARTS_WITH 'AA'")]
    public string Expression { get; set; } = string.Empty;

    [GlobalSetup]
    public void Setup()
    {
        _row = new Row(OrderSchema, [42L, "Buy", "AAPL", 100L, 150.25, "pending", "20261124 21:00:00.123456700000"]);
        _compiled = CompiledExpression.Compile(Expression);
        _ast = Parser.Parse(Expression, Builtins.IsBuiltin);
        if (!TreeWalkInterpreter.Evaluate(_ast, _row).IsTruthy.Equals(_compiled.IsTruthy(_row)))
        {
            throw new InvalidOperationException("The interpreter and the compiler disagree on " + Expression);
        }
    }

    [Benchmark(Baseline = true, Description = "compiled closures")]
    public bool Compiled() => _compiled.IsTruthy(_row);

    [Benchmark(Description = "tree-walk interpreter")]
    public bool TreeWalk() => TreeWalkInterpreter.Evaluate(_ast, _row).IsTruthy;

    [Benchmark(Description = "parse + compile (per subscribe)")]
    public object ParseAndCompile() => CompiledExpression.Compile(Expression);
}
