using Mkio.Security;

namespace Mkio;

/// <summary>The engine's access rules.</summary>
internal sealed partial class MkioEngine
{
    private AccessControl? _access;

    /// <summary>The access rules of the model (built on first use; immutable).</summary>
    public AccessControl Access => LazyInitializer.EnsureInitialized(ref _access, () => new AccessControl(Model.Options));
}
