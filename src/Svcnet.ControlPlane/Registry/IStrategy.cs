using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Registry;

/// <summary>
/// Kind-specific behaviour of the generic REST registry, after the apiserver's RESTCreateStrategy /
/// RESTUpdateStrategy: what create and update reset, the defaults, the validation, and side effects that must be
/// part of the same store transaction (allocations).
/// </summary>
public interface IStrategy
{
    /// <summary>Resets what a client may not set on create (e.g. Pod status).</summary>
    void PrepareForCreate(JsonObject obj) { }

    /// <summary>Keeps what a main-resource update may not change (status of kinds with a status subresource).</summary>
    void PrepareForUpdate(JsonObject obj, JsonObject old) { }

    void Default(JsonObject obj) { }

    /// <summary>Validates the object (and the transition from <paramref name="old"/> on update).</summary>
    void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors) { }

    /// <summary>Allocations and other transactional side effects; errors reject the write whole.</summary>
    void OnCreate(StoreTransaction tx, JsonObject obj, List<FieldError> errors) { }

    void OnUpdate(StoreTransaction tx, JsonObject obj, JsonObject old, List<FieldError> errors) { }

    void OnDelete(StoreTransaction tx, JsonObject old) { }

    /// <summary>The name syntax of the kind (DNS-1123 subdomain by default; Services and Namespaces use labels).</summary>
    List<string> NameErrors(string name) => Selectors.LabelValidation.Dns1123SubdomainErrors(name);
}

/// <summary>Kinds without special rules (ConfigMaps, Events).</summary>
public sealed class DefaultStrategy : IStrategy
{
    public static readonly DefaultStrategy Instance = new();
}
