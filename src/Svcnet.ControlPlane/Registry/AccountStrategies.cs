using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Registry;

/// <summary>
/// Secrets: type defaulted to Opaque and immutable, <c>stringData</c> merged into <c>data</c> (base64) and never
/// stored, as the apiserver's conversion does; keys are config keys, values base64, at most 1 MiB in all; a
/// service-account-token Secret names its ServiceAccount.
/// </summary>
internal sealed partial class SecretStrategy : IStrategy
{
    public const string ServiceAccountTokenType = "kubernetes.io/service-account-token";
    public const string ServiceAccountNameAnnotation = "kubernetes.io/service-account.name";
    public const string ServiceAccountUidAnnotation = "kubernetes.io/service-account.uid";

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex ConfigKey();

    public void Default(JsonObject obj)
    {
        obj["type"] ??= "Opaque";
        if (obj["stringData"] is JsonObject stringData)
        {
            var data = obj.Obj("data");
            foreach (var (key, value) in stringData)
            {
                data[key] = Convert.ToBase64String(Encoding.UTF8.GetBytes(value?.ToString() ?? ""));
            }
            obj.Remove("stringData");
        }
    }

    public void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        var type = obj.Str("type") ?? "Opaque";
        long size = 0;
        foreach (var (key, value) in obj.ObjOrNull("data") ?? [])
        {
            if (!ConfigKey().IsMatch(key))
            {
                errors.Add(FieldError.Invalid("data[" + key + "]", key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
            }
            var text = value?.ToString() ?? "";
            var buffer = new byte[text.Length];
            if (!Convert.TryFromBase64String(text, buffer, out var written))
            {
                throw ApiException.BadRequest($"Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data[{key}]");
            }
            size += written;
        }
        if (size > 1024 * 1024)
        {
            errors.Add(new FieldError("FieldValueTooLong", "data", $"Too long: may not be more than {1024 * 1024} bytes"));
        }
        if (old is not null && (old.Str("type") ?? "Opaque") != type)
        {
            errors.Add(FieldError.Invalid("type", type, "field is immutable"));
        }
        if (old is not null && old.Bool("immutable") == true && !JsonNode.DeepEquals(old["data"], obj["data"]))
        {
            errors.Add(FieldError.Forbidden("data", "field is immutable when `immutable` is set"));
        }
        if (type == ServiceAccountTokenType && string.IsNullOrEmpty(obj.ObjOrNull("metadata").ObjOrNull("annotations").Str(ServiceAccountNameAnnotation)))
        {
            errors.Add(FieldError.Required("metadata.annotations[kubernetes.io/service-account.name]"));
        }
    }
}
