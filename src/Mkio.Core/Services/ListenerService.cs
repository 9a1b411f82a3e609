using System.Text.Json;
using Mkio.Model;
using Mkio.Protocol;
using Mkio.Sessions;

namespace Mkio.Services;

/// <summary>
/// Common behaviour of subpub, stream and query services: any message that is not a
/// subscribe/unsubscribe is answered with one error in the §9 envelope (fix F15).
/// </summary>
internal abstract class ListenerService(ListenerServiceModel model) : MkioService(model)
{
    public new ListenerServiceModel Model { get; } = model;

    public override ValueTask<PendingReply?> HandleMessageAsync(MkioSession session, Envelope envelope, JsonDocument document, CancellationToken cancellationToken)
    {
        var kind = Kind;
        string text;
        var type = envelope.Type;
        if (type.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null
            || (type.ValueKind == JsonValueKind.String && (type.ValueEquals(""u8) || type.ValueEquals("transaction"u8))))
        {
            text = $"Service '{Name}' is a {kind} service; it does not accept transactions";
        }
        else if (type.ValueKind == JsonValueKind.String && type.ValueEquals("check"u8))
        {
            text = $"Service '{Name}' is a {kind} service; check applies to transaction services only";
        }
        else
        {
            var shown = type.ValueKind == JsonValueKind.String ? PyRepr.OfString(type.GetString()!) : PyRepr.Compact(type);
            text = $"Unknown message type: {shown}. Valid types: subscribe, unsubscribe, monitor";
        }

        var frame = Frames.ErrorReply(text, envelope.RefElement, envelope.MsgId);
        return ValueTask.FromResult<PendingReply?>(PendingReply.Ready(frame, this));
    }
}
