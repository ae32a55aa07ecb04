using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Svcnet.Inspect.Tests;

internal static class NativeMethods
{
    public const int CloneNewNet = 0x40000000;

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    public static extern int setns(int fd, int nstype);
}

/// <summary>
/// A little cluster in private network namespaces (all named svcnet-…): a node that routes, a client outside,
/// and pods behind the node, each pod serving TCP that answers "&lt;pod ip&gt; &lt;peer ip&gt;". Sockets are opened
/// inside a namespace from a dedicated thread that entered it with setns, so no helper programs are needed.
/// Everything is deleted on dispose.
/// </summary>
public sealed class NetnsLab : IDisposable
{
    private readonly string _prefix = "svcnet-" + Guid.NewGuid().ToString("N")[..6];
    private readonly List<string> _namespaces = [];
    private readonly List<Socket> _listeners = [];
    private readonly CancellationTokenSource _stop = new();

    public string Node => _prefix + "-node";

    public string Client => _prefix + "-client";

    public string Ns(string name)
    {
        var full = $"{_prefix}-{name}";
        if (!_namespaces.Contains(full))
        {
            TestNetns.Run("ip", ["netns", "add", full]);
            _namespaces.Add(full);
            Exec(full, "ip link set lo up");
        }
        return full;
    }

    public static string Exec(string ns, string command) => TestNetns.Run("ip", new[] { "netns", "exec", ns }.Concat(command.Split(' ')));

    /// <summary>Node with a client link (198.18.0.1/24 + 198.51.100.0/24 routed to it) and forwarding on.</summary>
    public void CreateNodeAndClient(string nodeIp)
    {
        var node = Ns("node");
        var client = Ns("client");
        Exec(node, "sysctl -qw net.ipv4.ip_forward=1");
        Exec(node, $"ip addr add {nodeIp}/32 dev lo");
        Exec(node, $"ip link add vc type veth peer name eth0 netns {client}");
        Exec(node, "ip addr add 198.18.0.1/24 dev vc");
        Exec(node, "ip link set vc up");
        Exec(node, "ip route add 198.51.100.0/24 dev vc");
        Exec(node, "ip route add default via 198.18.0.2");
        Exec(client, "ip addr add 198.18.0.2/24 dev eth0");
        Exec(client, "ip addr add 198.51.100.7/24 dev eth0");
        Exec(client, "ip link set eth0 up");
        Exec(client, "ip route add default via 198.18.0.1");
    }

    /// <summary>A pod with one address behind the node (point-to-point via 10.244.0.1) serving TCP on the port.</summary>
    public void AddPod(string name, string ip, int port)
    {
        var pod = Ns(name);
        var veth = "v" + name;
        Exec(Node, $"ip link add {veth} type veth peer name eth0 netns {pod}");
        Exec(Node, $"ip addr add 10.244.0.1/32 dev {veth}");
        Exec(Node, $"ip link set {veth} up");
        Exec(Node, $"ip route add {ip}/32 dev {veth}");
        Exec(pod, $"ip addr add {ip}/32 dev eth0");
        Exec(pod, "ip link set eth0 up");
        Exec(pod, "ip route add 10.244.0.1/32 dev eth0");
        Exec(pod, "ip route add default via 10.244.0.1");
        var listener = InNetns(pod, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Any, port));
            s.Listen(128);
            return s;
        });
        _listeners.Add(listener);
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var c = await listener.AcceptAsync(_stop.Token);
                    var peer = ((IPEndPoint)c.RemoteEndPoint!).Address;
                    await c.SendAsync(Encoding.ASCII.GetBytes($"{ip} {peer}\n"), SocketFlags.None);
                    c.Shutdown(SocketShutdown.Both);
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (SocketException)
                {
                    // A client that went away; keep serving.
                }
            }
        });
    }

    /// <summary>Opens a TCP connection from a namespace (optionally from a given source) and returns (pod ip, peer ip the pod saw), or null on timeout.</summary>
    public static (string Pod, string SeenSource)? Connect(string ns, string? source, string destination, int port, TimeSpan timeout)
    {
        using var s = InNetns(ns, () =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            if (source is not null)
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
            }
            return socket;
        });
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            s.ConnectAsync(IPAddress.Parse(destination), port, cts.Token).AsTask().GetAwaiter().GetResult();
            var buffer = new byte[128];
            var n = s.ReceiveAsync(buffer, SocketFlags.None, cts.Token).AsTask().GetAwaiter().GetResult();
            var parts = Encoding.ASCII.GetString(buffer, 0, n).Trim().Split(' ');
            return (parts[0], parts[1]);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Sends one UDP datagram on a connected socket and reports whether an ICMP port-unreachable (REJECT) came back.</summary>
    public static bool UdpRejected(string ns, string destination, int port)
    {
        using var s = InNetns(ns, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        s.Connect(IPAddress.Parse(destination), port);
        s.Send(Encoding.ASCII.GetBytes("x"));
        s.ReceiveTimeout = 2000;
        try
        {
            s.Receive(new byte[16]);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            return false;
        }
    }

    /// <summary>Runs <paramref name="create"/> on a fresh thread that has entered the namespace; sockets it creates belong to it.</summary>
    public static T InNetns<T>(string ns, Func<T> create)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{ns}");
                if (NativeMethods.setns((int)handle.DangerousGetHandle(), NativeMethods.CloneNewNet) != 0)
                {
                    throw new Win32Exception(Marshal.GetLastPInvokeError(), $"setns {ns}");
                }
                result = create();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        return error is null ? result : throw new InvalidOperationException($"in namespace {ns}: {error.Message}", error);
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var l in _listeners)
        {
            l.Dispose();
        }
        foreach (var ns in _namespaces)
        {
            try
            {
                TestNetns.Run("ip", ["netns", "del", ns]);
            }
            catch (InvalidOperationException)
            {
                // Keep deleting the others.
            }
        }
        _stop.Dispose();
    }
}
