using System.Runtime.InteropServices;
using System.Text;

namespace Mkio.Cli;

/// <summary>Shared console helpers of the client commands: TTY detection, ANSI colour, UTC times, Ctrl+C.</summary>
internal static class CliConsole
{
    public const string Reset = "\u001b[0m";
    public const string Red = "\u001b[31m";
    public const string Green = "\u001b[32m";
    public const string Yellow = "\u001b[33m";
    public const string Magenta = "\u001b[35m";
    public const string Cyan = "\u001b[36m";

    /// <summary>True when standard output is a terminal (colour, tables, progress are allowed).</summary>
    public static bool IsTty => !Console.IsOutputRedirected;

    /// <summary>The current UTC wall-clock time as <c>HH:MM:SS.mmm</c>.</summary>
    public static string Now() => TimeProvider.System.GetUtcNow().ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary><paramref name="text"/> wrapped in <paramref name="colour"/> on a TTY, plain otherwise.</summary>
    public static string Colour(string text, string colour) => IsTty ? colour + text + Reset : text;

    /// <summary>Standard output as UTF-8 with LF line ends, flushed per line (scripts read it as it comes).</summary>
    public static TextWriter Out { get; } = CreateOut();

    private static TextWriter CreateOut()
    {
        var w = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        return TextWriter.Synchronized(w);
    }

    /// <summary>A token cancelled by Ctrl+C (SIGINT) or SIGTERM; the process is not killed by them.</summary>
    public static CancellationTokenSource CancelOnSignal(out IDisposable registration)
    {
        var cts = new CancellationTokenSource();
        void Handler(object? s, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            Cancel(cts);
        }

        Console.CancelKeyPress += Handler;
        var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            Cancel(cts);
        });
        registration = new Registration(() =>
        {
            Console.CancelKeyPress -= Handler;
            term.Dispose();
        });
        return cts;
    }

    private static void Cancel(CancellationTokenSource cts)
    {
        try
        {
            cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>The synopsis lines of <c>mkio</c> with their descriptions (CLI.md §1).</summary>
    private static readonly (string Synopsis, string Description)[] Synopses =
    [
        ("mkio serve [mkio.toml]", "Start a server (default mkio.toml, else server.toml)"),
        ("mkio dbupdate [config] [--allow-risky] [--allow-destructive] [--dry-run]", "Migrate the database schema to the config"),
        ("mkio services <url> [service]", "List services or show one"),
        ("mkio monitor <url> <service>", "Monitor a service's messages"),
        ("mkio send <url> <service> [--op <name>] <data>", "Send transactions from JSON, CSV or inline data"),
        ("mkio subscribe <url> <service> [--filter <expr>] [--ref <ver>]", "Subscribe and stream live messages"),
        ("mkio subpub <url> <service> [--subid <id>] [--fields <a,b>]", "Subscribe to a subpub service (later protocol)"),
        ("mkio stream <url> <service> [--filter <expr>] [--ref <ref>]", "Print a stream service's new rows (later protocol)"),
        ("mkio query <url> <service> [--filter <expr>] [--snapshotOnly]", "Page a query service's snapshot, then updates"),
        ("mkio reqrep <url> <service> [json | key=value ...]", "Call a reqrep service and print the reply"),
        ("mkio schema <url> <table>", "Show a table's columns"),
        ("mkio check <url> [version=... protocol=... mkio=...]", "Show a server's identity and check compatibility"),
        ("mkio init [dir] [--no-static]", "Write a starter server.toml"),
        ("mkio adduser <user> <role> [config]", "Add a user to _mkio_users (server stopped; password from MKIO_PASSWORD)"),
        ("mkio hashpass", "Print a password hash for _mkio_users"),
    ];

    /// <summary>
    /// The usage block printed for no arguments or an unknown command (CLI.md §1): <c>Usage:</c>, then each synopsis indented by
    /// two spaces with its description from character 36, or on a continuation line indented 35 spaces when the synopsis is longer.
    /// </summary>
    public static string UsageBlock()
    {
        const int column = 35;
        var sb = new StringBuilder("Usage:\n");
        foreach (var (synopsis, description) in Synopses)
        {
            var line = "  " + synopsis;
            if (line.Length < column)
            {
                sb.Append(line.PadRight(column)).Append(description).Append('\n');
            }
            else
            {
                sb.Append(line).Append('\n').Append(' ', column).Append(description).Append('\n');
            }
        }

        sb.Append('\n').Append("Run 'mkio --help' or 'mkio <command> --help' for details.\n");
        return sb.ToString();
    }

    private sealed class Registration(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
