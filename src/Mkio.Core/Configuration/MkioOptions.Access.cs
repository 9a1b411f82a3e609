namespace Mkio;

/// <summary>Access control settings (who may read, write and watch what).</summary>
public sealed partial class MkioOptions
{
    /// <summary>
    /// Turns access control on even when no <c>access</c> is configured (host option). Access control is also on
    /// when any service, op set or the top level has <c>access</c> or <c>monitor_access</c>, or when the table
    /// <c>_mkio_rights</c> is declared. When it is on, a service without <c>access</c> is locked and monitoring is off
    /// unless <c>monitor_access</c> allows it.
    /// </summary>
    public bool AccessControl { get; set; }

    /// <summary>Default <c>access</c> of services that declare none (top-level <c>access</c>).</summary>
    public string? Access { get; set; }

    /// <summary>Default <c>monitor_access</c> of services that declare none, and the right to monitor every service at once (top-level <c>monitor_access</c>).</summary>
    public string? MonitorAccess { get; set; }
}
