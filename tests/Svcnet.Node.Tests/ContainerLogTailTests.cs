namespace Svcnet.Node.Tests;

/// <summary>kubelet's tailLines: the offset where the last N lines start.</summary>
public class ContainerLogTailTests
{
    [Theory]
    [InlineData("a\nb\nc\n", 2, "b\nc\n")]
    [InlineData("a\nb\nc", 2, "b\nc")]
    [InlineData("a\nb\nc\n", 10, "a\nb\nc\n")]
    [InlineData("a\nb\nc\n", 0, "")]
    [InlineData("", 3, "")]
    [InlineData("\n\n", 1, "\n")]
    public void Tail_offset_starts_the_last_lines(string log, long lines, string expected)
    {
        using var file = new MemoryStream(System.Text.Encoding.ASCII.GetBytes(log));
        var offset = Svcnet.Node.Kubelet.ContainerLogs.TailOffset(file, lines);
        Assert.Equal(expected, log[(int)offset..]);
    }

    [Fact]
    public void Tail_offset_crosses_read_blocks()
    {
        var log = string.Concat(Enumerable.Range(0, 5000).Select(i => $"line-{i}\n"));
        using var file = new MemoryStream(System.Text.Encoding.ASCII.GetBytes(log));
        var offset = Svcnet.Node.Kubelet.ContainerLogs.TailOffset(file, 1234);
        Assert.Equal(string.Concat(Enumerable.Range(5000 - 1234, 1234).Select(i => $"line-{i}\n")), log[(int)offset..]);
    }
}
