namespace Mkio;

/// <summary>Settings of the later protocol generations (mkio 0.1.x – 1.x) that a 0.1.0 config does not use.</summary>
public sealed partial class MkioOptions
{
    /// <summary>
    /// Later-protocol behaviour that a request cannot ask for itself (<c>later_protocol</c>): discovery documents
    /// gain the <c>protocol</c> key next to <c>type</c>. Off by default, so 0.1.0 tools see exactly the 0.1.0
    /// documents. Messages that carry later markers get later behaviour either way.
    /// </summary>
    public bool LaterProtocol { get; set; }

    /// <summary>Application name reported by the built-in <c>_mkio</c> service (<c>name</c>); empty when not set.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Application version reported by the built-in <c>_mkio</c> service (<c>version</c>); empty when not set.</summary>
    public string Version { get; set; } = string.Empty;

    /// <summary>
    /// Config routes: URL prefix → directory (<c>[config]</c>). <c>GET &lt;prefix&gt;/x.json</c> answers <c>x.toml</c>
    /// converted to JSON (or a literal <c>x.json</c>); other files are served as they are.
    /// </summary>
    public IList<MkioStaticRoute> ConfigRoutes { get; } = new List<MkioStaticRoute>();

    /// <summary>Largest number of rows a reqrep request may read; more fails the request. Host option; default 10,000.</summary>
    public int ReqRepMaxRows { get; set; } = 10_000;

    /// <summary>Milliseconds a reqrep statement may run before SQLite interrupts it. Host option; default 5,000.</summary>
    public int ReqRepTimeoutMs { get; set; } = 5_000;
}
