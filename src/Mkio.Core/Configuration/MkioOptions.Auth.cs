using Mkio.Security;

namespace Mkio;

/// <summary>Login settings of the <c>auth</c> message (the built-in users table or a registered <see cref="IMkioAuthenticator"/>).</summary>
public sealed partial class MkioOptions
{
    /// <summary>
    /// Failed logins allowed per connection and per user name within <see cref="FailedLoginWindowSeconds"/> before
    /// further attempts are refused without checking the password (default 3; at least 2).
    /// </summary>
    public int MaxFailedLogins { get; set; } = 3;

    /// <summary>The window of <see cref="MaxFailedLogins"/>, in seconds (default 60).</summary>
    public double FailedLoginWindowSeconds { get; set; } = 60;

    /// <summary>How long a failed login's reply is held back, in milliseconds; the connection reads nothing meanwhile (default 1000).</summary>
    public int FailedLoginDelayMs { get; set; } = 1000;

    /// <summary>The table form of <c>access</c> (TOML), by owner: these options, a service or an op set.</summary>
    internal Dictionary<object, AccessRule> AccessTables { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>The table form of <c>monitor_access</c> (TOML), by owner: these options or a service.</summary>
    internal Dictionary<object, AccessRule> MonitorAccessTables { get; } = new(ReferenceEqualityComparer.Instance);
}
