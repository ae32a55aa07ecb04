namespace Svcnet.Cli.Tests;

public class VersionTests
{
    [Fact]
    public async Task Version_option_prints_the_assembly_version()
    {
        var output = new StringWriter();
        var parse = SvcnetCli.Build().Parse(["--version"]);
        var code = await parse.InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output });
        Assert.Equal(0, code);
        Assert.Equal(SvcnetCli.Version, output.ToString().Trim());
    }
}
