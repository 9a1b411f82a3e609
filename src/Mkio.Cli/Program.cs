using System.CommandLine;
using Mkio.Cli;

var root = new RootCommand("mkio: config-driven realtime data server and tools.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(DbUpdateCommand.Create());
root.Subcommands.Add(ArchiveCommand.Create());
root.Subcommands.Add(ArchiveCommand.CreateRestore());
root.Subcommands.Add(ServicesCommand.Create());
root.Subcommands.Add(SendCommand.Create());
root.Subcommands.Add(SubscribeCommand.Create());
root.Subcommands.Add(LaterSubscribeCommand.SubPub());
root.Subcommands.Add(LaterSubscribeCommand.Stream());
root.Subcommands.Add(LaterSubscribeCommand.Query());
root.Subcommands.Add(MonitorCommand.Create());
root.Subcommands.Add(ReqRepCommand.Create());
root.Subcommands.Add(SchemaCommand.Create());
root.Subcommands.Add(CheckCommand.Create());
root.Subcommands.Add(InitCommand.Create());
root.Subcommands.Add(AuthCommands.AddUser());
root.Subcommands.Add(AuthCommands.HashPass());
ManualHelp.Install(root);

// No arguments, an unknown command or an unknown option in its place (`mkio --bogus`, `mkio -x`): the usage block of CLI.md §1,
// exit 1, as the reference, which takes its first argument as the command. The root's own options (--help, -h, -?, /?, --version)
// and the commands stay with the parser.
if (args.Length == 0 || !IsCommandOrRootOption(root, args[0]))
{
    await CliConsole.Out.WriteAsync(CliConsole.UsageBlock()).ConfigureAwait(false);
    return 1;
}

// --username on a WebSocket command: taken out here, used by every connection the command opens.
if (CliLogin.Extract(args) is not { } rest)
{
    await CliConsole.Out.WriteLineAsync("Error: --username needs a user name.").ConfigureAwait(false);
    return 1;
}

return await root.Parse(rest).InvokeAsync().ConfigureAwait(false);

static bool IsCommandOrRootOption(RootCommand root, string token) =>
    root.Subcommands.Any(c => c.Name == token || c.Aliases.Contains(token))
    || root.Options.Any(o => o.Name == token || o.Aliases.Contains(token));
