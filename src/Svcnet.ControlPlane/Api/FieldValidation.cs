using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Svcnet.ControlPlane.Api;

/// <summary>The <c>fieldValidation</c> directive of a create, update or patch (metav1.FieldValidation*).</summary>
public enum FieldValidationDirective
{
    /// <summary>Unknown and duplicate fields are accepted without a word.</summary>
    Ignore,

    /// <summary>Accepted, with one <c>Warning: 299</c> response header per field (the real server's default).</summary>
    Warn,

    /// <summary>Rejected with 400 BadRequest <c>strict decoding error: ...</c>; nothing is stored.</summary>
    Strict,
}

/// <summary>
/// Server-side field validation as kube-apiserver does it (KEP-2885, GA in 1.27): kubectl ≥ 1.25 sends
/// <c>fieldValidation=Strict</c> (<c>Ignore</c> with <c>--validate=false</c>, <c>Warn</c> with <c>--validate=warn</c>);
/// a request without the parameter gets <c>Warn</c>, like the real server. What counts as unknown is
/// <see cref="KnownFields"/>; repeated keys are <see cref="DuplicateFields"/>.
/// </summary>
public static class FieldValidation
{
    /// <summary>
    /// The request's directive. <paramref name="options"/> names the options kind for the 422 of an unsupported value
    /// (<c>CreateOptions</c>, <c>UpdateOptions</c>, <c>PatchOptions</c>), as ValidateCreateOptions and the others report it.
    /// </summary>
    public static FieldValidationDirective Directive(HttpRequest request, string options)
    {
        var value = request.Query["fieldValidation"].ToString();
        return value switch
        {
            "" or "Warn" => FieldValidationDirective.Warn,
            "Ignore" => FieldValidationDirective.Ignore,
            "Strict" => FieldValidationDirective.Strict,
            _ => throw UnsupportedDirective(options, value),
        };
    }

    private static ApiException UnsupportedDirective(string options, string value)
    {
        var error = FieldError.NotSupported("fieldValidation", JsonValue.Create(value), ["", "Ignore", "Strict", "Warn"]);
        var details = new JsonObject
        {
            ["group"] = "meta.k8s.io",
            ["kind"] = options,
            ["causes"] = new JsonArray(new JsonObject { ["reason"] = error.Reason, ["message"] = error.Message, ["field"] = error.Field }),
        };
        return new ApiException(422, "Invalid", $"{options}.meta.k8s.io \"\" is invalid: {error.Text}", details);
    }

    /// <summary>The strict decoding errors of a create or update body: repeated keys, then unknown fields.</summary>
    public static IReadOnlyList<string> BodyErrors(ResourceType type, JsonObject body, IReadOnlyList<string> duplicates)
    {
        var errors = new List<string>();
        foreach (var path in duplicates)
        {
            errors.Add($"duplicate field \"{path}\"");
        }
        if (KnownFields.ModelFor(type) is { } model)
        {
            foreach (var path in KnownFields.Unknown(body, model))
            {
                errors.Add($"unknown field \"{path}\"");
            }
        }
        return errors;
    }

    /// <summary>
    /// The unknown fields a patch introduces: those of the patched object that the stored one did not already have
    /// (objects written with <c>Ignore</c> keep their unknown fields here, and a later patch must not be blamed).
    /// </summary>
    public static IReadOnlyList<string> PatchErrors(ResourceType type, JsonObject patched, JsonObject old)
    {
        if (KnownFields.ModelFor(type) is not { } model)
        {
            return [];
        }
        var before = KnownFields.Unknown(old, model).ToHashSet(StringComparer.Ordinal);
        return [.. KnownFields.Unknown(patched, model).Where(p => !before.Contains(p)).Select(p => $"unknown field \"{p}\"")];
    }

    /// <summary>Drops the unknown fields of an accepted body or patched object, as decoding into the typed object does.</summary>
    public static void Prune(ResourceType type, JsonObject obj)
    {
        if (KnownFields.ModelFor(type) is { } model)
        {
            KnownFields.Prune(obj, model);
        }
    }

    /// <summary>
    /// Applies the directive to create/update errors: Strict throws transformDecodeError's 400
    /// (<c>Service in version "v1" cannot be handled as a Service: strict decoding error: ...</c>), Warn adds headers.
    /// </summary>
    public static void Enforce(HttpContext context, FieldValidationDirective directive, ResourceType type, JsonObject body, IReadOnlyList<string> errors)
    {
        if (errors.Count == 0 || directive == FieldValidationDirective.Ignore)
        {
            return;
        }
        if (directive == FieldValidationDirective.Warn)
        {
            AddWarnings(context.Response, errors);
            return;
        }
        var kind = body.Str("kind") is { Length: > 0 } k ? k : type.Kind;
        var apiVersion = body.Str("apiVersion") is { Length: > 0 } v ? v : type.ApiVersion;
        var version = apiVersion[(apiVersion.LastIndexOf('/') + 1)..];
        throw ApiException.BadRequest($"{kind} in version \"{version}\" cannot be handled as a {type.Kind}: {StrictDecodingError(errors)}");
    }

    /// <summary>runtime.NewStrictDecodingError's text: the errors joined with ", ".</summary>
    public static string StrictDecodingError(IEnumerable<string> errors) => "strict decoding error: " + string.Join(", ", errors);

    /// <summary>One <c>Warning: 299 - "text"</c> header per message, quoted like net/http's NewWarningHeader.</summary>
    public static void AddWarnings(HttpResponse response, IEnumerable<string> messages)
    {
        foreach (var message in messages)
        {
            response.Headers.Append("Warning", "299 - " + Quote(message));
        }
    }

    private static string Quote(string text)
    {
        var b = new StringBuilder("\"");
        foreach (var c in text)
        {
            if (c is '"' or '\\')
            {
                b.Append('\\');
            }
            b.Append(c);
        }
        return b.Append('"').ToString();
    }
}
