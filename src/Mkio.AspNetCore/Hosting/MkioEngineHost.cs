using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mkio.Diagnostics;
using Mkio.Model;
using Mkio.Storage.Migration;

namespace Mkio.AspNetCore.Hosting;

/// <summary>Owns the host's <see cref="MkioEngine"/>: compiled from the validated options when the host starts.</summary>
/// <remarks>A host that can show migration output or ask the operator (<c>mkio serve</c>) registers <see cref="MigrationHooks"/>.</remarks>
internal sealed class MkioEngineHost(IOptions<MkioOptions> options, MkioMarkerService marker, ILoggerFactory loggerFactory, MkioMetrics metrics, TimeProvider time, MigrationHooks? migrationHooks = null, IMkioAuthenticator? authenticator = null) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private MkioEngine? _engine;

    /// <summary>The engine; throws if the host has not started mkio.</summary>
    public MkioEngine Engine => _engine ?? throw new InvalidOperationException("mkio has not started yet (the host's hosted services start it).");

    public MkioEngine? TryGetEngine() => _engine;

    /// <summary>
    /// Why mkio could not start (config, database ownership, migration…), or null. The hosted service
    /// reports it as one critical log line and stops the application with exit code 1 instead of
    /// letting the exception escape <c>app.Run()</c> with a stack trace.
    /// </summary>
    public Exception? StartupFailure { get; set; }

    /// <summary>Ownership of the database taken by the host before start (<c>mkio serve</c>), handed to the engine.</summary>
    public DatabaseLock? PreacquiredLock { get; set; }

    /// <summary>True from the moment shutdown begins: new WebSocket upgrades are refused.</summary>
    public bool Stopping { get; set; }

    public MkioEngine Create()
    {
        lock (_lock)
        {
            if (_engine is null)
            {
                var model = ModelCompiler.Compile(options.Value, marker.Functions);
                _engine = new MkioEngine(model, loggerFactory, metrics, time, marker.Functions)
                {
                    MigrationOutput = migrationHooks?.Output,
                    ConfirmMigration = migrationHooks?.Confirm,
                    OwnershipLock = PreacquiredLock,
                    Authenticator = authenticator,
                };
            }

            return _engine;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_engine is not null)
        {
            await _engine.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            PreacquiredLock?.Dispose();
        }
    }
}
