using System.CommandLine;
using Mkio.Cli;

var root = new RootCommand("mkio: config-driven realtime data server and tools.");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(DbUpdateCommand.Create());
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
