using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Mkio.Expressions;

/// <summary>Recursive-descent parser of §2, with the reference's error texts and a nesting limit.</summary>
internal sealed class Parser
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "AND", "OR", "NOT", "IS", "NULL", "IN", "CONTAINS", "STARTS_WITH", "TRUE", "FALSE",
    };

    private readonly List<Token> _tokens;
    private readonly Func<string, bool> _isFunction;
    private readonly int _maxDepth;
    private readonly CostLimits _limits;
    private int _index;
    private int _depth;

    private Parser(List<Token> tokens, Func<string, bool> isFunction, CostLimits limits)
    {
        _limits = limits;
        _tokens = tokens;
        _isFunction = isFunction;
        _maxDepth = Math.Min(limits.MaxDepth, ExpressionLimits.MaxDepth);
    }

    /// <summary>True if <paramref name="upperName"/> is one of the ten 0.1.0 keywords.</summary>
    public static bool IsKeyword(string upperName) => Keywords.Contains(upperName);

    /// <summary>Parses <paramref name="text"/>; <paramref name="isFunction"/> says whether an upper-cased name is a known function.</summary>
    public static AstNode Parse(string text, Func<string, bool> isFunction, CostLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        limits ??= CostLimits.Trusted;
        var maxLength = Math.Min(limits.MaxLength, ExpressionLimits.MaxLength);
        if (text.Length > maxLength)
        {
            throw Errors.Parse(
                "Expression is too long: " + text.Length.ToString(CultureInfo.InvariantCulture)
                    + " characters (maximum " + limits.Max("MaxLength", maxLength) + ")",
                -1);
        }

        var parser = new Parser(Lexer.Tokenize(text), isFunction, limits);
        var node = parser.ParseOr();
        var rest = parser.Current;
        if (rest.Type != TokenType.EOF)
        {
            throw UnexpectedToken(rest);
        }

        return node;
    }

    private Token Current => _tokens[_index];

    private Token Advance() => _tokens[_index++];

    private static ExpressionException UnexpectedToken(Token token) =>
        Errors.Parse("Unexpected token: " + PyText.Repr(token.Value), token.Position);

    private bool AtKeyword(string keyword) =>
        Current.Type == TokenType.IDENT && string.Equals(Current.Upper, keyword, StringComparison.Ordinal);

    private void Enter()
    {
        if (++_depth > _maxDepth || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw Errors.Parse(
                "Expression is nested too deeply (maximum depth " + _limits.Max("MaxDepth", _maxDepth) + ")",
                Current.Position);
        }
    }

    private void Expect(TokenType type)
    {
        var token = Current;
        if (token.Type != type)
        {
            throw Errors.Parse("Expected " + type + ", got " + token.Type + "(" + PyText.Repr(token.Value) + ")", token.Position);
        }

        _index++;
    }

    private void Expect(TokenType type, string value)
    {
        var token = Current;
        if (token.Type != type || !string.Equals(token.Value, value, StringComparison.Ordinal))
        {
            throw Errors.Parse(
                "Expected " + type + "(" + value + "), got " + token.Type + "(" + PyText.Repr(token.Value) + ")",
                token.Position);
        }

        _index++;
    }

    private AstNode ParseOr()
    {
        var first = ParseAnd();
        if (!AtKeyword("OR"))
        {
            return first;
        }

        var position = Current.Position;
        var operands = new List<AstNode> { first };
        while (AtKeyword("OR"))
        {
            _index++;
            operands.Add(ParseAnd());
        }

        return new LogicalNode(false, [.. operands], position);
    }

    private AstNode ParseAnd()
    {
        var first = ParseNot();
        if (!AtKeyword("AND"))
        {
            return first;
        }

        var position = Current.Position;
        var operands = new List<AstNode> { first };
        while (AtKeyword("AND"))
        {
            _index++;
            operands.Add(ParseNot());
        }

        return new LogicalNode(true, [.. operands], position);
    }

    private AstNode ParseNot()
    {
        if (AtKeyword("NOT"))
        {
            var position = Advance().Position;
            Enter();
            var operand = ParseNot();
            _depth--;
            return new NotNode(operand, position);
        }

        return ParseComparison();
    }

    private AstNode ParseComparison()
    {
        var left = ParseAdditive();
        var token = Current;
        if (token.Type == TokenType.IDENT)
        {
            if (AtKeyword("IS"))
            {
                _index++;
                var negated = false;
                if (AtKeyword("NOT"))
                {
                    _index++;
                    negated = true;
                }

                Expect(TokenType.IDENT, "NULL");
                return new IsNullNode(left, negated, token.Position);
            }

            if (AtKeyword("CONTAINS"))
            {
                _index++;
                return new CompareNode(CompareOp.Contains, left, ParseAdditive(), token.Position);
            }

            if (AtKeyword("STARTS_WITH"))
            {
                _index++;
                return new CompareNode(CompareOp.StartsWith, left, ParseAdditive(), token.Position);
            }

            if (AtKeyword("IN"))
            {
                _index++;
                return new CompareNode(CompareOp.In, left, ParsePrimary(), token.Position);
            }

            return left;
        }

        if (token.Type == TokenType.OP)
        {
            CompareOp? op = token.Value switch
            {
                "==" => CompareOp.Equal,
                "!=" => CompareOp.NotEqual,
                ">" => CompareOp.Greater,
                "<" => CompareOp.Less,
                ">=" => CompareOp.GreaterOrEqual,
                "<=" => CompareOp.LessOrEqual,
                _ => null,
            };
            if (op is { } compare)
            {
                _index++;
                return new CompareNode(compare, left, ParseAdditive(), token.Position);
            }
        }

        return left;
    }

    private AstNode ParseAdditive() => ParseChain(additive: true);

    private AstNode ParseMultiplicative() => ParseChain(additive: false);

    private AstNode ParseChain(bool additive)
    {
        var first = additive ? ParseMultiplicative() : ParseUnary();
        List<ArithmeticOp>? ops = null;
        List<AstNode>? operands = null;
        List<int>? positions = null;
        while (Current.Type == TokenType.OP && ChainOp(Current.Value, additive) is { } op)
        {
            var position = Advance().Position;
            (ops ??= []).Add(op);
            (positions ??= []).Add(position);
            (operands ??= []).Add(additive ? ParseMultiplicative() : ParseUnary());
        }

        return ops is null ? first : new ArithmeticNode(first, [.. ops], [.. operands!], [.. positions!], positions![0]);
    }

    private static ArithmeticOp? ChainOp(string value, bool additive) => (value, additive) switch
    {
        ("+", true) => ArithmeticOp.Add,
        ("-", true) => ArithmeticOp.Subtract,
        ("*", false) => ArithmeticOp.Multiply,
        ("/", false) => ArithmeticOp.Divide,
        _ => null,
    };

    private AstNode ParseUnary()
    {
        if (Current.Type == TokenType.OP && Current.Value == "-")
        {
            var position = Advance().Position;
            Enter();
            var operand = ParseUnary();
            _depth--;
            return new NegateNode(operand, position);
        }

        return ParsePrimary();
    }

    private AstNode ParsePrimary()
    {
        var token = Current;
        switch (token.Type)
        {
            case TokenType.LPAREN:
                {
                    _index++;
                    Enter();
                    var inner = ParseOr();
                    Expect(TokenType.RPAREN);
                    _depth--;
                    return inner;
                }

            case TokenType.STRING:
                _index++;
                return new LiteralNode(Value.String(token.Value), token.Position);

            case TokenType.NUMBER:
                _index++;
                return new LiteralNode(ParseNumber(token.Value), token.Position);

            case TokenType.IDENT:
                {
                    var upper = token.Upper;
                    switch (upper)
                    {
                        case "TRUE":
                            _index++;
                            return new LiteralNode(Value.True, token.Position);
                        case "FALSE":
                            _index++;
                            return new LiteralNode(Value.False, token.Position);
                        case "NULL":
                            _index++;
                            return new LiteralNode(Value.Null, token.Position);
                    }

                    _index++;
                    if (Current.Type != TokenType.LPAREN)
                    {
                        return new FieldNode(token.Value, token.Position);
                    }

                    if (upper != "IF" && !IsKeyword(upper) && !_isFunction(upper))
                    {
                        throw Errors.Parse("Unknown function: " + token.Value, token.Position);
                    }

                    _index++;
                    Enter();
                    var arguments = new List<AstNode>();
                    if (Current.Type != TokenType.RPAREN)
                    {
                        arguments.Add(ParseOr());
                        while (Current.Type == TokenType.COMMA)
                        {
                            _index++;
                            arguments.Add(ParseOr());
                        }
                    }

                    Expect(TokenType.RPAREN);
                    _depth--;
                    return new CallNode(upper, token.Value, [.. arguments], token.Position);
                }

            default:
                throw UnexpectedToken(token);
        }
    }

    private static Value ParseNumber(string text)
    {
        if (text.Contains('.', StringComparison.Ordinal))
        {
            return Value.Float(double.Parse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture));
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var l)
            ? Value.Int(l)
            : Value.Integer(BigInteger.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture));
    }
}
