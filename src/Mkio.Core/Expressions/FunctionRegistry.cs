using System.Diagnostics.CodeAnalysis;

namespace Mkio.Expressions;

/// <summary>A custom function: called with the evaluated arguments; returns a value of a supported kind.</summary>
/// <param name="Name">Upper-cased name.</param>
/// <param name="Function">The implementation.</param>
/// <param name="MinArity">Minimum argument count.</param>
/// <param name="MaxArity">Maximum argument count, or -1 for no limit.</param>
internal sealed record CustomFunction(string Name, Func<object?[], object?> Function, int MinArity, int MaxArity);

/// <summary>
/// The custom functions of one mkio instance (no process-wide state). Names are upper-cased; a
/// registered function replaces an earlier one of the same name, including a built-in
/// (UPPER, LOWER, ROUND, ABS, COALESCE). Keywords and <c>IF</c> cannot be registered.
/// </summary>
/// <remarks>
/// Functions receive their arguments as <see langword="null"/>, <see cref="bool"/>, <see cref="long"/>,
/// <see cref="System.Numerics.BigInteger"/> (beyond 64 bits), <see cref="double"/>, <see cref="string"/>,
/// <c>byte[]</c> or <see cref="IReadOnlyList{T}"/> of object, and may return any of those
/// (other CLR integers, <see cref="float"/> and <see cref="decimal"/> are converted). An exception thrown by
/// a function becomes an evaluation error. Functions are bound when an expression is compiled:
/// register them before compiling the expressions that use them.
/// </remarks>
internal sealed class FunctionRegistry
{
    private readonly Dictionary<string, CustomFunction> _functions = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Registers (or replaces) a function taking any number of arguments.</summary>
    public void Register(string name, Func<object?[], object?> function) => Register(name, function, 0, -1);

    /// <summary>Registers (or replaces) a function taking exactly <paramref name="arity"/> arguments.</summary>
    public void Register(string name, Func<object?[], object?> function, int arity) => Register(name, function, arity, arity);

    /// <summary>Registers (or replaces) a function taking <paramref name="minArity"/>..<paramref name="maxArity"/> arguments (-1: no maximum).</summary>
    /// <exception cref="ArgumentException">The name is empty or a keyword (<c>Cannot register function with keyword name: …</c>), or the arity range is invalid.</exception>
    public void Register(string name, Func<object?[], object?> function, int minArity, int maxArity)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(function);
        ArgumentOutOfRangeException.ThrowIfNegative(minArity);
        if (maxArity != -1 && maxArity < minArity)
        {
            throw new ArgumentOutOfRangeException(nameof(maxArity), maxArity, "maxArity must be -1 (no limit) or at least minArity.");
        }

        var upper = PyText.Upper(name);
        if (Parser.IsKeyword(upper) || upper == "IF")
        {
#pragma warning disable CA2208 // the message is the reference text; no parameter name suffix wanted
            throw new ArgumentException("Cannot register function with keyword name: " + name);
#pragma warning restore CA2208
        }

        lock (_gate)
        {
            _functions[upper] = new CustomFunction(upper, function, minArity, maxArity);
        }
    }

    /// <summary>True if a call to <paramref name="upperName"/> resolves: a registered function, a built-in or <c>IF</c>.</summary>
    public bool Contains(string upperName) => IsRegistered(upperName) || Builtins.IsBuiltin(upperName);

    /// <summary>True if a custom function named <paramref name="upperName"/> is registered.</summary>
    public bool IsRegistered(string upperName)
    {
        lock (_gate)
        {
            return _functions.ContainsKey(upperName);
        }
    }

    /// <summary>The upper-cased names of the registered custom functions.</summary>
    public IReadOnlyList<string> RegisteredNames
    {
        get
        {
            lock (_gate)
            {
                return [.. _functions.Keys];
            }
        }
    }

    internal bool TryGet(string upperName, [NotNullWhen(true)] out CustomFunction? function)
    {
        lock (_gate)
        {
            return _functions.TryGetValue(upperName, out function);
        }
    }
}
