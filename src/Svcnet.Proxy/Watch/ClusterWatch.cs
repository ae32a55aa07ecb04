using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Svcnet.Proxy.Watch;

/// <summary>The informers a proxier needs: all Services, all EndpointSlices, and its own Node.</summary>
public sealed class ClusterWatch(IKubernetes client, string nodeName, ProxyState state, ILogger? log = null)
{
    public Informer<V1Service, V1ServiceList> Services { get; } =
        ServiceInformer(client, new Handler<V1Service>(state.OnService, state.OnServicesSynced), log);

    public Informer<V1EndpointSlice, V1EndpointSliceList> EndpointSlices { get; } =
        EndpointSliceInformer(client, new Handler<V1EndpointSlice>(state.OnEndpointSlice, state.OnEndpointSlicesSynced), log);

    /// <summary>List-then-watch of every Service (the proxier's, and cluster DNS's).</summary>
    public static Informer<V1Service, V1ServiceList> ServiceInformer(IKubernetes client, IInformerHandler<V1Service> handler, ILogger? log) => new(
        "services",
        ct => client.CoreV1.ListServiceForAllNamespacesAsync(cancellationToken: ct),
        (rv, timeout, onError, ct) => client.CoreV1.WatchListServiceForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
        handler, log);

    /// <summary>List-then-watch of every EndpointSlice (the proxier's, and cluster DNS's).</summary>
    public static Informer<V1EndpointSlice, V1EndpointSliceList> EndpointSliceInformer(IKubernetes client, IInformerHandler<V1EndpointSlice> handler, ILogger? log) => new(
        "endpointslices",
        ct => client.DiscoveryV1.ListEndpointSliceForAllNamespacesAsync(cancellationToken: ct),
        (rv, timeout, onError, ct) => client.DiscoveryV1.WatchListEndpointSliceForAllNamespacesAsync(
            allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
        handler, log);

    public Informer<V1Node, V1NodeList> Node { get; } = new(
        "nodes",
        ct => client.CoreV1.ListNodeAsync(fieldSelector: "metadata.name=" + nodeName, cancellationToken: ct),
        (rv, timeout, onError, ct) => client.CoreV1.WatchListNodeAsync(
            allowWatchBookmarks: true, fieldSelector: "metadata.name=" + nodeName, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
        new Handler<V1Node>(state.OnNode, () => { }), log);

    public Task RunAsync(CancellationToken cancel) =>
        Task.WhenAll(Services.RunAsync(cancel), EndpointSlices.RunAsync(cancel), Node.RunAsync(cancel));

    private sealed class Handler<T>(Action<T?, T?> update, Action synced) : IInformerHandler<T>
        where T : class
    {
        public void OnAdd(T obj) => update(null, obj);

        public void OnUpdate(T old, T current) => update(old, current);

        public void OnDelete(T obj) => update(obj, null);

        public void OnSynced() => synced();
    }
}
