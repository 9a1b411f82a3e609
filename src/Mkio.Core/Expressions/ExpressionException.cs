namespace Mkio.Expressions;

/// <summary>Whether an <see cref="ExpressionException"/> was raised while compiling or while evaluating.</summary>
internal enum ExpressionErrorKind
{
    /// <summary>The text could not be parsed/compiled (lexer, grammar, unknown function, limits).</summary>
    Parse,

    /// <summary>The expression failed on a particular row (unknown field, type error, division by zero, …).</summary>
    Evaluation,
}

/// <summary>
/// The single error type of the expression language. <see cref="Exception.Message"/> carries the
/// reference (Python mkio 0.1.0) text where the spec fixes one, e.g. <c>Unexpected token: '=='</c>,
/// <c>Unknown field: qty</c>, <c>Division by zero</c>. The message never contains the field name of a
/// formatter; that is reported separately in <see cref="Field"/>.
/// </summary>
internal sealed class ExpressionException : Exception
{
    /// <summary>Creates an evaluation error with no position.</summary>
    public ExpressionException()
        : this("Expression error.", ExpressionErrorKind.Evaluation)
    {
    }

    /// <summary>Creates an evaluation error with no position.</summary>
    public ExpressionException(string message)
        : this(message, ExpressionErrorKind.Evaluation)
    {
    }

    /// <summary>Creates an evaluation error with no position that wraps <paramref name="innerException"/>.</summary>
    public ExpressionException(string message, Exception? innerException)
        : this(message, ExpressionErrorKind.Evaluation, -1, null, innerException)
    {
    }

    /// <summary>Creates an expression error.</summary>
    /// <param name="message">The error text.</param>
    /// <param name="kind">Parse (compile-time) or evaluation (per row) error.</param>
    /// <param name="position">0-based UTF-16 index into the expression text, or -1 when unknown.</param>
    /// <param name="field">For formatter expressions: the output field whose expression failed.</param>
    /// <param name="innerException">The underlying exception (e.g. thrown by a custom function).</param>
    public ExpressionException(
        string message,
        ExpressionErrorKind kind,
        int position = -1,
        string? field = null,
        Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
        Position = position;
        Field = field;
    }

    /// <summary>Parse (compile-time) or evaluation (per row) error.</summary>
    public ExpressionErrorKind Kind { get; }

    /// <summary>True for errors raised while parsing/compiling the text.</summary>
    public bool IsParseError => Kind == ExpressionErrorKind.Parse;

    /// <summary>
    /// 0-based UTF-16 index into the expression text where the error was detected, or -1 when unknown.
    /// (The <c>Unexpected character … at position N</c> message itself counts code points, as Python does.)
    /// </summary>
    public int Position { get; }

    /// <summary>For <see cref="CompiledFormatter"/> errors: the output field whose expression failed; otherwise null.</summary>
    public string? Field { get; }

    /// <summary>True when the expression exceeded its cost budget (<see cref="CostLimits"/>), at compile time or per evaluation.</summary>
    public bool IsBudgetExceeded { get; init; }

    /// <summary>Returns a copy of this error attributed to the formatter field <paramref name="field"/>.</summary>
    internal ExpressionException WithField(string field) =>
        new(Message, Kind, Position, field, this) { IsBudgetExceeded = IsBudgetExceeded };
}
