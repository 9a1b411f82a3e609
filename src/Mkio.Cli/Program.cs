using System.CommandLine;
using Mkio.Cli;

var root = new RootCommand("mkio: config-driven realtime data server and tools.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(DbUpdateCommand.Create());
root.Subcommands.Add(ServicesCommand.Create());
root.Subcommands.Add(SendCommand.Create());
root.Subcommands.Add(SubscribeCommand.Create());
root.Subcommands.Add(MonitorCommand.Create());

// No arguments or an unknown command: the usage block of CLI.md §1, exit 1 (options such as --help stay with the parser).
if (args.Length == 0 || (!args[0].StartsWith('-') && !root.Subcommands.Any(c => c.Name == args[0])))
{
    await CliConsole.Out.WriteAsync(CliConsole.UsageBlock()).ConfigureAwait(false);
    return 1;
}

return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
