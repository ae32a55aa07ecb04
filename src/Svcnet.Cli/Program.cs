using Svcnet.Cli;

return await SvcnetCli.RunAsync(args);
