namespace Svcnet.Cli.Tests.Golden;

/// <summary>
/// Sorts an nft script the way kube-proxy's tests compare transactions (and the fake dumps its state): blank and
/// <c>#</c> lines dropped; the table, then chains, sets and maps by name, then each chain's rules in their order,
/// then elements by container and key. Lets kube-proxy's hand-ordered expectations be compared with our dumps.
/// </summary>
public static class NftNormalizer
{
    public static string Normalize(string script)
    {
        var lines = script.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && l[0] != '#').ToList();
        string Word(string line, int i) => line.Split(' ')[i];
        var tables = lines.Where(l => Word(l, 1) == "table");
        var chains = lines.Where(l => Word(l, 1) == "chain").OrderBy(l => Word(l, 4), StringComparer.Ordinal);
        var sets = lines.Where(l => Word(l, 1) == "set").OrderBy(l => Word(l, 4), StringComparer.Ordinal);
        var maps = lines.Where(l => Word(l, 1) == "map").OrderBy(l => Word(l, 4), StringComparer.Ordinal);
        var rules = lines.Where(l => Word(l, 1) == "rule").OrderBy(l => Word(l, 4), StringComparer.Ordinal);
        var elements = lines.Where(l => Word(l, 1) == "element").OrderBy(l => Word(l, 4), StringComparer.Ordinal).ThenBy(l => l, StringComparer.Ordinal);
        return string.Concat(tables.Concat(chains).Concat(sets).Concat(maps).Concat(rules).Concat(elements).Select(l => l + "\n"));
    }
}
