using System.Diagnostics.CodeAnalysis;

namespace Mkio.Expressions;

/// <summary>Builds and throws <see cref="ExpressionException"/>s (kept out of line on hot paths).</summary>
internal static class Errors
{
    public static ExpressionException Parse(string message, int position) =>
        new(message, ExpressionErrorKind.Parse, position);

    public static ExpressionException Eval(string message, int position) =>
        new(message, ExpressionErrorKind.Evaluation, position);

    [DoesNotReturn]
    public static void ThrowEval(string message, int position) => throw Eval(message, position);

    [DoesNotReturn]
    public static void ThrowUnknownField(string name, int position) => throw Eval("Unknown field: " + name, position);

    [DoesNotReturn]
    public static void ThrowUnsupported(string op, in Value a, in Value b, int position) =>
        throw Eval("unsupported operand type(s) for " + op + ": '" + a.TypeName + "' and '" + b.TypeName + "'", position);

    [DoesNotReturn]
    public static void ThrowNotOrderable(string op, in Value a, in Value b, int position) =>
        throw Eval("'" + op + "' not supported between instances of '" + a.TypeName + "' and '" + b.TypeName + "'", position);
}
