using System.Text.Json;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Sessions;

namespace Mkio.Services;

/// <summary>Creates the runtime service for a compiled listener model.</summary>
internal static class ServiceFactory
{
    public static MkioService CreateListener(MkioEngine engine, ListenerServiceModel model)
    {
        _ = engine;
        return new PendingListenerService(model);
    }

    /// <summary>
    /// Listener runtime of the write-path milestone: answers non-subscribe messages (F15) and
    /// subscribes with a nack until the live-data services replace it.
    /// </summary>
    private sealed class PendingListenerService(ListenerServiceModel model) : ListenerService(model)
    {
        public override ValueTask SubscribeAsync(MkioSession session, Envelope envelope, CancellationToken cancellationToken)
        {
            var frame = Frames.NackReply(Name, $"{Kind} subscriptions are not available in this build", envelope.RefKind == RefKind.String ? envelope.RefElement : default(JsonElement));
            session.TrySend(frame, Name);
            NotifyOut(frame);
            return ValueTask.CompletedTask;
        }
    }
}
