namespace Svcnet.Proxy.Manifests;

/// <summary>A Kubernetes object from a manifest, with where it came from for error messages.</summary>
/// <param name="Source">File path (or <c>-</c> for stdin) and line.</param>
/// <param name="ApiVersion">The object's apiVersion.</param>
/// <param name="Kind">The object's kind.</param>
/// <param name="Id">The object as <c>namespace/name</c> (namespace defaulted to <c>default</c>).</param>
/// <param name="Object">The deserialised KubernetesClient model, or null when the kind is not one svcnet reads.</param>
public sealed record ManifestDocument(string Source, string ApiVersion, string Kind, string Id, object? Object);
