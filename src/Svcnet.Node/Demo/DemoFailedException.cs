namespace Svcnet.Node.Demo;

/// <summary>A demo step did not produce what the seed shows (wrong answer, failed command).</summary>
public sealed class DemoFailedException(string message) : Exception(message);
