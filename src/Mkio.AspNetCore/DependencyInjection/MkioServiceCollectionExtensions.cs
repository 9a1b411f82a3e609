using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Mkio;
using Mkio.AspNetCore;
using Mkio.AspNetCore.Hosting;
using Mkio.AspNetCore.WebSockets;
using Mkio.Diagnostics;
using Mkio.Expressions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers mkio in an ASP.NET Core application.</summary>
public static class MkioServiceCollectionExtensions
{
    /// <summary>
    /// Adds mkio declared by a TOML file (e.g. <c>mkio.toml</c>), resolved against the host's content
    /// root. Settings may be overridden through the <c>Mkio</c> configuration section
    /// (e.g. the environment variable <c>Mkio__DbPath</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="tomlPath">Path of the TOML file.</param>
    /// <param name="configure">Optional code-first additions applied after the file.</param>
    /// <returns>A builder for further mkio configuration.</returns>
    /// <remarks>Calling <c>AddMkio</c> more than once is harmless: each call adds its configuration to the same options.</remarks>
    public static IMkioBuilder AddMkio(this IServiceCollection services, string tomlPath, Action<MkioOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(tomlPath);
        var builder = services.AddMkio(static _ => { });
        services.AddOptions<MkioOptions>().Configure<IServiceProvider>((options, sp) =>
        {
            var root = sp.GetService<IHostEnvironment>()?.ContentRootPath ?? Directory.GetCurrentDirectory();
            var path = Path.GetFullPath(Path.IsPathRooted(tomlPath) ? tomlPath : Path.Combine(root, tomlPath));
            options.SourceName ??= tomlPath;
            if (!File.Exists(path))
            {
                throw new MkioConfigurationException($"Config file not found: {path} ('{tomlPath}' resolved against the content root {root}).");
            }

            TomlConfigLoader.Apply(path, options);
            configure?.Invoke(options);
        });
        return builder;
    }

    /// <summary>Adds mkio configured in code (<c>options.Table(...).Transaction(...)</c>).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Declares tables, services and settings.</param>
    /// <returns>A builder for further mkio configuration.</returns>
    /// <remarks>Calling <c>AddMkio</c> more than once is harmless: each call adds its configuration to the same options.</remarks>
    public static IMkioBuilder AddMkio(this IServiceCollection services, Action<MkioOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);

        var marker = services.FirstOrDefault(d => d.ServiceType == typeof(MkioMarkerService))?.ImplementationInstance as MkioMarkerService;
        if (marker is null)
        {
            marker = new MkioMarkerService(new FunctionRegistry());
            services.AddSingleton(marker);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.TryAddSingleton(sp => new MkioMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<MkioEngineHost>();
        services.TryAddSingleton<IMkio>(sp => new MkioInProcess(() => sp.GetRequiredService<MkioEngineHost>().Engine, () => Mkio.AspNetCore.Security.HostAuthorizer.From(sp)));
        services.TryAddSingleton<MkioConnectionTracker>();
        services.TryAddSingleton(sp => new Mkio.AspNetCore.Admin.AdminMetrics( // created by MapMkioAdmin only
            sp.GetRequiredService<MkioMetrics>(),
            () => sp.GetRequiredService<MkioEngineHost>().TryGetEngine()?.SessionCount ?? 0,
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<MkioWebSocketHandler>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MkioHostedService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<MkioOptions>, MkioConfigurationOverrides>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MkioOptions>, MkioOptionsValidator>());
        // No ValidateOnStart: the hosted service compiles (and so validates) the options when it
        // starts, and reports a failure as one log line and exit code 1 instead of an exception
        // escaping app.Run() with a stack trace.
        services.AddOptions<MkioOptions>().Configure(configure);
        return new MkioBuilder(services, marker.Functions);
    }

    /// <summary>Adds a health check named <c>mkio</c>: healthy while the engine runs and its database answers.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check name.</param>
    /// <returns>The same builder, so that multiple calls can be chained.</returns>
    public static IHealthChecksBuilder AddMkio(this IHealthChecksBuilder builder, string name = "mkio")
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddCheck<MkioHealthCheck>(name);
    }
}

/// <summary>Applies the <c>Mkio</c> configuration section (environment variables, appsettings) over the TOML / code model.</summary>
internal sealed class MkioConfigurationOverrides(IServiceProvider services) : IPostConfigureOptions<MkioOptions>
{
    public void PostConfigure(string? name, MkioOptions options)
    {
        var section = services.GetService<IConfiguration>()?.GetSection("Mkio");
        if (section is not null && section.Exists())
        {
            ApplySection(section, options);
        }

        ResolveAgainstContentRoot(options, services.GetService<IHostEnvironment>()?.ContentRootPath);
    }

    /// <summary>
    /// Relative <c>db_path</c>, <c>backup_dir</c> and <c>[static]</c> directories resolve against the
    /// host's content root (CONFIG.md §1 says the working directory, which is the content root unless
    /// the app sets another one; then the content root is where the app keeps its files).
    /// </summary>
    private static void ResolveAgainstContentRoot(MkioOptions options, string? contentRoot)
    {
        if (string.IsNullOrEmpty(contentRoot)
            || string.Equals(Path.GetFullPath(contentRoot).TrimEnd(Path.DirectorySeparatorChar), Directory.GetCurrentDirectory().TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
        {
            return;
        }

        string Resolve(string p) => Path.IsPathRooted(p) ? p : Path.GetFullPath(Path.Combine(contentRoot, p));
        if (options.Postgres is null && options.DbPath != ":memory:" && options.DbPath.Length > 0)
        {
            options.DbPath = Resolve(options.DbPath);
        }

        options.BackupDir = Resolve(options.BackupDir);
        for (var i = 0; i < options.Static.Count; i++)
        {
            options.Static[i] = options.Static[i] with { Directory = Resolve(options.Static[i].Directory) };
        }

        for (var i = 0; i < options.ConfigRoutes.Count; i++)
        {
            options.ConfigRoutes[i] = options.ConfigRoutes[i] with { Directory = Resolve(options.ConfigRoutes[i].Directory) };
        }
    }

    private static void ApplySection(IConfigurationSection section, MkioOptions options)
    {
        string? Get(string pascal, string snake) => section[pascal] ?? section[snake];
        void Apply(string pascal, string snake, Action<string> set)
        {
            if (Get(pascal, snake) is { } v)
            {
                set(v);
            }
        }

        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var errors = new List<string>();
        void Int(string pascal, string snake, Action<int> set) => Apply(pascal, snake, v =>
        {
            if (int.TryParse(v, System.Globalization.NumberStyles.Integer, inv, out var i)) { set(i); } else { errors.Add($"Mkio:{pascal}: '{v}' is not an integer"); }
        });
        void Dbl(string pascal, string snake, Action<double> set) => Apply(pascal, snake, v =>
        {
            if (double.TryParse(v, System.Globalization.NumberStyles.Float, inv, out var d)) { set(d); } else { errors.Add($"Mkio:{pascal}: '{v}' is not a number"); }
        });
        void Bool(string pascal, string snake, Action<bool> set) => Apply(pascal, snake, v =>
        {
            if (bool.TryParse(v, out var b)) { set(b); } else { errors.Add($"Mkio:{pascal}: '{v}' is not true or false"); }
        });

        Apply("Host", "host", v => options.Host = v);
        Int("Port", "port", v => options.Port = v);
        Apply("DbPath", "db_path", v => options.DbPath = v);
        Apply("Postgres", "postgres", v => options.Postgres = v);
        Int("BatchMaxSize", "batch_max_size", v => options.BatchMaxSize = v);
        Dbl("BatchMaxWaitMs", "batch_max_wait_ms", v => options.BatchMaxWaitMs = v);
        Int("ChangeLogSize", "change_log_size", v => options.ChangeLogSize = v);
        Dbl("WalCheckpointIntervalS", "wal_checkpoint_interval_s", v => options.WalCheckpointIntervalS = v);
        Bool("BackupOnStartup", "backup_on_startup", v => options.BackupOnStartup = v);
        Apply("BackupDir", "backup_dir", v => options.BackupDir = v);
        Dbl("ShutdownTimeout", "shutdown_timeout", v => options.ShutdownTimeout = v);
        Int("MaxMessageBytes", "max_message_bytes", v => options.MaxMessageBytes = v);
        Apply("MaxSendQueueBytes", "max_send_queue_bytes", v =>
        {
            if (long.TryParse(v, System.Globalization.NumberStyles.Integer, inv, out var l)) { options.MaxSendQueueBytes = l; } else { errors.Add($"Mkio:MaxSendQueueBytes: '{v}' is not an integer"); }
        });
        Int("MaxConnections", "max_connections", v => options.MaxConnections = v);
        Bool("WarmUp", "warm_up", v => options.WarmUp = v);
        Int("WriterCacheSizeKib", "writer_cache_size_kib", v => options.WriterCacheSizeKib = v);
        Int("MmapSizeMib", "mmap_size_mib", v => options.MmapSizeMib = v);
        Dbl("WsHeartbeatS", "ws_heartbeat_s", v => options.WsHeartbeatS = v);
        Bool("LaterProtocol", "later_protocol", v => options.LaterProtocol = v);
        Int("ReqRepMaxRows", "reqrep_max_rows", v => options.ReqRepMaxRows = v);
        Int("ReqRepTimeoutMs", "reqrep_timeout_ms", v => options.ReqRepTimeoutMs = v);
        void Lng(string name, Action<long> set) => Apply("FilterLimits:" + name, "FilterLimits:" + name, v =>
        {
            if (long.TryParse(v, System.Globalization.NumberStyles.Integer, inv, out var l)) { set(l); } else { errors.Add($"Mkio:FilterLimits:{name}: '{v}' is not an integer"); }
        });
        var limits = options.FilterLimits;
        Lng("MaxLength", v => limits.MaxLength = (int)Math.Clamp(v, 0, int.MaxValue));
        Lng("MaxDepth", v => limits.MaxDepth = (int)Math.Clamp(v, 0, int.MaxValue));
        Lng("MaxNodes", v => limits.MaxNodes = (int)Math.Clamp(v, 0, int.MaxValue));
        Lng("MaxResultLength", v => limits.MaxResultLength = v);
        Lng("MaxWork", v => limits.MaxWork = v);
        Apply("AutoMigrate", "auto_migrate", v => options.AutoMigrate = v.ToLowerInvariant() switch
        {
            "true" or "destructive" => MkioAutoMigrate.Destructive,
            "risky" => MkioAutoMigrate.Risky,
            "safe" => MkioAutoMigrate.Safe,
            _ => MkioAutoMigrate.Off,
        });
        foreach (var origin in section.GetSection("AllowedOrigins").GetChildren())
        {
            if (origin.Value is { } o && !options.AllowedOrigins.Contains(o))
            {
                options.AllowedOrigins.Add(o);
            }
        }

        foreach (var e in errors)
        {
            options.LoadDiagnostics.Add(new ConfigDiagnostic(ConfigSeverity.Error, string.Empty, e, null));
        }
    }
}

/// <summary>Validates the whole model at start-up (<c>ValidateOnStart</c>), reporting every error.</summary>
internal sealed class MkioOptionsValidator(MkioMarkerService marker) : IValidateOptions<MkioOptions>
{
    public ValidateOptionsResult Validate(string? name, MkioOptions options)
    {
        var (model, errors) = Mkio.Model.ModelCompiler.TryCompile(options, marker.Functions);
        return model is not null
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(new MkioConfigurationException(options.SourceName, errors).Message);
    }
}
