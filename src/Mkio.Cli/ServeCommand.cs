using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mkio.Model;
using Mkio.Storage.Migration;

namespace Mkio.Cli;

/// <summary><c>mkio serve [config] [--host H] [--port N] [--admin]</c> (CLI.md §3).</summary>
internal static class ServeCommand
{
    /// <summary>Where <c>--admin</c> maps the admin page.</summary>
    public const string AdminPath = "/mkio/admin";

    public static Command Create()
    {
        var config = new Argument<string>("config") { Description = "The TOML config file.", DefaultValueFactory = _ => !File.Exists("mkio.toml") && File.Exists("server.toml") ? "server.toml" : "mkio.toml" };
        var host = new Option<string?>("--host") { Description = "Listen address (overrides 'host')." };
        var port = new Option<int?>("--port") { Description = "Listen port (overrides 'port'); 0 picks a free port." };
        var verbose = new Option<bool>("--verbose") { Description = "Show details (stack traces, debug logs) on errors." };
        var admin = new Option<bool>("--admin") { Description = "Also serve the live admin page at /mkio/admin (no login: anyone who reaches the port can open it)." };
        var command = new Command("serve", "Start a server from a config file (default mkio.toml, else server.toml).") { config, host, port, admin, verbose };

        // A synchronous action: System.CommandLine then leaves SIGINT/SIGTERM to the host's console
        // lifetime. With an asynchronous one it would end the process with 130/143 two seconds after
        // the signal, even while the graceful shutdown (drain, close, checkpoint) is still running.
        command.SetAction(parse => RunAsync(parse.GetValue(config)!, parse.GetValue(host), parse.GetValue(port), parse.GetValue(verbose), CancellationToken.None, parse.GetValue(admin)).GetAwaiter().GetResult());
        return command;
    }

    public static async Task<int> RunAsync(string configPath, string? hostOverride, int? portOverride, bool verbose, CancellationToken cancellationToken, bool admin = false)
    {
        if (!File.Exists(configPath))
        {
            await Console.Error.WriteLineAsync($"Config file not found: {configPath}").ConfigureAwait(false);
            Console.WriteLine($"Config file not found: {configPath}");
            return 1;
        }

        // Load and validate once up front: errors become one clear message and exit code 1.
        MkioModel model;
        try
        {
            // The path as given (relative to the working directory) names the file in error messages;
            // Mkio__* environment overrides apply as in the host (the same db_path is locked below).
            model = ModelCompiler.Compile(DbUpdateCommand.LoadOptions(configPath));
        }
        catch (MkioConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 1;
        }

        var listenHost = hostOverride ?? model.Options.Host;
        var listenPort = portOverride ?? model.Options.Port;

        // Ownership of the database first, then the port: a second server on the same file is told
        // who owns it (even when its port is taken too), and neither failure touches the database.
        DatabaseLock? ownership = null;
        Socket? listener = null;
        try
        {
            ownership = model.InMemory || model.Options.Postgres is not null ? null : DatabaseLock.Acquire(model.Options.DbPath);
            listener = Bind(listenHost, listenPort);
        }
        catch (Exception ex) when (ex is MkioDatabaseInUseException or MkioConfigurationException)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 1;
        }
        catch (Exception ex) when (IsAddressInUse(ex))
        {
            ownership?.Dispose();
            await Console.Error.WriteLineAsync($"Error: address already in use: {listenHost}:{listenPort}. Stop the other process or change the port.").ConfigureAwait(false);
            return 1;
        }
        catch (SocketException ex)
        {
            ownership?.Dispose();
            await Console.Error.WriteLineAsync($"Error: cannot listen on {listenHost}:{listenPort}: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Directory.GetCurrentDirectory(), Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning);
        if (!verbose)
        {
            // Start-up failures are reported below as one line; the host's own log of them carries a stack trace.
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
            builder.Logging.AddFilter(Mkio.AspNetCore.Hosting.MkioHostedService.StartupCategory, LogLevel.None);
        }

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(Math.Max(10, model.Options.ShutdownTimeout + 5)));
        // Kestrel listens on the socket bound above (it calls Listen and owns it from then on).
        builder.WebHost.UseSockets(o => o.CreateBoundListenSocket = _ => listener);
        builder.WebHost.ConfigureKestrel(k => k.Listen((IPEndPoint)listener.LocalEndPoint!));
        builder.Services.AddSingleton(new MigrationHooks
        {
            Output = Console.WriteLine,

            // Ask only when someone can answer (SERVICES.md §15.4); otherwise risky changes refuse to start.
            Confirm = !Console.IsInputRedirected && !Console.IsOutputRedirected ? ConfirmOnConsole : null,
        });
        builder.Services.AddMkio(Path.GetFullPath(configPath));
        builder.Services.AddHealthChecks().AddMkio();

        WebApplication app;
        try
        {
            app = builder.Build();

            // Routing runs explicitly so that the 404 below runs only when no endpoint matched: a
            // known path with a wrong method keeps routing's 405 (PROTOCOL.md §1.2), which a
            // catch-all fallback endpoint would shadow.
            app.UseRouting();
            app.MapMkio();
            if (admin)
            {
                app.MapMkioAdmin(AdminPath);
            }

            app.MapHealthChecks("/health");
            app.UseEndpoints(static _ => { });
            app.Run(static context =>
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                context.Response.ContentType = "text/plain; charset=utf-8";
                return context.Response.WriteAsync("404: Not Found", context.RequestAborted);
            });
        }
        catch (Exception ex) when (ex is MkioConfigurationException or OptionsValidationException)
        {
            listener.Dispose();
            ownership?.Dispose();
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 1;
        }

        var engineHost = app.Services.GetRequiredService<Mkio.AspNetCore.Hosting.MkioEngineHost>();
        engineHost.PreacquiredLock = ownership;
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            if (engineHost.StartupFailure is { } failure)
            {
                // mkio reported it (filtered above) and stops the app; this is the one line.
                ExceptionDispatchInfo.Throw(failure);
            }
        }
        catch (Exception ex) when (IsAddressInUse(ex))
        {
            await Console.Error.WriteLineAsync($"Error: address already in use: {listenHost}:{listenPort}. Stop the other process or change the port.").ConfigureAwait(false);
            await DisposeQuietlyAsync(app).ConfigureAwait(false);
            return 1;
        }
        catch (Exception ex) when (ex is MkioConfigurationException or OptionsValidationException)
        {
            // A refused or cancelled migration has already printed its report and error lines.
            if (!SchemaMigration.IsRefusal(ex))
            {
                await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            }

            await DisposeQuietlyAsync(app).ConfigureAwait(false);
            return 1;
        }
        catch (Exception ex) when (!verbose)
        {
            await Console.Error.WriteLineAsync($"Error: {ex.Message}").ConfigureAwait(false);
            await DisposeQuietlyAsync(app).ConfigureAwait(false);
            return 1;
        }

        var actualPort = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var browse = listenHost is "0.0.0.0" or "*" or "" or "::" ? "localhost" : listenHost.Contains(':', StringComparison.Ordinal) ? $"[{listenHost}]" : listenHost;
        Console.WriteLine($"mkio: {engineHost.Engine.StartupSummary}");
        Console.WriteLine($"mkio: open http://{browse}:{actualPort}/");
        if (admin)
        {
            Console.WriteLine($"mkio: admin page http://{browse}:{actualPort}{AdminPath}/");
        }

        Console.WriteLine($"======== Running on http://{listenHost}:{actualPort} ========");
        Console.WriteLine("(Press CTRL+C to quit)");
        Console.Out.Flush();

        await app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        await DisposeQuietlyAsync(app).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Binds the listen socket (Kestrel listens on it later), so a taken port fails before anything else starts.</summary>
    private static Socket Bind(string host, int port)
    {
        var address = host is "0.0.0.0" or "*" or "" ? IPAddress.Any
            : host is "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var ip) ? ip
            : Dns.GetHostAddresses(host).First();
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Shows the migration prompt (no newline) and reads the answer: <c>y</c> (any case, trimmed) is yes.</summary>
    private static bool ConfirmOnConsole(string prompt)
    {
        Console.Write(prompt);
        Console.Out.Flush();
        return MigrationReport.IsYes(Console.ReadLine());
    }

    private static async Task DisposeQuietlyAsync(WebApplication app)
    {
        try
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"Error during shutdown: {ex.Message}").ConfigureAwait(false);
        }
    }

    private static bool IsAddressInUse(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || e.GetType().Name == "AddressInUseException")
            {
                return true;
            }
        }

        return false;
    }
}
