using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mkio.LoadTool;

/// <summary>
/// <c>--idle N</c> (issue 10, memory): the resident memory a server holds for N idle WebSocket connections. Three
/// servers in turn, each a separate process measured from <c>/proc/PID/status</c>: a bare Kestrel WebSocket server
/// (this tool with <c>--bare-server</c>, server GC like <c>mkio serve</c>), <c>mkio serve</c> with N connections
/// that subscribe to nothing, and <c>mkio serve</c> with N connections each subscribed to <c>all_orders</c>.
/// </summary>
internal static partial class LiveBenchmarks
{
    private const string BarePortLine = "bare server port ";

    /// <summary>Connections opened (and subscribed) at a time.</summary>
    private const int IdleParallel = 32;

    public static async Task<string> IdleAsync(string serverDll, string config, LoadToolOptions options, CancellationToken ct)
    {
        var n = options.Idle;
        var started = DateTimeOffset.Now;
        var loadBefore = LoadAverage();
        var environment = new Dictionary<string, string>(options.ServerEnvironment, StringComparer.Ordinal)
        {
            ["Mkio__MaxConnections"] = (n + 100).ToString(CultureInfo.InvariantCulture),
        };

        var bare = await IdleBareAsync(n, ct);
        Console.Error.WriteLine($"[idle] bare Kestrel: {bare}");
        IdleMeasure plain;
        await using (var server = await ServerProcess.StartAsync(serverDll, config, options.ConfigOverrides, batchLog: false, environment, ct))
        {
            plain = await IdleMeasureAsync(server.Id, WsUri(server), n, subscribe: false, ct);
        }

        Console.Error.WriteLine($"[idle] mkio, not subscribed: {plain}");
        IdleMeasure subscribed;
        await using (var server = await ServerProcess.StartAsync(serverDll, config, options.ConfigOverrides, batchLog: false, environment, ct))
        {
            subscribed = await IdleMeasureAsync(server.Id, WsUri(server), n, subscribe: true, ct);
        }

        Console.Error.WriteLine($"[idle] mkio, subscribed: {subscribed}");
        var sb = new StringBuilder();
        sb.Append("#### ").Append(started.ToString("yyyy-MM-dd HH:mm zzz", CultureInfo.InvariantCulture)).Append(" — ")
          .Append(n.ToString("N0", CultureInfo.InvariantCulture)).Append(" idle connections");
        if (options.Label is not null)
        {
            sb.Append(" — ").Append(options.Label);
        }

        sb.AppendLine().AppendLine();
        sb.AppendLine("| server | RSS before MiB | RSS with the connections MiB | KiB per connection | ratio to bare Kestrel |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        void Row(string name, IdleMeasure m) =>
            sb.Append("| ").Append(name).Append(" | ").Append(F(m.Before / 1024.0, 1)).Append(" | ").Append(F(m.After / 1024.0, 1))
              .Append(" | ").Append(F(m.PerConnectionKiB(n), 1)).Append(" | ").Append(F(m.PerConnectionKiB(n) / bare.PerConnectionKiB(n), 2)).AppendLine(" |");
        Row("bare Kestrel WebSocket server (reads, never writes)", bare);
        Row("mkio serve, connections subscribed to nothing", plain);
        Row("mkio serve, every connection subscribed to all_orders (empty table)", subscribed);
        sb.AppendLine();
        sb.Append("RSS = VmRSS of the server process, before = after start-up (2 s settle), with = 3 s after the last of the ")
          .Append(n.ToString(CultureInfo.InvariantCulture)).Append(" connections was open (and its snapshot received). Connections opened ")
          .Append(IdleParallel.ToString(CultureInfo.InvariantCulture)).Append(" at a time from this tool. Load average ").Append(loadBefore).Append(" → ")
          .Append(LoadAverage()).AppendLine(".");
        return sb.ToString();
    }

    /// <summary>The baseline server: Kestrel, WebSockets at <c>/ws</c>, each connection reading until it closes.</summary>
    public static async Task BareServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        app.UseWebSockets();
        app.Map("/ws", async (HttpContext context) =>
        {
            using var ws = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    var r = await ws.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
            {
                // Client went away.
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine(BarePortLine + new Uri(address).Port.ToString(CultureInfo.InvariantCulture));
        await Console.In.ReadLineAsync();
        await app.StopAsync();
    }

    private static async Task<IdleMeasure> IdleBareAsync(int n, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(typeof(LiveBenchmarks).Assembly.Location);
        psi.ArgumentList.Add("--bare-server");
        psi.Environment["DOTNET_gcServer"] = "1";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start the bare server.");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            string? line;
            while ((line = await process.StandardOutput.ReadLineAsync(timeout.Token)) is not null && !line.StartsWith(BarePortLine, StringComparison.Ordinal))
            {
            }

            var port = line is null ? throw new InvalidOperationException("The bare server did not print its port.") : int.Parse(line[BarePortLine.Length..], CultureInfo.InvariantCulture);
            return await IdleMeasureAsync(process.Id, new Uri("ws://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture) + "/ws"), n, subscribe: false, ct);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary>Opens <paramref name="n"/> connections (each subscribing to <c>all_orders</c> when asked), measures, closes them.</summary>
    private static async Task<IdleMeasure> IdleMeasureAsync(int pid, Uri uri, int n, bool subscribe, CancellationToken ct)
    {
        await Task.Delay(TimeSpan.FromSeconds(2), ct);
        var before = RssKiB(pid);
        var sockets = new ClientWebSocket[n];
        var next = -1;
        var subscribeBytes = "{\"service\":\"all_orders\",\"type\":\"subscribe\"}"u8.ToArray();
        async Task OpenAsync()
        {
            var buffer = new byte[4096];
            int i;
            while ((i = Interlocked.Increment(ref next)) < n)
            {
                var ws = new ClientWebSocket { Options = { KeepAliveInterval = TimeSpan.Zero } };
                ws.Options.SetBuffer(1024, 1024);
                await ws.ConnectAsync(uri, ct);
                sockets[i] = ws;
                if (!subscribe)
                {
                    continue;
                }

                await ws.SendAsync(subscribeBytes, WebSocketMessageType.Text, true, ct);
                ValueWebSocketReceiveResult r;
                var first = true;
                do
                {
                    r = await ws.ReceiveAsync(buffer.AsMemory(), ct);
                    if (first && !buffer.AsSpan(0, r.Count).StartsWith("{\"type\":\"snapshot\""u8))
                    {
                        throw new InvalidOperationException("Expected a snapshot, got: " + Encoding.UTF8.GetString(buffer, 0, r.Count));
                    }

                    first = false;
                }
                while (!r.EndOfMessage);
            }
        }

        try
        {
            await Task.WhenAll(Enumerable.Range(0, IdleParallel).Select(_ => Task.Run(OpenAsync, ct)));
            await Task.Delay(TimeSpan.FromSeconds(3), ct);
            return new IdleMeasure(before, RssKiB(pid));
        }
        finally
        {
            foreach (var ws in sockets)
            {
                ws?.Abort();
                ws?.Dispose();
            }
        }
    }

    /// <summary>VmRSS of <paramref name="pid"/> in KiB.</summary>
    private static long RssKiB(int pid)
    {
        foreach (var line in File.ReadLines("/proc/" + pid.ToString(CultureInfo.InvariantCulture) + "/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("No VmRSS for process " + pid.ToString(CultureInfo.InvariantCulture) + ".");
    }

    /// <summary>Resident memory (KiB) before and with the connections.</summary>
    private readonly record struct IdleMeasure(long Before, long After)
    {
        public double PerConnectionKiB(int n) => (After - Before) / (double)n;

        public override string ToString() => $"RSS {Before / 1024.0:N1} → {After / 1024.0:N1} MiB";
    }
}
