using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Selectors;

namespace Svcnet.ControlPlane.Registry;

/// <summary>ObjectMeta checks every kind shares (name syntax, label and annotation syntax).</summary>
public static class ObjectMetaValidation
{
    /// <summary>apimachinery's TotalAnnotationSizeLimitB: the keys and values of all annotations together.</summary>
    public const int TotalAnnotationSizeLimit = 256 * 1024;

    public static void Validate(JsonObject obj, IStrategy strategy, List<FieldError> errors)
    {
        var meta = obj.ObjOrNull("metadata");
        var name = meta.Str("name") ?? "";
        if (name.Length == 0)
        {
            errors.Add(FieldError.Required("metadata.name", "name or generateName is required"));
        }
        else
        {
            foreach (var problem in strategy.NameErrors(name))
            {
                errors.Add(FieldError.Invalid("metadata.name", name, problem));
            }
        }
        ValidateLabels(meta?["labels"], "metadata.labels", errors);
        if (meta?["annotations"] is JsonObject annotations)
        {
            long total = 0;
            foreach (var (key, value) in annotations)
            {
                total += key.Length + (value is JsonValue v && v.TryGetValue<string>(out var text) ? text.Length : 0);
                foreach (var problem in LabelValidation.QualifiedNameErrors(key.ToLowerInvariant()))
                {
                    errors.Add(FieldError.Invalid("metadata.annotations", key, problem));
                }
            }
            if (total > TotalAnnotationSizeLimit)
            {
                errors.Add(FieldError.TooLong("metadata.annotations", TotalAnnotationSizeLimit));
            }
        }
    }

    public static void ValidateLabels(JsonNode? labels, string field, List<FieldError> errors)
    {
        if (labels is null)
        {
            return;
        }
        if (labels is not JsonObject map)
        {
            errors.Add(FieldError.Invalid(field, labels, "must be a map of strings"));
            return;
        }
        foreach (var (key, value) in map)
        {
            foreach (var problem in LabelValidation.QualifiedNameErrors(key))
            {
                errors.Add(FieldError.Invalid(field, key, problem));
            }
            if (value is JsonValue v && v.TryGetValue<string>(out var s))
            {
                foreach (var problem in LabelValidation.LabelValueErrors(s))
                {
                    errors.Add(FieldError.Invalid(field, s, problem));
                }
            }
            else
            {
                errors.Add(FieldError.Invalid(field + "." + key, value, "must be a string"));
            }
        }
    }
}
