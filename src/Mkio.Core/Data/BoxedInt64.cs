namespace Mkio.Data;

/// <summary>
/// Boxed <see cref="long"/> values shared for the small integers rows hold most often (flags, counts, quantities):
/// a row's values are <c>object?</c>, and the write path would otherwise box each integer it reads back.
/// </summary>
internal static class BoxedInt64
{
    private const long Low = -128;
    private const long High = 1023;
    private static readonly object[] Cache = Create();

    /// <summary>The integer boxed: a shared box for -128…1023, a new one otherwise.</summary>
    public static object Of(long value) => (ulong)(value - Low) <= High - Low ? Cache[value - Low] : value;

    private static object[] Create()
    {
        var cache = new object[High - Low + 1];
        for (var i = 0; i < cache.Length; i++)
        {
            cache[i] = Low + i;
        }

        return cache;
    }
}
