using Mkio.Storage;

namespace Mkio.Services;

/// <summary>
/// A reply in a connection's ordered reply queue (PROTOCOL.md §10): either ready bytes or a
/// transaction still waiting for its batch. The connection sends replies strictly in request order.
/// </summary>
internal class PendingReply
{
    protected PendingReply(MkioService? monitorService) => MonitorService = monitorService;

    /// <summary>The service whose monitors see this reply as <c>out</c>, if any.</summary>
    public MkioService? MonitorService { get; }

    /// <summary>Something to dispose once the reply was resolved (the request's JSON document).</summary>
    public IDisposable? Owned { get; set; }

    public static PendingReply Ready(byte[] frame, MkioService? monitorService) => new ReadyReply(frame, monitorService);

    public virtual ValueTask<byte[]?> ResolveAsync() => ValueTask.FromResult<byte[]?>(null);

    private sealed class ReadyReply(byte[] frame, MkioService? service) : PendingReply(service)
    {
        public override ValueTask<byte[]?> ResolveAsync() => ValueTask.FromResult<byte[]?>(frame);
    }
}

/// <summary>A transaction waiting for the writer; becomes a result or error frame.</summary>
internal sealed class TransactionReply(TransactionService service, WriteRequest request, string? clientRef, System.Text.Json.JsonElement msgid)
    : PendingReply(service)
{
    public override async ValueTask<byte[]?> ResolveAsync()
    {
        var outcome = await request.Task.ConfigureAwait(false);
        var frame = service.Complete(outcome, clientRef, msgid);
        if (request.Refused && Owned is System.Text.Json.JsonDocument document)
        {
            // The SQL access check failed: answered like every access refusal (echoes, service).
            var root = document.RootElement;
            frame = Sessions.MkioSession.AccessError(Security.AccessControl.PermissionDenied, root.TryGetProperty("ref"u8, out var r) ? r : default, root, service.Name);
        }

        TransactionService.EndActivity(request.Activity, outcome);
        return frame;
    }
}
