using System.Globalization;
using System.Threading.RateLimiting;

namespace Mkio.Security;

/// <summary>
/// Brute-force protection of the <c>auth</c> message: failed logins are counted per connection and per user name in
/// fixed windows (<see cref="MkioOptions.MaxFailedLogins"/> per <see cref="MkioOptions.FailedLoginWindowSeconds"/>).
/// Once either count is used up, attempts are refused without checking the password — the same answer whether the
/// user exists or not. Idle partitions are dropped by the partitioned limiter.
/// </summary>
internal sealed class LoginGuard : IDisposable
{
    /// <summary>The reply text of a refused attempt.</summary>
    public const string TooMany = "too many failed logins; try again later";

    private readonly PartitionedRateLimiter<string> _limiter;

    public LoginGuard(MkioOptions options)
    {
        var limit = Math.Max(2, options.MaxFailedLogins);
        var window = TimeSpan.FromSeconds(options.FailedLoginWindowSeconds > 0 ? options.FailedLoginWindowSeconds : 60);
        _limiter = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(
            key,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = limit, Window = window, QueueLimit = 0 }));
    }

    /// <summary>True when the connection or the user name has no failed attempts left in the current window.</summary>
    public bool IsLimited(long connection, string user)
    {
        using var byConnection = _limiter.AttemptAcquire(ConnectionKey(connection), 0);
        using var byUser = _limiter.AttemptAcquire(UserKey(user), 0);
        return !byConnection.IsAcquired || !byUser.IsAcquired;
    }

    /// <summary>Counts a failed login against the connection and the user name.</summary>
    public void Failed(long connection, string user)
    {
        using var byConnection = _limiter.AttemptAcquire(ConnectionKey(connection));
        using var byUser = _limiter.AttemptAcquire(UserKey(user));
    }

    public void Dispose() => _limiter.Dispose();

    private static string ConnectionKey(long connection) => "c:" + connection.ToString(CultureInfo.InvariantCulture);

    // Long names share a partition by prefix (bounded key size).
    private static string UserKey(string user) => "u:" + (user.Length > 256 ? user[..256] : user);
}
