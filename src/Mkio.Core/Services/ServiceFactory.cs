using Mkio.Model;
using Mkio.Services.Listeners;

namespace Mkio.Services;

/// <summary>Creates the runtime service for a compiled listener model.</summary>
internal static class ServiceFactory
{
    public static MkioService CreateListener(MkioEngine engine, ListenerServiceModel model) => model.Kind switch
    {
        ListenerKind.SubPub => new SubPubService(engine, model),
        ListenerKind.Stream => new StreamService(engine, model),
        _ => new QueryService(engine, model),
    };
}
