using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;

namespace Mkio.LoadTool;

/// <summary>What one load phase measured.</summary>
internal sealed class LoadResult
{
    public required Scenario Scenario { get; init; }

    public required double Seconds { get; init; }

    public required long Acks { get; init; }

    public required long Errors { get; init; }

    public required long TotalRequests { get; init; }

    public required long TotalErrors { get; init; }

    public required LatencySummary Latency { get; init; }

    public required TimeSpan ToolCpu { get; init; }

    public required TimeSpan ServerCpu { get; init; }

    public required BatchStats Batches { get; init; }

    /// <summary>Durations (ms) of the batches committed during the window, sorted.</summary>
    public required double[] BatchDurations { get; init; }

    /// <summary>CPU time used by the whole machine (every process, from /proc/stat) during the window.</summary>
    public required TimeSpan MachineCpu { get; init; }

    public string? FirstError { get; init; }

    public double AcksPerSecond => Acks / Seconds;
}

/// <summary>Latency percentiles in milliseconds (send → reply).</summary>
internal readonly record struct LatencySummary(double Mean, double P50, double P95, double P99, double Max)
{
    public static LatencySummary From(long[] ticks)
    {
        if (ticks.Length == 0)
        {
            return default;
        }

        Array.Sort(ticks);
        double Ms(long t) => t * 1000.0 / Stopwatch.Frequency;
        double Pct(double p) => Ms(ticks[Math.Clamp((int)Math.Ceiling(p * ticks.Length) - 1, 0, ticks.Length - 1)]);
        double sum = 0;
        foreach (var t in ticks)
        {
            sum += t;
        }

        return new LatencySummary(Ms((long)(sum / ticks.Length)), Pct(0.50), Pct(0.95), Pct(0.99), Ms(ticks[^1]));
    }
}

/// <summary>
/// Drives the <c>orders</c> service: C WebSockets, each keeping W <c>new</c> transactions in flight
/// (a reply frees a slot, which is refilled at once). Replies come back in request order per
/// connection (PROTOCOL.md §10), so each connection matches them FIFO against a ring of send
/// timestamps and also checks the echoed msgid.
/// </summary>
internal static class LoadRunner
{
    public static async Task<LoadResult> RunAsync(ServerProcess server, Scenario scenario, LoadToolOptions options, CancellationToken cancellationToken)
    {
        var uri = new Uri("ws://127.0.0.1:" + server.Port.ToString(CultureInfo.InvariantCulture) + "/ws");
        var shared = new SharedState();
        var connections = new Connection[scenario.Connections];
        for (var i = 0; i < connections.Length; i++)
        {
            connections[i] = new Connection(i, scenario.InFlight, shared);
            await connections[i].ConnectAsync(uri, cancellationToken);
        }

        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = new Task[connections.Length];
        for (var i = 0; i < connections.Length; i++)
        {
            var c = connections[i];
            tasks[i] = Task.Run(() => c.RunAsync(abort.Token), CancellationToken.None);
        }

        var all = Task.WhenAll(tasks);
        await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(options.Warmup), cancellationToken));

        var me = Process.GetCurrentProcess();
        var toolCpu0 = me.TotalProcessorTime;
        var serverCpu0 = server.CpuTime;
        var batches0 = server.Batches;
        var machine0 = MachineCpu.Read();
        var t0 = Stopwatch.GetTimestamp();
        shared.CountTarget = options.Count;
        shared.Phase = SharedState.Measuring;

        if (options.Count > 0)
        {
            while (!all.IsCompleted && Interlocked.Read(ref shared.Measured) < options.Count)
            {
                await Task.WhenAny(all, Task.Delay(5, cancellationToken));
            }
        }
        else
        {
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(options.Seconds), cancellationToken));
        }

        shared.Phase = SharedState.Stopped;
        var t1 = Stopwatch.GetTimestamp();
        me.Refresh();
        var toolCpu1 = me.TotalProcessorTime;
        var serverCpu1 = server.CpuTime;
        var machine1 = MachineCpu.Read();

        // Drain what is still in flight, then close.
        abort.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await all;
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // Reported through the per-connection error counts below.
        }

        // The writer logs a batch after completing it: give the last lines a moment to arrive.
        await Task.Delay(200, cancellationToken);
        var batches1 = server.Batches;

        var latencies = new List<long>();
        long acks = 0, errors = 0, total = 0, totalErrors = 0;
        string? firstError = null;
        foreach (var c in connections)
        {
            latencies.AddRange(c.Latencies);
            acks += c.MeasuredAcks;
            errors += c.MeasuredErrors;
            total += c.Replies;
            totalErrors += c.Errors;
            firstError ??= c.FirstError;
            await c.CloseAsync();
            c.Dispose();
        }

        return new LoadResult
        {
            Scenario = scenario,
            Seconds = Stopwatch.GetElapsedTime(t0, t1).TotalSeconds,
            Acks = acks,
            Errors = errors,
            TotalRequests = total,
            TotalErrors = totalErrors,
            Latency = LatencySummary.From([.. latencies]),
            ToolCpu = toolCpu1 - toolCpu0,
            ServerCpu = serverCpu1 - serverCpu0,
            Batches = batches1 - batches0,
            BatchDurations = SortedBatchDurations(server, batches0.Batches, batches1.Batches),
            MachineCpu = machine1 - machine0,
            FirstError = firstError,
        };
    }

    private static double[] SortedBatchDurations(ServerProcess server, long from, long to)
    {
        var all = server.BatchDurations(from);
        var d = all.AsSpan(0, (int)Math.Min(all.Length, Math.Max(0, to - from))).ToArray();
        Array.Sort(d);
        return d;
    }

    /// <summary>Busy CPU time of the whole machine (user + nice + system + irq + softirq + steal) from /proc/stat.</summary>
    private static class MachineCpu
    {
        public static TimeSpan Read()
        {
            try
            {
                using var reader = new StreamReader("/proc/stat");
                var line = reader.ReadLine();
                if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal))
                {
                    return TimeSpan.Zero;
                }

                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                long busy = 0;
                foreach (var i in new[] { 1, 2, 3, 6, 7, 8 })
                {
                    busy += long.Parse(f[i], CultureInfo.InvariantCulture);
                }

                // USER_HZ is 100 on Linux.
                return TimeSpan.FromMilliseconds(busy * 10);
            }
            catch (IOException)
            {
                return TimeSpan.Zero;
            }
        }
    }

    private sealed class SharedState
    {
        public const int Warming = 0;
        public const int Measuring = 1;
        public const int Stopped = 2;

        private volatile int _phase;

        public int Phase
        {
            get => _phase;
            set => _phase = value;
        }

        public long CountTarget { get; set; }

        public long Measured;
    }

    /// <summary>One WebSocket with its reusable send buffer and a ring of in-flight send timestamps.</summary>
    private sealed class Connection : IDisposable
    {
        private const int IdWidth = 10;
        private static readonly string[] Symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "IBM"];
        private readonly ClientWebSocket _ws = new();
        private readonly SharedState _shared;
        private readonly int _inFlight;
        private readonly byte[] _send;
        private readonly int _idAt;
        private readonly long[] _sentAt;
        private readonly long[] _seqs;
        private byte[] _receive = new byte[4096];
        private int _head;
        private int _tail;
        private int _outstanding;
        private long _seq;

        public Connection(int index, int inFlight, SharedState shared)
        {
            _shared = shared;
            _inFlight = inFlight;
            _sentAt = new long[inFlight];
            _seqs = new long[inFlight];
            _ws.Options.KeepAliveInterval = TimeSpan.Zero;
            var side = index % 2 == 0 ? "Buy" : "Sell";
            var symbol = Symbols[index % Symbols.Length];
            var prefix = "{\"service\":\"orders\",\"op\":\"new\",\"msgid\":\"c" + index.ToString("D4", CultureInfo.InvariantCulture) + "-";
            var suffix = "\",\"data\":{\"side\":\"" + side + "\",\"symbol\":\"" + symbol + "\",\"qty\":" + (100 + index).ToString(CultureInfo.InvariantCulture) + ",\"price\":101.25}}";
            _send = Encoding.UTF8.GetBytes(prefix + new string('0', IdWidth) + suffix);
            _idAt = Encoding.UTF8.GetByteCount(prefix);
        }

        public List<long> Latencies { get; } = new(1 << 16);

        public long MeasuredAcks { get; private set; }

        public long MeasuredErrors { get; private set; }

        public long Replies { get; private set; }

        public long Errors { get; private set; }

        public string? FirstError { get; private set; }

        public Task ConnectAsync(Uri uri, CancellationToken ct) => _ws.ConnectAsync(uri, ct);

        public async Task RunAsync(CancellationToken ct)
        {
            try
            {
                for (var i = 0; i < _inFlight; i++)
                {
                    await SendNextAsync(ct);
                }

                while (_outstanding > 0)
                {
                    var count = 0;
                    ValueWebSocketReceiveResult r;
                    do
                    {
                        if (count == _receive.Length)
                        {
                            Array.Resize(ref _receive, _receive.Length * 2);
                        }

                        r = await _ws.ReceiveAsync(_receive.AsMemory(count), ct);
                        if (r.MessageType == WebSocketMessageType.Close)
                        {
                            throw new WebSocketException("The server closed the connection: " + _ws.CloseStatus + " " + _ws.CloseStatusDescription);
                        }

                        count += r.Count;
                    }
                    while (!r.EndOfMessage);

                    var now = Stopwatch.GetTimestamp();
                    var sentAt = _sentAt[_head];
                    var seq = _seqs[_head];
                    _head = _head + 1 == _inFlight ? 0 : _head + 1;
                    _outstanding--;
                    Replies++;

                    var reply = _receive.AsSpan(0, count);
                    var ok = reply.IndexOf("\"ok\":true"u8) >= 0 && MsgIdMatches(reply, seq);
                    var phase = _shared.Phase;
                    if (!ok)
                    {
                        Errors++;
                        FirstError ??= Encoding.UTF8.GetString(reply);
                    }

                    if (phase == SharedState.Measuring)
                    {
                        if (ok)
                        {
                            MeasuredAcks++;
                            Latencies.Add(now - sentAt);
                            if (_shared.CountTarget > 0)
                            {
                                Interlocked.Increment(ref _shared.Measured);
                            }
                        }
                        else
                        {
                            MeasuredErrors++;
                        }
                    }

                    if (phase != SharedState.Stopped)
                    {
                        await SendNextAsync(ct);
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                Errors += _outstanding;
                FirstError ??= "connection failed: " + ex.Message;
                _outstanding = 0;
            }
        }

        private ValueTask SendNextAsync(CancellationToken ct)
        {
            var seq = ++_seq;
            WriteId(_send.AsSpan(_idAt, IdWidth), seq);
            _seqs[_tail] = seq;
            _sentAt[_tail] = Stopwatch.GetTimestamp();
            _tail = _tail + 1 == _inFlight ? 0 : _tail + 1;
            _outstanding++;
            return _ws.SendAsync(_send.AsMemory(), WebSocketMessageType.Text, endOfMessage: true, ct);
        }

        private static void WriteId(Span<byte> digits, long value)
        {
            for (var i = digits.Length - 1; i >= 0; i--)
            {
                digits[i] = (byte)('0' + (value % 10));
                value /= 10;
            }
        }

        /// <summary>The reply's msgid ends with the expected sequence number (replies are FIFO per connection).</summary>
        private static bool MsgIdMatches(ReadOnlySpan<byte> reply, long seq)
        {
            var at = reply.IndexOf("\"msgid\":\""u8);
            if (at < 0)
            {
                return false;
            }

            var id = reply[(at + 9)..];
            var dash = id.IndexOf((byte)'-');
            if (dash < 0 || id.Length < dash + 1 + IdWidth)
            {
                return false;
            }

            Span<byte> expected = stackalloc byte[IdWidth];
            WriteId(expected, seq);
            return id.Slice(dash + 1, IdWidth).SequenceEqual(expected);
        }

        public async Task CloseAsync()
        {
            try
            {
                if (_ws.State == WebSocketState.Open)
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await _ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // The server may already be going away.
            }
        }

        public void Dispose() => _ws.Dispose();
    }
}
