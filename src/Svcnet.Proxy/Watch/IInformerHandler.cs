namespace Svcnet.Proxy.Watch;

/// <summary>Receives an informer's view of one resource, in order, from one thread at a time.</summary>
public interface IInformerHandler<in T>
{
    void OnAdd(T obj);

    void OnUpdate(T old, T current);

    void OnDelete(T obj);

    /// <summary>The first complete list has been delivered.</summary>
    void OnSynced();
}
