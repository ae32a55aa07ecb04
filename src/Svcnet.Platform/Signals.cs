using System.Runtime.InteropServices;

namespace Svcnet.Platform;

/// <summary>POSIX signals by pid (and process group), which <see cref="System.Diagnostics.Process"/> lacks (it only kills).</summary>
public static partial class Signals
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int SIGCONT = 18;
    public const int SIGSTOP = 19;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/>; a negative pid addresses the process group. False if there was nobody.</summary>
    public static bool Send(int pid, int signal) => pid != 0 && pid != -1 && Kill(pid, signal) == 0;

    /// <summary>
    /// The process's start time (field 22 of /proc/PID/stat, clock ticks since boot), or null if there is no such
    /// process: with the pid it names one process for good, where a pid alone may be reused by another.
    /// </summary>
    public static long? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 19 && long.TryParse(fields[19], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var ticks) ? ticks : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    /// <summary>This process's effective user id.</summary>
    public static uint EffectiveUserId => GetEffectiveUserId();

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var afterComm = stat.LastIndexOf(')');
            return afterComm > 0 && afterComm + 2 < stat.Length && stat[afterComm + 2] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }
}
