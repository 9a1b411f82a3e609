namespace Mkio;

/// <summary>
/// Thrown when an mkio configuration is invalid. <see cref="Exception.Message"/> lists every error,
/// one per line, each naming the file position (for TOML), the config path and what is wrong.
/// </summary>
public sealed class MkioConfigurationException : Exception
{
    /// <summary>Creates the exception with a single message.</summary>
    public MkioConfigurationException()
        : this("Invalid mkio configuration.")
    {
    }

    /// <summary>Creates the exception with a single message.</summary>
    /// <param name="message">What is wrong.</param>
    public MkioConfigurationException(string message)
        : this(message, (Exception?)null)
    {
    }

    /// <summary>Creates the exception with a single message and an inner exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The underlying failure.</param>
    public MkioConfigurationException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Errors = [message];
    }

    internal MkioConfigurationException(string? sourceName, IReadOnlyList<ConfigDiagnostic> errors)
        : base(Format(sourceName, errors))
    {
        SourceName = sourceName;
        Errors = [.. errors.Select(e => e.ToString())];
        var first = errors.FirstOrDefault(e => e.Location is { Line: > 0 });
        if (first?.Location is { } loc)
        {
            Line = loc.Line;
            Column = loc.Column;
        }
    }

    /// <summary>Every error, formatted <c>file(line,col): path: message</c>.</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>The configuration file, when the config came from one.</summary>
    public string? SourceName { get; }

    /// <summary>Line (1-based) of the first error that has a position, or 0.</summary>
    public int Line { get; }

    /// <summary>Column (1-based) of the first error that has a position, or 0.</summary>
    public int Column { get; }

    private static string Format(string? sourceName, IReadOnlyList<ConfigDiagnostic> errors)
    {
        var head = errors.Count == 1
            ? $"Invalid mkio configuration{(sourceName is null ? string.Empty : $" in {sourceName}")}: {errors[0]}"
            : $"Invalid mkio configuration{(sourceName is null ? string.Empty : $" in {sourceName}")} ({errors.Count} errors):"
              + string.Concat(errors.Select(e => Environment.NewLine + "  " + e));
        return head;
    }
}
