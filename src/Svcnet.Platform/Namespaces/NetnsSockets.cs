using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Svcnet.Platform.Namespaces;

/// <summary>
/// Creates sockets that live in another network namespace without starting a process: a short-lived thread
/// enters the namespace with setns(2), creates the socket and ends. A socket stays in the namespace it was
/// created in, so it can be used from any thread afterwards (probes, test clients).
/// </summary>
public static partial class NetnsSockets
{
    private const int CloneNewNet = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    /// <summary>A socket in named namespace <paramref name="netns"/>; the empty name is this process's own namespace (as in <see cref="NetnsExec"/>).</summary>
    public static Socket Create(string netns, AddressFamily family, SocketType type, ProtocolType protocol) =>
        netns.Length == 0 ? new Socket(family, type, protocol) : CreateAt(Path.Combine("/run/netns", netns), family, type, protocol);

    /// <summary>A socket in the network namespace of <paramref name="nsPath"/> (a /run/netns file or /proc/PID/ns/net).</summary>
    public static Socket CreateAt(string nsPath, AddressFamily family, SocketType type, ProtocolType protocol)
    {
        using var handle = File.OpenHandle(nsPath);
        return CreateIn(handle, nsPath, family, type, protocol);
    }

    /// <summary>A socket in the network namespace of an open namespace file (kept open by a caller that outlives its source).</summary>
    public static Socket CreateIn(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string netns, AddressFamily family, SocketType type, ProtocolType protocol)
    {
        Socket? socket = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                if (SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new IOException($"setns({netns}) failed: errno {Marshal.GetLastPInvokeError()}");
                }

                socket = new Socket(family, type, protocol);
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        { IsBackground = true, Name = "setns " + netns };
        thread.Start();
        thread.Join();
        return error is null ? socket! : throw error;
    }
}
