using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Text;

namespace Mkio.Cli;

/// <summary>
/// Help for the commands that parse their own arguments (<c>services</c>, <c>send</c>, <c>subscribe</c>,
/// <c>monitor</c>: the reference's argument rules, CLI.md, do not fit the parser). The parser sees one
/// catch-all argument there, so its help would show <c>[&lt;args&gt;...]</c>; this prints the real synopsis,
/// arguments and options instead. Every other command keeps the parser's help.
/// </summary>
internal sealed class ManualHelp
{
    private static readonly Dictionary<Command, ManualHelp> Registered = [];

    private readonly string _synopsis;
    private readonly (string Name, string Description)[] _arguments;
    private readonly (string Name, string Description)[] _options;

    private ManualHelp(string synopsis, (string, string)[] arguments, (string, string)[] options)
    {
        _synopsis = synopsis;
        _arguments = arguments;
        _options = options;
    }

    /// <summary>Gives <paramref name="command"/> the help text built from these parts.</summary>
    public static void Register(Command command, string synopsis, (string Name, string Description)[] arguments, params (string Name, string Description)[] options) =>
        Registered[command] = new ManualHelp(synopsis, arguments, options);

    /// <summary>Routes <c>--help</c> of the registered commands to their own text.</summary>
    public static void Install(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpRouter(help.Action!);
    }

    /// <summary>The help text of a command (<paramref name="description"/> first).</summary>
    public string Render(string? description)
    {
        var text = new StringBuilder();
        text.Append("Description:\n  ").Append(description).Append("\n\n");
        text.Append("Usage:\n  ").Append(_synopsis).Append("\n\n");
        Section(text, "Arguments", _arguments);
        Section(text, "Options", [.. _options, ("--verbose", "Show error details (exception types and stack traces)."), ("-?, -h, --help", "Show help and usage information.")]);
        return text.ToString();
    }

    private static void Section(StringBuilder text, string title, (string Name, string Description)[] rows)
    {
        if (rows.Length == 0)
        {
            return;
        }

        var width = rows.Max(r => r.Name.Length) + 2;
        text.Append(title).Append(":\n");
        foreach (var (name, description) in rows)
        {
            text.Append("  ").Append(name.PadRight(width)).Append(description).Append('\n');
        }

        text.Append('\n');
    }

    private sealed class HelpRouter(CommandLineAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var command = parseResult.CommandResult.Command;
            if (!Registered.TryGetValue(command, out var help))
            {
                return standard is SynchronousCommandLineAction sync ? sync.Invoke(parseResult) : 0;
            }

            CliConsole.Out.Write(help.Render(command.Description));
            CliConsole.Out.Flush();
            return 0;
        }
    }
}
