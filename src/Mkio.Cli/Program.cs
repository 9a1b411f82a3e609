using System.CommandLine;
using Mkio.Cli;

var root = new RootCommand("mkio: config-driven realtime data server and tools.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(DbUpdateCommand.Create());
root.Subcommands.Add(ServicesCommand.Create());
root.Subcommands.Add(SendCommand.Create());
root.Subcommands.Add(SubscribeCommand.Create());
root.Subcommands.Add(MonitorCommand.Create());
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
