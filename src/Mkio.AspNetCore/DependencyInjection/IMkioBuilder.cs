using Microsoft.Extensions.DependencyInjection;
using Mkio.Expressions;

namespace Mkio.AspNetCore;

/// <summary>Returned by <c>AddMkio</c>: adds host-scoped extensions such as expression functions.</summary>
public interface IMkioBuilder
{
    /// <summary>The service collection mkio was added to.</summary>
    IServiceCollection Services { get; }

    /// <summary>
    /// Adds a function to this host's expression language (e.g. <c>MASK_PAN(x)</c>). Names are
    /// case-insensitive; keywords and <c>IF</c> are refused. Register before the app starts.
    /// </summary>
    /// <param name="name">The function name.</param>
    /// <param name="function">Receives the evaluated arguments (null, bool, long, double, string, BigInteger or lists) and returns a value of the same kinds.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    IMkioBuilder AddFunction(string name, Func<object?[], object?> function);
}

internal sealed class MkioBuilder(IServiceCollection services, FunctionRegistry functions) : IMkioBuilder
{
    public IServiceCollection Services { get; } = services;

    public IMkioBuilder AddFunction(string name, Func<object?[], object?> function)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(function);
        functions.Register(name, function);
        return this;
    }
}

/// <summary>Marks that <c>AddMkio</c> ran, so <c>MapMkio</c> can fail early with guidance.</summary>
internal sealed class MkioMarkerService(FunctionRegistry functions)
{
    public FunctionRegistry Functions { get; } = functions;
}
