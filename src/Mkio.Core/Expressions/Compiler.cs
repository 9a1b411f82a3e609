using System.Globalization;
using System.Runtime.CompilerServices;
using Mkio.Data;

namespace Mkio.Expressions;

/// <summary>Evaluates a compiled (sub)expression against one row.</summary>
internal delegate Value Evaluator(Row row);

/// <summary>
/// Turns a syntax tree into a tree of closures, once. Evaluation then costs one delegate call per
/// node and no dictionary lookups: field indexes are cached per <see cref="RowSchema"/>.
/// </summary>
internal static class Compiler
{
    public static Evaluator Compile(AstNode node, FunctionRegistry? functions)
    {
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw Errors.Parse("Expression is nested too deeply", node.Position);
        }

        switch (node)
        {
            case LiteralNode literal:
                {
                    var value = literal.Value;
                    return _ => value;
                }

            case FieldNode field:
                return new FieldReader(field.Name, field.Position).Read;

            case NegateNode negate:
                {
                    var operand = Compile(negate.Operand, functions);
                    var position = negate.Position;
                    return row => Ops.Negate(operand(row), position);
                }

            case NotNode not:
                {
                    var operand = Compile(not.Operand, functions);
                    return row => Value.Bool(!operand(row).IsTruthy);
                }

            case IsNullNode isNull:
                {
                    var operand = Compile(isNull.Operand, functions);
                    return isNull.Negated
                        ? row => Value.Bool(!operand(row).IsNull)
                        : row => Value.Bool(operand(row).IsNull);
                }

            case LogicalNode logical:
                return CompileLogical(logical, functions);

            case ArithmeticNode arithmetic:
                return CompileArithmetic(arithmetic, functions);

            case CompareNode compare:
                return CompileCompare(compare, functions);

            case CallNode call:
                return CompileCall(call, functions);

            default:
                throw new InvalidOperationException("Unknown node " + node.GetType().Name);
        }
    }

    private static Evaluator CompileLogical(LogicalNode node, FunctionRegistry? functions)
    {
        var operands = Array.ConvertAll(node.Operands, n => Compile(n, functions));

        // No short-circuit: every operand is evaluated, left to right, and any error propagates.
        if (operands.Length == 2)
        {
            var a = operands[0];
            var b = operands[1];
            return node.IsAnd
                ? row =>
                {
                    var left = a(row).IsTruthy;
                    var right = b(row).IsTruthy;
                    return Value.Bool(left & right);
                }
            : row =>
            {
                var left = a(row).IsTruthy;
                var right = b(row).IsTruthy;
                return Value.Bool(left | right);
            };
        }

        return node.IsAnd
            ? row =>
            {
                var result = true;
                foreach (var operand in operands)
                {
                    result &= operand(row).IsTruthy;
                }

                return Value.Bool(result);
            }
        : row =>
        {
            var result = false;
            foreach (var operand in operands)
            {
                result |= operand(row).IsTruthy;
            }

            return Value.Bool(result);
        };
    }

    private static Evaluator CompileArithmetic(ArithmeticNode node, FunctionRegistry? functions)
    {
        var first = Compile(node.First, functions);
        var operands = Array.ConvertAll(node.Operands, n => Compile(n, functions));
        var ops = node.Ops;
        var positions = node.OpPositions;
        if (ops.Length == 1)
        {
            var right = operands[0];
            var position = positions[0];
            if (node.Operands[0] is LiteralNode literal)
            {
                var constant = literal.Value;
                return ops[0] switch
                {
                    ArithmeticOp.Add => row => Ops.Add(first(row), constant, position),
                    ArithmeticOp.Subtract => row => Ops.Subtract(first(row), constant, position),
                    ArithmeticOp.Multiply => row => Ops.Multiply(first(row), constant, position),
                    _ => row => Ops.Divide(first(row), constant, position),
                };
            }

            return ops[0] switch
            {
                ArithmeticOp.Add => row => Ops.Add(first(row), right(row), position),
                ArithmeticOp.Subtract => row => Ops.Subtract(first(row), right(row), position),
                ArithmeticOp.Multiply => row => Ops.Multiply(first(row), right(row), position),
                _ => row => Ops.Divide(first(row), right(row), position),
            };
        }

        // A long chain (a + b + c + …) is folded in a loop: no recursion, whatever its length.
        return row =>
        {
            var acc = first(row);
            for (var i = 0; i < operands.Length; i++)
            {
                acc = Ops.Arithmetic(ops[i], acc, operands[i](row), positions[i]);
            }

            return acc;
        };
    }

    private static Evaluator CompileCompare(CompareNode node, FunctionRegistry? functions)
    {
        var left = Compile(node.Left, functions);
        var op = node.Op;
        var position = node.Position;
        if (node.Right is LiteralNode literal)
        {
            var constant = literal.Value;
            return op switch
            {
                CompareOp.Equal => row => Value.Bool(Ops.AreEqual(left(row), constant)),
                CompareOp.NotEqual => row => Value.Bool(!Ops.AreEqual(left(row), constant)),
                CompareOp.Contains => row => Value.Bool(Ops.Contains(left(row), constant, position)),
                CompareOp.StartsWith => row => Value.Bool(Ops.StartsWith(left(row), constant, position)),
                CompareOp.In => row => Value.Bool(Ops.In(left(row), constant)),
                _ => row => Value.Bool(Ops.Order(op, left(row), constant, position)),
            };
        }

        var right = Compile(node.Right, functions);
        return op switch
        {
            CompareOp.Equal => row => Value.Bool(Ops.AreEqual(left(row), right(row))),
            CompareOp.NotEqual => row => Value.Bool(!Ops.AreEqual(left(row), right(row))),
            CompareOp.Contains => row => Value.Bool(Ops.Contains(left(row), right(row), position)),
            CompareOp.StartsWith => row => Value.Bool(Ops.StartsWith(left(row), right(row), position)),
            CompareOp.In => row => Value.Bool(Ops.In(left(row), right(row))),
            _ => row => Value.Bool(Ops.Order(op, left(row), right(row), position)),
        };
    }

    private static Evaluator CompileCall(CallNode node, FunctionRegistry? functions)
    {
        var position = node.Position;
        var name = node.Name;
        if (name == "IF")
        {
            if (node.Arguments.Length != 3)
            {
                return _ => throw Errors.Eval("IF() requires exactly 3 arguments", position);
            }

            var condition = Compile(node.Arguments[0], functions);
            var then = Compile(node.Arguments[1], functions);
            var otherwise = Compile(node.Arguments[2], functions);
            return row => condition(row).IsTruthy ? then(row) : otherwise(row);
        }

        if (functions is not null && functions.TryGet(name, out var custom))
        {
            return CompileCustom(custom, Array.ConvertAll(node.Arguments, n => Compile(n, functions)), position);
        }

        if (Builtins.IsBuiltin(name))
        {
            return Builtins.Compile(name, Array.ConvertAll(node.Arguments, n => Compile(n, functions)), position)!;
        }

        if (Parser.IsKeyword(name))
        {
            // The reference parses keyword-named calls (AND(1)) and fails when evaluating them.
            return _ => throw Errors.Eval("Unknown function: " + name, position);
        }

        // Not reachable through Parser (it checks the same registry), kept for safety.
        throw Errors.Parse("Unknown function: " + node.WrittenName, position);
    }

    private static Evaluator CompileCustom(CustomFunction function, Evaluator[] args, int position) => row =>
    {
        var values = new object?[args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            values[i] = args[i](row).ToObject();
        }

        if (args.Length < function.MinArity || (function.MaxArity >= 0 && args.Length > function.MaxArity))
        {
            var expected = function.MaxArity == function.MinArity
                ? function.MinArity.ToString(CultureInfo.InvariantCulture)
                : function.MaxArity < 0
                    ? "at least " + function.MinArity.ToString(CultureInfo.InvariantCulture)
                    : function.MinArity.ToString(CultureInfo.InvariantCulture) + " to " + function.MaxArity.ToString(CultureInfo.InvariantCulture);
            throw Errors.Eval(
                function.Name + "() takes " + expected + " argument(s) (" + args.Length.ToString(CultureInfo.InvariantCulture) + " given)",
                position);
        }

        object? result;
        try
        {
            result = function.Function(values);
        }
        catch (ExpressionException)
        {
            throw;
        }
        catch (Exception ex)
        {
            throw new ExpressionException(function.Name + "() failed: " + ex.Message, ExpressionErrorKind.Evaluation, position, null, ex);
        }

        if (!Value.TryFromObject(result, out var value))
        {
            throw Errors.Eval(function.Name + "() returned an unsupported value of type " + result!.GetType().Name, position);
        }

        // Host code cannot be bounded before it runs; what it returns still counts against the budget.
        switch (value.Kind)
        {
            case ValueKind.String:
                EvalBudget.Produce(value.StringValue.Length, position);
                break;
            case ValueKind.List:
                EvalBudget.Produce(value.ListValue.Count, position);
                break;
            case ValueKind.Bytes:
                EvalBudget.Produce(value.BytesValue.Length, position);
                break;
        }

        return value;
    };

    /// <summary>Reads one field; remembers the column index for the last schema seen.</summary>
    private sealed class FieldReader(string name, int position)
    {
        private Slot? _slot;

        public Value Read(Row row)
        {
            var slot = _slot;
            var schema = row.Schema;
            if (slot is null || !ReferenceEquals(slot.Schema, schema))
            {
                // Publish a new immutable pair: concurrent readers see either the old or the new one.
                slot = new Slot(schema, schema.IndexOf(name));
                _slot = slot;
            }

            if (slot.Index < 0)
            {
                Errors.ThrowUnknownField(name, position);
            }

            var raw = row[slot.Index];
            if (!Value.TryFromObject(raw, out var value))
            {
                Errors.ThrowEval("Field " + name + " holds an unsupported value of type " + raw!.GetType().Name, position);
            }

            return value;
        }

        private sealed class Slot(RowSchema schema, int index)
        {
            public RowSchema Schema { get; } = schema;

            public int Index { get; } = index;
        }
    }
}
