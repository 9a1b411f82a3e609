using System.CommandLine;
using System.Threading.Channels;
using Mkio.Client;
using Spectre.Console;

namespace Mkio.Cli;

/// <summary><c>mkio send &lt;url&gt; &lt;service&gt; [--op name] &lt;data&gt;</c> (CLI.md §5).</summary>
internal static class SendCommand
{
    public const string Usage = "Usage: mkio send <url> <service> [--op <name>] <data>";

    /// <summary>Requests on the wire without a reply yet.</summary>
    private const int MaxInFlight = 64;

    /// <summary>At least this many messages on a terminal show a progress bar (CLI.md: progress bars welcome on a TTY).</summary>
    private const int ProgressThreshold = 50;

    public static Command Create()
    {
        var tokens = new Argument<string[]>("args")
        {
            Description = "<url> <service> [--op <name>] <data>: data is inline JSON (an object or an array of objects), a .json file or a .csv file.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verbose = new Option<bool>("--verbose") { Description = "Show error details (exception types and stack traces)." };
        var command = new Command(
            "send",
            "Send transactions from inline JSON, a .json file or a .csv file. Messages are pipelined; results are printed in input order "
            + "as '[i/N] ok ref=<ref>' or '[i/N] error: <message>'. "
            + "Exit status 1 when any message failed (unlike mkio 0.1.0, which always exits 0).")
        {
            tokens, verbose,
        };
        ManualHelp.Register(
            command,
            "mkio send <url> <service> [--op <name>] <data> [--verbose]",
            [
                ("<url>", "The server: a port (8080), host:port or http://host:port."),
                ("<service>", "A transaction service."),
                ("<data>", "Inline JSON (an object or an array of objects), a .json file or a .csv file (one message per row)."),
            ],
            ("--op <name>", "The op of messages that do not name their own."));
        command.SetAction(parse =>
        {
            using var cts = CliConsole.CancelOnSignal(out var registration);
            using (registration)
            {
                return RunAsync(parse.GetValue(tokens) ?? [], parse.GetValue(verbose), cts.Token).GetAwaiter().GetResult();
            }
        });
        return command;
    }

    public static async Task<int> RunAsync(string[] args, bool verbose, CancellationToken ct)
    {
        var @out = CliConsole.Out;
        if (args.Length < 3)
        {
            await @out.WriteLineAsync(Usage).ConfigureAwait(false);
            await @out.WriteLineAsync("  <data> is inline JSON, a .json file (object or array) or a .csv file (first row = header).").ConfigureAwait(false);
            return 1;
        }

        var url = args[0];
        var service = args[1];
        string? opArg = null;
        var rest = new List<string>();
        for (var i = 2; i < args.Length; i++)
        {
            var a = args[i];
            if (a == "--op")
            {
                if (i + 1 >= args.Length)
                {
                    await @out.WriteLineAsync("Error: --op requires a value").ConfigureAwait(false);
                    return 1;
                }

                opArg = args[++i];
            }
            else if (a.StartsWith("--", StringComparison.Ordinal))
            {
                await @out.WriteLineAsync($"Unknown option: {a}").ConfigureAwait(false);
                await @out.WriteLineAsync(Usage).ConfigureAwait(false);
                return 1;
            }
            else
            {
                rest.Add(a);
            }
        }

        if (rest.Count == 0)
        {
            await @out.WriteLineAsync("Error: no data argument provided").ConfigureAwait(false);
            return 1;
        }

        List<SendMessage> messages;
        try
        {
            messages = SendData.Load(rest[0]);
        }
        catch (SendDataException ex)
        {
            await @out.WriteLineAsync($"Error: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        var wsUrl = CliUrl.WebSocket(url);
        if (!Uri.TryCreate(wsUrl, UriKind.Absolute, out var uri))
        {
            await @out.WriteLineAsync($"Error: invalid URL: {url}").ConfigureAwait(false);
            return 1;
        }

        var options = new MkioClientOptions { Reconnect = false, Protocol = MkioProtocol.V010 };
        if (!await CliLogin.ConfigureAsync(options).ConfigureAwait(false))
        {
            return 1;
        }

        await using var client = new MkioClient(uri, options);
        try
        {
            await client.ConnectAsync(ct).ConfigureAwait(false);
        }
        catch (MkioLoginRefusedException ex)
        {
            return await CliLogin.RefusedAsync(ex).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MkioConnectionException or OperationCanceledException)
        {
            await @out.WriteLineAsync($"Error: could not connect to {wsUrl}. Is the mkio server running?").ConfigureAwait(false);
            if (verbose)
            {
                await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return 1;
        }

        var n = messages.Count;
        var failed = 0;
        var failedRows = new List<int>();
        using var slots = new SemaphoreSlim(MaxInFlight, MaxInFlight);
        var results = Channel.CreateBounded<Task<string?>>(new BoundedChannelOptions(MaxInFlight * 2) { SingleReader = true, SingleWriter = true });

        // Producer: send in input order (the client writes frames in call order), at most MaxInFlight awaiting replies.
        var producer = Task.Run(
            async () =>
            {
                try
                {
                    foreach (var m in messages)
                    {
                        await slots.WaitAsync(ct).ConfigureAwait(false);
                        var task = SendOneAsync(client, service, m, opArg, verbose, ct);
                        _ = task.ContinueWith(static (_, s) => ((SemaphoreSlim)s!).Release(), slots, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        await results.Writer.WriteAsync(task, ct).ConfigureAwait(false);
                    }
                }
                finally
                {
                    results.Writer.TryComplete();
                }
            },
            CancellationToken.None);

        var index = 0;
        try
        {
            if (CliConsole.IsTty && n >= ProgressThreshold)
            {
                // On a terminal with many messages: a progress bar while the sends complete, then the lines in input order.
                var lines = new List<(int Index, string Text)>(n);
                await AnsiConsole.Progress()
                    .AutoClear(true)
                    .HideCompleted(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .StartAsync(async ctx =>
                    {
                        var bar = ctx.AddTask($"Sending {n} messages", maxValue: n);
                        await foreach (var task in results.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                        {
                            index++;
                            var line = await task.ConfigureAwait(false);
                            bar.Increment(1);
                            if (line is not null)
                            {
                                lines.Add((index, line));
                            }
                        }
                    }).ConfigureAwait(false);
                await producer.ConfigureAwait(false);
                foreach (var (i, text) in lines)
                {
                    var ok = text.StartsWith("ok ", StringComparison.Ordinal);
                    if (!ok)
                    {
                        failed++;
                        failedRows.Add(i);
                    }

                    await @out.WriteLineAsync($"[{i}/{n}] {CliConsole.Colour(text, ok ? CliConsole.Green : CliConsole.Red)}").ConfigureAwait(false);
                }
            }
            else
            {
                await foreach (var task in results.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    index++;
                    var error = await task.ConfigureAwait(false);
                    if (error is null)
                    {
                        continue;
                    }

                    // SendOneAsync returns "ok ref=…" or "error: …".
                    var ok = error.StartsWith("ok ", StringComparison.Ordinal);
                    if (!ok)
                    {
                        failed++;
                        failedRows.Add(index);
                    }

                    var text = CliConsole.IsTty ? CliConsole.Colour(error, ok ? CliConsole.Green : CliConsole.Red) : error;
                    await @out.WriteLineAsync($"[{index}/{n}] {text}").ConfigureAwait(false);
                }

                await producer.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await @out.WriteLineAsync().ConfigureAwait(false);
            await @out.WriteLineAsync($"Interrupted after {index} of {n} messages.").ConfigureAwait(false);
            return 1;
        }

        if (CliConsole.IsTty && n > 0)
        {
            var summary = $"Sent {n} message{(n == 1 ? string.Empty : "s")}: {n - failed} ok, {failed} failed.";
            if (failedRows.Count > 0)
            {
                // Terminal summary only: the failed rows by number (the plain [i/N] lines are unchanged).
                summary += " Failed rows: " + string.Join(", ", failedRows.Take(50)) + (failedRows.Count > 50 ? ", …" : string.Empty);
            }
            await @out.WriteLineAsync(CliConsole.Colour(summary, failed == 0 ? CliConsole.Green : CliConsole.Red)).ConfigureAwait(false);
        }

        return failed == 0 ? 0 : 1;
    }

    private static async Task<string?> SendOneAsync(MkioClient client, string service, SendMessage m, string? opArg, bool verbose, CancellationToken ct)
    {
        if (m.Payload is null)
        {
            return $"error: {m.Error}";
        }

        try
        {
            var result = await client.SendAsync(service, new RawJson(m.Payload), RawJson.Info, op: m.Op ?? opArg, @ref: m.Ref, msgId: m.MsgId, cancellationToken: ct).ConfigureAwait(false);
            return $"ok ref={result.Ref}";
        }
        catch (MkioServerException ex)
        {
            return $"error: {(string.IsNullOrEmpty(ex.Message) ? "unknown error" : ex.Message)}";
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            if (verbose)
            {
                await Console.Error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return $"error: {ex.Message}";
        }
    }
}
