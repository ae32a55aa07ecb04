using System.Runtime.InteropServices;

namespace Svcnet.Platform.Namespaces;

/// <summary>
/// A raw <c>NETLINK_NETFILTER</c> socket opened inside a network namespace (a short-lived thread enters it with
/// setns(2), as <see cref="NetnsSockets"/> does): nf_tables batches sent on it program that namespace's tables.
/// .NET's <c>Socket</c> has no netlink address family, hence the plain file descriptor.
/// </summary>
public sealed partial class NetfilterNetlinkSocket : IDisposable
{
    private const int AfNetlink = 16;
    private const int SockRaw = 3;
    private const int NetlinkNetfilter = 12;
    private const int CloneNewNet = 0x40000000;

    private readonly int _fd;

    private NetfilterNetlinkSocket(int fd) => _fd = fd;

    /// <summary>Opens the socket in <paramref name="netns"/> (a /run/netns name), or in this namespace when empty.</summary>
    public static NetfilterNetlinkSocket Open(string netns)
    {
        var fd = -1;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                if (netns.Length > 0)
                {
                    using var handle = File.OpenHandle(Path.Combine("/run/netns", netns));
                    if (SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                    {
                        throw new IOException($"setns({netns}) failed: errno {Marshal.GetLastPInvokeError()}");
                    }
                }

                fd = Socket(AfNetlink, SockRaw, NetlinkNetfilter);
                if (fd < 0)
                {
                    throw new IOException($"netlink socket failed: errno {Marshal.GetLastPInvokeError()}");
                }
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        { IsBackground = true, Name = "netlink " + netns };
        thread.Start();
        thread.Join();
        return error is null ? new NetfilterNetlinkSocket(fd) : throw error;
    }

    /// <summary>Sends one datagram to the kernel (netlink's default destination).</summary>
    public void Send(byte[] message)
    {
        if (SendTo(_fd, message, (nuint)message.Length, 0) != message.Length)
        {
            throw new IOException($"netlink send failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Receives one datagram (one or more netlink messages); its length.</summary>
    public int Receive(byte[] buffer)
    {
        var n = (int)Recv(_fd, buffer, (nuint)buffer.Length, 0);
        return n > 0 ? n : throw new IOException($"netlink receive failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// Joins a netlink multicast group (NETLINK_ADD_MEMBERSHIP), e.g. NFNLGRP_NFTABLES (7): the kernel then sends every
    /// nf_tables change of the namespace (what <c>nft monitor</c> shows; iptables-nft's writes included).
    /// </summary>
    public void JoinGroup(int group)
    {
        const int SolNetlink = 270;
        const int NetlinkAddMembership = 1;
        // Multicast is delivered to bound sockets only (an unbound one joins the group and hears nothing): bind with
        // port id 0, the kernel picks one.
        var address = new SockaddrNl { Family = AfNetlink };
        if (Bind(_fd, ref address, 12) != 0)
        {
            throw new IOException($"netlink bind failed: errno {Marshal.GetLastPInvokeError()}");
        }
        if (SetSockOpt(_fd, SolNetlink, NetlinkAddMembership, ref group, sizeof(int)) != 0)
        {
            throw new IOException($"netlink group {group}: setsockopt failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits at most <paramref name="timeout"/> for a datagram; its length, or 0 when none came in time.</summary>
    public int TryReceive(byte[] buffer, TimeSpan timeout)
    {
        const int Eintr = 4;
        var poll = new PollFd { Fd = _fd, Events = 1 };
        var ready = Poll(ref poll, 1, (int)Math.Max(0, timeout.TotalMilliseconds));
        if (ready < 0)
        {
            // The runtime's own signals (thread suspension for the GC) interrupt poll: as if nothing came.
            var errno = Marshal.GetLastPInvokeError();
            return errno == Eintr ? 0 : throw new IOException($"netlink poll failed: errno {errno}");
        }
        if (ready == 0)
        {
            return 0;
        }
        var n = (int)Recv(_fd, buffer, (nuint)buffer.Length, 0);
        if (n < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == Eintr ? 0 : throw new IOException($"netlink receive failed: errno {errno}");
        }
        return n;
    }

    private struct SockaddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint Pid;
        public uint Groups;
    }

    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    public void Dispose() => Close(_fd);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, ref int value, int length);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(int fd, ref SockaddrNl address, int length);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendTo(int fd, byte[] buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte[] buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
