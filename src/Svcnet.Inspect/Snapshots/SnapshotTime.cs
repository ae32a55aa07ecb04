using System.Globalization;

namespace Svcnet.Inspect.Snapshots;

/// <summary>
/// A point in time for <c>--since</c>/<c>--until</c>: an RFC 3339 timestamp (with a zone, e.g. 2026-11-24T19:30:00Z)
/// or a Go-style duration meaning that long ago (5m, 1h30m, 90s, 250ms), as kubectl's <c>--since</c> takes it.
/// </summary>
public static class SnapshotTime
{
    public static DateTimeOffset Parse(string text, DateTimeOffset now, string flag)
    {
        var s = text.Trim();
        if (s.Contains('T', StringComparison.Ordinal) || s.Contains('t', StringComparison.Ordinal))
        {
            // RFC 3339 requires a zone: without one the time would silently depend on the machine's zone.
            var hasZone = s.EndsWith('Z') || s.EndsWith('z') || (s.Length > 6 && s[^6] is '+' or '-' && s[^3] == ':');
            if (hasZone && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
            {
                return at.ToUniversalTime();
            }
            throw new FormatException($"{flag}: \"{text}\" is not an RFC 3339 time with a zone (e.g. 2026-11-24T19:30:00Z) or a duration (e.g. 5m)");
        }
        return now - Duration(s, text, flag);
    }

    /// <summary>Go's time.ParseDuration for non-negative values: number+unit pairs, units h, m, s, ms, us/µs, ns.</summary>
    public static TimeSpan Duration(string s, string original, string flag)
    {
        var bad = new FormatException($"{flag}: \"{original}\" is not an RFC 3339 time (e.g. 2026-11-24T19:30:00Z) or a duration (e.g. 5m, 1h30m, 90s)");
        if (s.Length == 0)
        {
            throw bad;
        }
        var total = 0.0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }
            if (i == start || !double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
            {
                throw bad;
            }
            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.')
            {
                i++;
            }
            total += s[unitStart..i] switch
            {
                "h" => value * 3600_000,
                "m" => value * 60_000,
                "s" => value * 1000,
                "ms" => value,
                "us" or "µs" => value / 1000,
                "ns" => value / 1_000_000,
                _ => throw bad,
            };
        }
        return TimeSpan.FromMilliseconds(total);
    }
}
