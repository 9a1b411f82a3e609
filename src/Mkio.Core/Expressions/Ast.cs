namespace Mkio.Expressions;

/// <summary>Syntax tree of a parsed expression. Position = UTF-16 index of the node's token.</summary>
internal abstract record AstNode(int Position);

internal sealed record LiteralNode(Value Value, int Position) : AstNode(Position);

internal sealed record FieldNode(string Name, int Position) : AstNode(Position);

internal sealed record NegateNode(AstNode Operand, int Position) : AstNode(Position);

internal sealed record NotNode(AstNode Operand, int Position) : AstNode(Position);

/// <summary><c>a AND b AND …</c> / <c>a OR b OR …</c> flattened: every operand is evaluated.</summary>
internal sealed record LogicalNode(bool IsAnd, AstNode[] Operands, int Position) : AstNode(Position);

/// <summary>A left-associative chain of <c>+ - * /</c> at one precedence level: first op[0] operand[1] op[1] operand[2] ….</summary>
internal sealed record ArithmeticNode(AstNode First, ArithmeticOp[] Ops, AstNode[] Operands, int[] OpPositions, int Position) : AstNode(Position);

internal sealed record CompareNode(CompareOp Op, AstNode Left, AstNode Right, int Position) : AstNode(Position);

internal sealed record IsNullNode(AstNode Operand, bool Negated, int Position) : AstNode(Position);

/// <summary>A call; <see cref="Name"/> is upper-cased, <see cref="WrittenName"/> as in the text.</summary>
internal sealed record CallNode(string Name, string WrittenName, AstNode[] Arguments, int Position) : AstNode(Position);
