namespace Svcnet.Proxy.Manifests;

/// <summary>Bad input: every message names the file and, where known, the object and the field.</summary>
public sealed class ManifestException(IReadOnlyList<string> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
