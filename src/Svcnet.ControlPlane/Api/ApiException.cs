using System.Text.Json.Nodes;

namespace Svcnet.ControlPlane.Api;

/// <summary>One field error of a 422 Invalid answer (apimachinery field.Error).</summary>
public sealed record FieldError(string Reason, string Field, string Message)
{
    public static FieldError Required(string field, string detail = "") =>
        new("FieldValueRequired", field, detail.Length == 0 ? "Required value" : "Required value: " + detail);

    public static FieldError Invalid(string field, JsonNode? value, string detail) =>
        new("FieldValueInvalid", field, $"Invalid value: {Render(value)}: {detail}");

    public static FieldError NotSupported(string field, JsonNode? value, IEnumerable<string> supported) =>
        new("FieldValueNotSupported", field,
            $"Unsupported value: {Render(value)}: supported values: {string.Join(", ", supported.Select(s => "\"" + s + "\""))}");

    public static FieldError Duplicate(string field, JsonNode? value) =>
        new("FieldValueDuplicate", field, $"Duplicate value: {Render(value)}");

    /// <summary>field.TooLong with a byte limit, as apimachinery words it.</summary>
    public static FieldError TooLong(string field, long maxBytes) =>
        new("FieldValueTooLong", field, $"Too long: may not be more than {maxBytes} bytes");

    public static FieldError Forbidden(string field, string detail) =>
        new("FieldValueForbidden", field, "Forbidden: " + detail);

    /// <summary>Renders a value like Go's %#v for the scalar cases Kubernetes prints: strings quoted, numbers bare.</summary>
    public static string Render(JsonNode? value) => value switch
    {
        null => "\"\"",
        JsonValue v when v.TryGetValue<string>(out var s) => "\"" + s + "\"",
        _ => value.ToJsonString(),
    };

    public string Text => Field + ": " + Message;
}

/// <summary>
/// An error that becomes a Kubernetes <c>Status</c> answer. Thrown anywhere in request handling; nothing is stored
/// when it escapes a write.
/// </summary>
public sealed class ApiException : Exception
{
    public ApiException(int code, string reason, string message, JsonObject? details = null) : base(message)
    {
        Code = code;
        Reason = reason;
        Details = details;
    }

    public int Code { get; }
    public string Reason { get; }
    public JsonObject? Details { get; }

    /// <summary>Resource name as Kubernetes prints it in messages: plural, with the group for non-core kinds.</summary>
    public static string Qualified(ResourceType type) => type.Group.Length == 0 ? type.Plural : type.Plural + "." + type.Group;

    private static JsonObject DetailsFor(ResourceType type, string name)
    {
        var d = new JsonObject { ["name"] = name };
        if (type.Group.Length > 0)
        {
            d["group"] = type.Group;
        }
        d["kind"] = type.Plural;
        return d;
    }

    public static ApiException NotFound(ResourceType type, string name) =>
        new(404, "NotFound", $"{Qualified(type)} \"{name}\" not found", DetailsFor(type, name));

    public static ApiException NotFoundPath() =>
        new(404, "NotFound", "the server could not find the requested resource", []);

    public static ApiException AlreadyExists(ResourceType type, string name) =>
        new(409, "AlreadyExists", $"{Qualified(type)} \"{name}\" already exists", DetailsFor(type, name));

    public static ApiException Conflict(ResourceType type, string name) =>
        new(409, "Conflict",
            $"Operation cannot be fulfilled on {Qualified(type)} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            DetailsFor(type, name));

    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiException Gone(long requested, long oldest) =>
        new(410, "Expired", $"too old resource version: {requested} ({oldest})");

    /// <summary>
    /// The watch cache's answer to a resourceVersion newer than it has seen (after waiting for it): 504 Timeout
    /// with the cause client-go's IsTooLargeResourceVersion looks for, so reflectors relist.
    /// </summary>
    public static ApiException TooLargeResourceVersion(long requested, long current) =>
        new(504, "Timeout", $"Too large resource version: {requested}, current: {current}", new JsonObject
        {
            ["causes"] = new JsonArray(new JsonObject { ["reason"] = "ResourceVersionTooLarge", ["message"] = "Too large resource version" }),
            ["retryAfterSeconds"] = 1,
        });

    public static ApiException MethodNotAllowed(string verb, string kind) =>
        new(405, "MethodNotAllowed", $"{verb} is not supported on resources of kind \"{kind}\"");

    public static ApiException Internal(string message) =>
        new(500, "InternalError", "Internal error occurred: " + message, new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["message"] = message }) });

    public static ApiException Forbidden(ResourceType type, string name, string message) =>
        new(403, "Forbidden", $"{Qualified(type)} \"{name}\" is forbidden: {message}", DetailsFor(type, name));

    /// <summary>422 Invalid, as apimachinery's NewInvalid renders it (one error bare, several in brackets).</summary>
    public static ApiException Invalid(string kind, string name, IReadOnlyList<FieldError> errors)
    {
        var texts = errors.Select(e => e.Text).ToList();
        var joined = texts.Count == 1 ? texts[0] : "[" + string.Join(", ", texts) + "]";
        var causes = new JsonArray();
        foreach (var e in errors)
        {
            causes.Add(new JsonObject { ["reason"] = e.Reason, ["message"] = e.Message, ["field"] = e.Field });
        }
        var group = kind == "EndpointSlice" ? "discovery.k8s.io" : "";
        var details = new JsonObject { ["name"] = name };
        if (group.Length > 0)
        {
            details["group"] = group;
        }
        details["kind"] = kind;
        details["causes"] = causes;
        return new(422, "Invalid", $"{kind} \"{name}\" is invalid: {joined}", details);
    }

    public JsonObject ToStatus()
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
            ["reason"] = Reason,
        };
        if (Details is not null)
        {
            status["details"] = Details.DeepClone();
        }
        status["code"] = Code;
        return status;
    }
}
