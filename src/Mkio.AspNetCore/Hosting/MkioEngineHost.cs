using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mkio.Diagnostics;
using Mkio.Model;
using Mkio.Storage.Migration;

namespace Mkio.AspNetCore.Hosting;

/// <summary>Owns the host's <see cref="MkioEngine"/>: compiled from the validated options when the host starts.</summary>
/// <remarks>A host that can show migration output or ask the operator (<c>mkio serve</c>) registers <see cref="MigrationHooks"/>.</remarks>
internal sealed class MkioEngineHost(IOptions<MkioOptions> options, MkioMarkerService marker, ILoggerFactory loggerFactory, MkioMetrics metrics, TimeProvider time, MigrationHooks? migrationHooks = null) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private MkioEngine? _engine;

    /// <summary>The engine; throws if the host has not started mkio.</summary>
    public MkioEngine Engine => _engine ?? throw new InvalidOperationException("mkio has not started yet (the host's hosted services start it).");

    public MkioEngine? TryGetEngine() => _engine;

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
    }
}
