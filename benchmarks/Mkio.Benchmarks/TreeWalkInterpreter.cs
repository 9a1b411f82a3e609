using Mkio.Data;
using Mkio.Expressions;

namespace Mkio.Benchmarks;

/// <summary>
/// A plain tree-walking interpreter over the same syntax tree the compiler consumes, with the same
/// operator semantics (<see cref="Ops"/>): the comparison point for the closure compiler. It looks
/// fields up by name on every evaluation, as a straightforward interpreter would.
/// </summary>
internal static class TreeWalkInterpreter
{
    public static Value Evaluate(AstNode node, Row row)
    {
        switch (node)
        {
            case LiteralNode literal:
                return literal.Value;

            case FieldNode field:
                if (!row.TryGetValue(field.Name, out var raw) || !Value.TryFromObject(raw, out var value))
                {
                    throw new InvalidOperationException("Unknown or unsupported field " + field.Name);
                }

                return value;

            case NegateNode negate:
                return Ops.Negate(Evaluate(negate.Operand, row), negate.Position);

            case NotNode not:
                return Value.Bool(!Evaluate(not.Operand, row).IsTruthy);

            case IsNullNode isNull:
                return Value.Bool(Evaluate(isNull.Operand, row).IsNull != isNull.Negated);

            case LogicalNode logical:
                {
                    var result = logical.IsAnd;
                    foreach (var operand in logical.Operands)
                    {
                        var truthy = Evaluate(operand, row).IsTruthy;
                        result = logical.IsAnd ? result & truthy : result | truthy;
                    }

                    return Value.Bool(result);
                }

            case ArithmeticNode arithmetic:
                {
                    var acc = Evaluate(arithmetic.First, row);
                    for (var i = 0; i < arithmetic.Operands.Length; i++)
                    {
                        acc = Ops.Arithmetic(arithmetic.Ops[i], acc, Evaluate(arithmetic.Operands[i], row), arithmetic.OpPositions[i]);
                    }

                    return acc;
                }

            case CompareNode compare:
                return Value.Bool(Ops.Compare(compare.Op, Evaluate(compare.Left, row), Evaluate(compare.Right, row), compare.Position));

            case CallNode { Name: "IF", Arguments.Length: 3 } call:
                return Evaluate(call.Arguments[0], row).IsTruthy ? Evaluate(call.Arguments[1], row) : Evaluate(call.Arguments[2], row);

            default:
                throw new NotSupportedException("The tree walker supports no " + node.GetType().Name);
        }
    }
}
