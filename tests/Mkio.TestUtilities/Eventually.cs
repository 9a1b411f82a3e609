namespace Mkio.TestUtilities;

/// <summary>Bounded polling for state that another thread reaches asynchronously (counters, queues, flags).</summary>
public static class Eventually
{
    /// <summary>The default bound of <see cref="WaitUntilAsync"/>.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds; throws <see cref="TimeoutException"/> naming
    /// <paramref name="what"/> when it does not within <paramref name="timeout"/> (default 20 s).
    /// </summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }
}
