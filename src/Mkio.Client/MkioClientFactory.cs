using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mkio.Client;

/// <summary>
/// Creates <see cref="MkioClient"/> instances from the named settings registered with
/// <c>services.AddMkioClient(name, o =&gt; …)</c>, like <c>IHttpClientFactory</c> does for HTTP clients.
/// </summary>
public interface IMkioClientFactory
{
    /// <summary>
    /// Creates a new, not yet connected client with the settings registered under <paramref name="name"/>
    /// (<see cref="Options.DefaultName"/>, the empty string, for <c>AddMkioClient(o =&gt; …)</c>). The caller owns
    /// it: call <see cref="MkioClient.ConnectAsync"/>, and dispose it when done.
    /// </summary>
    /// <param name="name">The name the client was registered with.</param>
    /// <returns>A new client.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="MkioClientOptions.Url"/> is configured for <paramref name="name"/>.</exception>
    MkioClient CreateClient(string name);
}

/// <summary>
/// Builds an <see cref="MkioClient"/> step by step, like SignalR's <c>HubConnectionBuilder</c>:
/// <c>new MkioClientBuilder().WithUrl("ws://localhost:8080/ws").WithLoggerFactory(loggers).Build()</c>.
/// </summary>
public sealed class MkioClientBuilder
{
    private readonly MkioClientOptions _options = new();

    /// <summary>Sets the server's WebSocket URL.</summary>
    /// <param name="url">An absolute <c>ws://</c> or <c>wss://</c> URL, e.g. <c>ws://localhost:8080/ws</c>.</param>
    /// <returns>This builder.</returns>
    public MkioClientBuilder WithUrl(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        _options.Url = url;
        return this;
    }

    /// <summary>Sets the server's WebSocket URL.</summary>
    /// <param name="url">An absolute <c>ws://</c> or <c>wss://</c> URL, e.g. <c>ws://localhost:8080/ws</c>.</param>
    /// <returns>This builder.</returns>
    public MkioClientBuilder WithUrl(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        return WithUrl(new Uri(url, UriKind.RelativeOrAbsolute));
    }

    /// <summary>Sets where the client logs.</summary>
    /// <param name="loggerFactory">The logger factory.</param>
    /// <returns>This builder.</returns>
    public MkioClientBuilder WithLoggerFactory(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options.LoggerFactory = loggerFactory;
        return this;
    }

    /// <summary>Turns automatic reconnects on (the default) or off.</summary>
    /// <param name="enabled">Whether the client reconnects after an unexpected close.</param>
    /// <returns>This builder.</returns>
    public MkioClientBuilder WithAutomaticReconnect(bool enabled = true)
    {
        _options.Reconnect = enabled;
        return this;
    }

    /// <summary>Adjusts any other setting.</summary>
    /// <param name="configure">Changes the settings.</param>
    /// <returns>This builder.</returns>
    public MkioClientBuilder Configure(Action<MkioClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(_options);
        return this;
    }

    /// <summary>Creates the client (not yet connected: call <see cref="MkioClient.ConnectAsync"/>).</summary>
    /// <returns>A new client.</returns>
    /// <exception cref="InvalidOperationException">No URL was set.</exception>
    public MkioClient Build() =>
        new(_options.Url ?? throw new InvalidOperationException("MkioClientBuilder: call WithUrl(\"ws://host:port/ws\") before Build()."), _options);
}

/// <summary>The container's <see cref="IMkioClientFactory"/>.</summary>
internal sealed class MkioClientFactory(IOptionsMonitor<MkioClientOptions> options, ILoggerFactory? loggerFactory = null) : IMkioClientFactory
{
    public MkioClient CreateClient(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var o = options.Get(name).Clone();
        if (o.Url is null)
        {
            var registration = name.Length == 0 ? "AddMkioClient(o => o.Url = …)" : $"AddMkioClient(\"{name}\", o => o.Url = …)";
            throw new InvalidOperationException($"No URL is configured for the mkio client '{name}': set it with services.{registration}.");
        }

        o.LoggerFactory ??= loggerFactory;
        return new MkioClient(o.Url, o);
    }
}

/// <summary>Registers mkio clients in a service collection.</summary>
public static class MkioClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers the default mkio client: its settings, <see cref="IMkioClientFactory"/>, and a singleton
    /// <see cref="MkioClient"/> made from them (connect it once at start-up with <see cref="MkioClient.ConnectAsync"/>;
    /// the container disposes it).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets <see cref="MkioClientOptions.Url"/> and any other setting.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddMkioClient(this IServiceCollection services, Action<MkioClientOptions> configure)
    {
        AddMkioClient(services, Options.DefaultName, configure);
        services.TryAddSingleton(sp => sp.GetRequiredService<IMkioClientFactory>().CreateClient(Options.DefaultName));
        return services;
    }

    /// <summary>
    /// Registers the settings of a named mkio client and <see cref="IMkioClientFactory"/>; create the client with
    /// <c>factory.CreateClient(name)</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The client's name.</param>
    /// <param name="configure">Sets <see cref="MkioClientOptions.Url"/> and any other setting.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddMkioClient(this IServiceCollection services, string name, Action<MkioClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions();
        services.Configure(name, configure);
        services.TryAddSingleton<IMkioClientFactory, MkioClientFactory>();
        return services;
    }
}
