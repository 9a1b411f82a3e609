using System.Diagnostics.Metrics;
using Mkio.Diagnostics;

namespace Mkio.AspNetCore.Admin;

/// <summary>One second of the admin page's charts.</summary>
/// <param name="UnixMs">End of the interval (Unix milliseconds).</param>
/// <param name="Committed">Transactions committed in the interval.</param>
/// <param name="Failed">Transactions failed in the interval.</param>
/// <param name="MessagesOut">Messages sent to clients (replies, subscription updates, monitor frames).</param>
/// <param name="Batches">Write batches committed.</param>
/// <param name="LatencyAvgMs">Mean batch duration (execute + commit), milliseconds; 0 without batches.</param>
/// <param name="LatencyMaxMs">Longest batch duration, milliseconds.</param>
/// <param name="Sessions">Open sessions at the end of the interval.</param>
internal readonly record struct AdminSample(long UnixMs, long Committed, long Failed, long MessagesOut, long Batches, double LatencyAvgMs, double LatencyMaxMs, int Sessions);

/// <summary>
/// The admin page's in-process metrics: a <see cref="MeterListener"/> on this host's <c>Mkio</c> meter
/// (only its instance, so several hosts in one process do not mix) adding into a few counters, and a
/// fixed ring of <see cref="Capacity"/> one-second samples. Bounded: a callback is one or two
/// interlocked adds, the ring never grows. Created when <c>MapMkioAdmin</c> is called, disposed with
/// the host's service provider.
/// </summary>
internal sealed class AdminMetrics : IDisposable
{
    /// <summary>Samples kept: five minutes at one per second.</summary>
    public const int Capacity = 300;

    /// <summary>The sampling interval.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private const string Committed = "mkio.writer.transactions.committed";
    private const string Failed = "mkio.writer.transactions.failed";
    private const string Messages = "mkio.service.messages";
    private const string BatchDuration = "mkio.writer.batch.duration";

    private readonly MeterListener _listener = new();
    private readonly Func<int> _sessions;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private readonly AdminSample[] _ring = new AdminSample[Capacity];
    private int _start;
    private int _count;

    // Current interval (reset every tick) and totals since the page was mapped.
    private long _committed;
    private long _failed;
    private long _messagesOut;
    private long _batches;
    private long _batchMicros;
    private long _batchMaxMicros;
    private long _totalCommitted;
    private long _totalFailed;
    private long _totalMessagesOut;
    private long _totalBatches;

    /// <param name="metrics">The host's meter (only its measurements are collected).</param>
    /// <param name="sessions">The open-session count, sampled with each interval.</param>
    /// <param name="time">The clock driving the samples.</param>
    public AdminMetrics(MkioMetrics metrics, Func<int> sessions, TimeProvider time)
    {
        _sessions = sessions;
        _time = time;
        var meter = metrics.Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name is Committed or Failed or Messages or BatchDuration)
            {
                listener.EnableMeasurementEvents(instrument, this);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (instrument, value, tags, state) => ((AdminMetrics)state!).OnLong(instrument.Name, value, tags));
        _listener.SetMeasurementEventCallback<double>(static (instrument, value, _, state) => ((AdminMetrics)state!).OnDouble(instrument.Name, value));
        _listener.Start();
        _timer = time.CreateTimer(static s => ((AdminMetrics)s!).Tick(), this, Interval, Interval);
    }

    /// <summary>Totals since the admin page was mapped: committed, failed, messages out, batches.</summary>
    public (long Committed, long Failed, long MessagesOut, long Batches) Totals =>
        (Interlocked.Read(ref _totalCommitted), Interlocked.Read(ref _totalFailed), Interlocked.Read(ref _totalMessagesOut), Interlocked.Read(ref _totalBatches));

    /// <summary>The samples newer than <paramref name="sinceUnixMs"/>, oldest first.</summary>
    public AdminSample[] Samples(long sinceUnixMs)
    {
        lock (_lock)
        {
            var list = new List<AdminSample>(_count);
            for (var i = 0; i < _count; i++)
            {
                var s = _ring[(_start + i) % Capacity];
                if (s.UnixMs > sinceUnixMs)
                {
                    list.Add(s);
                }
            }

            return [.. list];
        }
    }

    private void OnLong(string name, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        switch (name)
        {
            case Committed:
                Interlocked.Add(ref _committed, value);
                Interlocked.Add(ref _totalCommitted, value);
                break;
            case Failed:
                Interlocked.Add(ref _failed, value);
                Interlocked.Add(ref _totalFailed, value);
                break;
            case Messages:
                foreach (var tag in tags)
                {
                    if (tag.Key == "mkio.message.direction" && tag.Value is "out")
                    {
                        Interlocked.Add(ref _messagesOut, value);
                        Interlocked.Add(ref _totalMessagesOut, value);
                        break;
                    }
                }

                break;
        }
    }

    private void OnDouble(string name, double seconds)
    {
        if (name != BatchDuration)
        {
            return;
        }

        var micros = (long)(seconds * 1_000_000);
        Interlocked.Increment(ref _batches);
        Interlocked.Increment(ref _totalBatches);
        Interlocked.Add(ref _batchMicros, micros);
        var max = Interlocked.Read(ref _batchMaxMicros);
        while (micros > max)
        {
            var seen = Interlocked.CompareExchange(ref _batchMaxMicros, micros, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    /// <summary>Closes the current interval into the ring (called by the timer; tests call it directly).</summary>
    internal void Tick()
    {
        var batches = Interlocked.Exchange(ref _batches, 0);
        var micros = Interlocked.Exchange(ref _batchMicros, 0);
        var sample = new AdminSample(
            _time.GetUtcNow().ToUnixTimeMilliseconds(),
            Interlocked.Exchange(ref _committed, 0),
            Interlocked.Exchange(ref _failed, 0),
            Interlocked.Exchange(ref _messagesOut, 0),
            batches,
            batches == 0 ? 0 : micros / 1000.0 / batches,
            Interlocked.Exchange(ref _batchMaxMicros, 0) / 1000.0,
            _sessions());
        lock (_lock)
        {
            if (_count < Capacity)
            {
                _ring[(_start + _count) % Capacity] = sample;
                _count++;
            }
            else
            {
                _ring[_start] = sample;
                _start = (_start + 1) % Capacity;
            }
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        _listener.Dispose();
    }
}
