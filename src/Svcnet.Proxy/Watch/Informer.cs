using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.Proxy.Sync;

namespace Svcnet.Proxy.Watch;

/// <summary>
/// List-then-watch for one resource, as client-go's reflector does (KubernetesClient has no informer): list, deliver
/// the differences to the handler, watch from the list's resourceVersion with bookmarks, keep the resourceVersion
/// current, relist when the server says 410 Gone/Expired or "Too large resource version" (a resourceVersion from
/// another store, e.g. after the server's data was wiped), and reconnect with exponential backoff on errors.
/// </summary>
public sealed class Informer<T, TList>(
    string resource,
    Func<CancellationToken, Task<TList>> list,
    Informer<T, TList>.WatchCall watch,
    IInformerHandler<T> handler,
    ILogger? log = null)
    where T : class, IKubernetesObject<V1ObjectMeta>
    where TList : class, IItems<T>, IMetadata<V1ListMeta>
{
    /// <summary>A watch from a resourceVersion with bookmarks; errors (e.g. 410 Expired) go to <c>onError</c>.</summary>
    public delegate IAsyncEnumerable<(WatchEventType Type, T Object)> WatchCall(string? resourceVersion, int timeoutSeconds, Action<Exception> onError, CancellationToken cancel);

    private readonly Dictionary<string, T> _store = new(StringComparer.Ordinal);
    private readonly ILogger _log = log ?? NullLogger.Instance;

    public bool HasSynced { get; private set; }

    public string? ResourceVersion { get; private set; }

    /// <summary>Lists performed (1 + relists): observable so tests can see a 410 led to a relist.</summary>
    public int Lists { get; private set; }

    public IReadOnlyCollection<T> Items => _store.Values;

    public async Task RunAsync(CancellationToken cancel)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        var needList = true;
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                if (needList)
                {
                    await ListAsync(cancel);
                    needList = false;
                }

                // Server-side timeouts of 5-10 minutes spread reconnects, as client-go's reflector does.
                var timeout = 300 + Random.Shared.Next(300);
                Exception? failure = null;
                await foreach (var (type, obj) in watch(ResourceVersion, timeout, e => failure ??= e, cancel))
                {
                    Apply(type, obj);
                    backoff = TimeSpan.FromMilliseconds(250);
                    if (failure is not null)
                    {
                        break;
                    }
                }

                if (failure is not null)
                {
                    throw failure;
                }
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (IsGone(e))
            {
                _log.WatchExpired(resource, ResourceVersion);
                needList = true;
            }
            catch (Exception e) when (IsTooLargeResourceVersion(e))
            {
                // client-go's reflector relists too: this resourceVersion will never come, waiting for it is wrong.
                _log.WatchTooNew(resource, ResourceVersion);
                needList = true;
            }
            catch (Exception e) when (e is HttpRequestException or HttpOperationException or IOException or KubernetesException or System.Text.Json.JsonException or TaskCanceledException)
            {
                _log.WatchFailed(resource, needList ? "list" : "watch", backoff, e.Message);
                await Task.Delay(backoff, cancel).ContinueWith(_ => { }, TaskScheduler.Default);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    private async Task ListAsync(CancellationToken cancel)
    {
        var body = await list(cancel);
        var items = body.Items ?? [];
        Lists++;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            var key = Key(item);
            seen.Add(key);
            if (_store.TryGetValue(key, out var old))
            {
                if (old.Metadata.ResourceVersion != item.Metadata.ResourceVersion)
                {
                    _store[key] = item;
                    handler.OnUpdate(old, item);
                }
            }
            else
            {
                _store[key] = item;
                handler.OnAdd(item);
            }
        }

        foreach (var key in _store.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            var gone = _store[key];
            _store.Remove(key);
            handler.OnDelete(gone);
        }

        ResourceVersion = body.Metadata?.ResourceVersion;
        if (!HasSynced)
        {
            HasSynced = true;
            handler.OnSynced();
        }
    }

    private void Apply(WatchEventType type, T obj)
    {
        var rv = obj.Metadata?.ResourceVersion;
        switch (type)
        {
            case WatchEventType.Added or WatchEventType.Modified:
                var key = Key(obj);
                if (_store.TryGetValue(key, out var old))
                {
                    _store[key] = obj;
                    handler.OnUpdate(old, obj);
                }
                else
                {
                    _store[key] = obj;
                    handler.OnAdd(obj);
                }

                break;
            case WatchEventType.Deleted:
                if (_store.Remove(Key(obj), out var removed))
                {
                    handler.OnDelete(removed);
                }

                break;
            case WatchEventType.Bookmark:
                break;
            case WatchEventType.Error:
                throw new KubernetesException(new V1Status { Code = 410, Reason = "Expired", Message = "watch error event" });
        }

        if (!string.IsNullOrEmpty(rv))
        {
            ResourceVersion = rv;
        }
    }

    private static string Key(T obj) => $"{obj.Metadata.NamespaceProperty}/{obj.Metadata.Name}";

    /// <summary>apierrors.IsTooLargeResourceVersion: the ResourceVersionTooLarge cause, or its message.</summary>
    private static bool IsTooLargeResourceVersion(Exception e) => e switch
    {
        KubernetesException k => k.Status?.Details?.Causes?.Any(c => c.Reason == "ResourceVersionTooLarge") == true
            || k.Status?.Message?.Contains("Too large resource version", StringComparison.Ordinal) == true,
        HttpOperationException h => h.Response?.Content?.Contains("Too large resource version", StringComparison.Ordinal) == true,
        _ => e.InnerException is not null && IsTooLargeResourceVersion(e.InnerException),
    };

    private static bool IsGone(Exception e) => e switch
    {
        HttpOperationException h => h.Response?.StatusCode == HttpStatusCode.Gone,
        KubernetesException k => k.Status?.Code == 410,
        _ => e.InnerException is not null && IsGone(e.InnerException),
    };
}
