namespace Svcnet.Inspect.Tests;

/// <summary>
/// A cluster state file (what svcnet up writes to DATA/state.json) recording one node and its namespace: --node NAME
/// resolves through it, so a test's hand-made namespace is found exactly as a real node is.
/// </summary>
internal static class NodeStateFile
{
    public static void Write(string dataDir, string nodeName, string netns) =>
        File.WriteAllText(Path.Combine(dataDir, "state.json"), $$"""
            {"dataDir":"{{dataDir}}","prefix":"svcnet-test-","createdAt":"2026-01-01T00:00:00Z",
             "nodes":[{"name":"{{nodeName}}","index":1,"netns":"{{netns}}","nodeIP":"192.168.10.5","podCidr":"10.244.0.0/24"}]}
            """);
}
