using System.Globalization;
using Mkio.Data;

namespace Mkio.Expressions;

/// <summary>
/// Compile-time work on a syntax tree: the static cost (node count against <see cref="CostLimits.MaxNodes"/>),
/// the field names it reads, and constant folding. Folding evaluates every sub-expression that reads no field
/// and calls no custom function once, under one budget shared by the whole expression, so a constant that
/// would exceed the per-evaluation budget (<c>'x' * 16000000</c>) is rejected when the expression is compiled;
/// a constant that fails for another reason (<c>1 / 0</c>) is left to fail per row, as the language says.
/// </summary>
internal static class StaticAnalysis
{
    private static readonly Row EmptyRow = new(new RowSchema([]), []);

    /// <summary>Counts the nodes of <paramref name="node"/> and adds the fields it reads (first use first, with positions).</summary>
    public static int Walk(AstNode node, List<(string Name, int Position)> fields)
    {
        switch (node)
        {
            case FieldNode f:
                if (!fields.Exists(x => x.Name == f.Name))
                {
                    fields.Add((f.Name, f.Position));
                }

                return 1;
            case NegateNode n:
                return 1 + Walk(n.Operand, fields);
            case NotNode n:
                return 1 + Walk(n.Operand, fields);
            case IsNullNode n:
                return 1 + Walk(n.Operand, fields);
            case LogicalNode n:
                return 1 + WalkAll(n.Operands, fields);
            case ArithmeticNode n:
                return 1 + Walk(n.First, fields) + WalkAll(n.Operands, fields);
            case CompareNode n:
                return 1 + Walk(n.Left, fields) + Walk(n.Right, fields);
            case CallNode n:
                return 1 + WalkAll(n.Arguments, fields);
            default:
                return 1;
        }
    }

    /// <summary>Rejects a tree with more than <see cref="CostLimits.MaxNodes"/> nodes (a parse error).</summary>
    public static void CheckNodes(int nodes, CostLimits limits)
    {
        if (nodes > limits.MaxNodes)
        {
            throw Errors.Parse(
                "Expression has too many parts: " + nodes.ToString(CultureInfo.InvariantCulture) + " nodes (maximum " + limits.Max("MaxNodes", limits.MaxNodes) + ")",
                -1);
        }
    }

    /// <summary>Folds constant sub-expressions under one budget (<see cref="CostLimits.MaxResultLength"/>, <see cref="CostLimits.MaxWork"/>).</summary>
    /// <exception cref="ExpressionException">A constant exceeds the budget (a parse error with <see cref="ExpressionException.IsBudgetExceeded"/>).</exception>
    public static AstNode Fold(AstNode node, FunctionRegistry? functions, CostLimits limits)
    {
        EvalBudget.Begin(limits);
        return FoldNode(node, functions);
    }

    private static int WalkAll(AstNode[] nodes, List<(string Name, int Position)> fields)
    {
        var n = 0;
        foreach (var child in nodes)
        {
            n += Walk(child, fields);
        }

        return n;
    }

    private static AstNode FoldNode(AstNode node, FunctionRegistry? functions)
    {
        AstNode folded;
        switch (node)
        {
            case NegateNode n:
                folded = n with { Operand = FoldNode(n.Operand, functions) };
                break;
            case NotNode n:
                folded = n with { Operand = FoldNode(n.Operand, functions) };
                break;
            case IsNullNode n:
                folded = n with { Operand = FoldNode(n.Operand, functions) };
                break;
            case LogicalNode n:
                folded = n with { Operands = FoldAll(n.Operands, functions) };
                break;
            case ArithmeticNode n:
                folded = n with { First = FoldNode(n.First, functions), Operands = FoldAll(n.Operands, functions) };
                break;
            case CompareNode n:
                folded = n with { Left = FoldNode(n.Left, functions), Right = FoldNode(n.Right, functions) };
                break;
            case CallNode n when !Parser.IsKeyword(n.Name) && (functions is null || !functions.TryGet(n.Name, out _)):
                folded = n with { Arguments = FoldAll(n.Arguments, functions) };
                break;
            case CallNode n:
                // Custom functions may be impure and keyword calls fail per row: fold only their arguments.
                return n with { Arguments = FoldAll(n.Arguments, functions) };
            default:
                return node; // literals and fields
        }

        if (!AllLiteral(folded))
        {
            return folded;
        }

        try
        {
            return new LiteralNode(Compiler.Compile(folded, functions)(EmptyRow), folded.Position);
        }
        catch (ExpressionException ex) when (ex.IsBudgetExceeded)
        {
            throw new ExpressionException(ex.Message, ExpressionErrorKind.Parse, ex.Position) { IsBudgetExceeded = true };
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not InsufficientExecutionStackException)
        {
            return folded; // e.g. 1 / 0: fails per row, as without folding
        }
    }

    private static AstNode[] FoldAll(AstNode[] nodes, FunctionRegistry? functions)
    {
        var result = new AstNode[nodes.Length];
        for (var i = 0; i < nodes.Length; i++)
        {
            result[i] = FoldNode(nodes[i], functions);
        }

        return result;
    }

    private static bool AllLiteral(AstNode node) => node switch
    {
        NegateNode n => n.Operand is LiteralNode,
        NotNode n => n.Operand is LiteralNode,
        IsNullNode n => n.Operand is LiteralNode,
        LogicalNode n => Array.TrueForAll(n.Operands, o => o is LiteralNode),
        ArithmeticNode n => n.First is LiteralNode && Array.TrueForAll(n.Operands, o => o is LiteralNode),
        CompareNode n => n.Left is LiteralNode && n.Right is LiteralNode,
        CallNode n => Array.TrueForAll(n.Arguments, o => o is LiteralNode),
        _ => false,
    };
}
