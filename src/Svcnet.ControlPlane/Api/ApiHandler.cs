using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Svcnet.ControlPlane.Hosting;
using Microsoft.Net.Http.Headers;
using Svcnet.ControlPlane.Printing;
using Svcnet.ControlPlane.Registry;
using Svcnet.ControlPlane.Selectors;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// The Kubernetes REST API over HTTP: authentication, discovery, and the verbs on every served resource. One
/// handler rather than a route table because Kubernetes' URL grammar (optional namespace, subresources, groups)
/// is easier to parse once than to express as routes.
/// </summary>
public sealed class ApiHandler(ObjectRegistry registry, WatchStreamer watches, byte[]? token, string serverAddress, TimeProvider clock, ILogger logger,
    ServiceAccountTokens? serviceAccountTokens = null)
{
    /// <summary>The user of the kubeconfig's token (and of every request without TLS and token): cluster admin.</summary>
    public static readonly UserInfo Admin = new("kubernetes-admin", "", ["system:masters", "system:authenticated"]);

    private readonly RbacAuthorizer authorizer = new(registry.Store);

    private const int MaxBody = 3 * 1024 * 1024;
    private readonly KubeletClient kubelet = new(registry, token);
    private volatile bool stopping;

    /// <summary>
    /// From now on new API requests are refused with 503 and a Retry-After (clients retry against the next server);
    /// requests already running finish normally.
    /// </summary>
    public void BeginShutdown() => stopping = true;

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        try
        {
            if (path is "/healthz" or "/livez" or "/readyz" || path.StartsWith("/healthz/", StringComparison.Ordinal)
                || path.StartsWith("/livez/", StringComparison.Ordinal) || path.StartsWith("/readyz/", StringComparison.Ordinal))
            {
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync("ok", context.RequestAborted);
                return;
            }
            var user = Authenticate(request);
            if (user is null)
            {
                await WriteStatusAsync(context, new ApiException(401, "Unauthorized", "Unauthorized"));
                return;
            }
            if (stopping)
            {
                throw ShuttingDown();
            }
            Authorize(context, user, path);
            await DispatchAsync(context, path, user);
        }
        catch (ApiException e)
        {
            if (e.Code >= 500)
            {
                logger.ServerError(request.Method, path, e.Code, e.Message, e.InnerException);
            }
            if (!context.Response.HasStarted)
            {
                if (e.Code == 503)
                {
                    context.Response.Headers.RetryAfter = "1";
                }
                await WriteStatusAsync(context, e);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (ObjectDisposedException e) when (stopping)
        {
            // The store closed under a request that arrived during shutdown: nothing of it was stored.
            logger.ServerError(request.Method, path, 503, "store closed during shutdown", e);
            if (!context.Response.HasStarted)
            {
                context.Response.Headers.RetryAfter = "1";
                await WriteStatusAsync(context, ShuttingDown());
            }
        }
        catch (Exception e)
        {
            // A bug or an I/O failure: logged with its cause, answered as the apiserver answers an unexpected error.
            logger.UnexpectedError(request.Method, path, e);
            if (!context.Response.HasStarted)
            {
                await WriteStatusAsync(context, ApiException.Internal(e.Message));
            }
        }
    }

    private static ApiException ShuttingDown() =>
        new(503, "ServiceUnavailable", "The apiserver is shutting down, please try again later.", new JsonObject { ["retryAfterSeconds"] = 1 });

    /// <summary>The kubeconfig's token is the cluster admin; a ServiceAccount token is its ServiceAccount; else null (401).</summary>
    private UserInfo? Authenticate(HttpRequest request)
    {
        if (token is null)
        {
            return Admin;
        }
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var bearer = header[7..].Trim();
        if (CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(bearer), token))
        {
            return Admin;
        }
        return serviceAccountTokens?.Authenticate(bearer);
    }

    /// <summary>RBAC for everybody but system:masters: 403 Forbidden with the apiserver's message.</summary>
    private void Authorize(HttpContext context, UserInfo user, string path)
    {
        if (user.Groups.Contains("system:masters"))
        {
            return;
        }
        var attributes = Attributes(context.Request, path);
        if (!authorizer.Allowed(user, attributes))
        {
            var details = new JsonObject();
            if (attributes.Name.Length > 0)
            {
                details["name"] = attributes.Name;
            }
            if (attributes.Group.Length > 0)
            {
                details["group"] = attributes.Group;
            }
            if (attributes.IsResource)
            {
                details["kind"] = attributes.Resource;
            }
            throw new ApiException(403, "Forbidden", RbacAuthorizer.ForbiddenMessage(user, attributes), details);
        }
    }

    /// <summary>The authorizer's view of a request (RequestInfoFactory): verb from method and shape, or a non-resource path.</summary>
    private static RequestAttributes Attributes(HttpRequest request, string path)
    {
        var method = request.Method;
        if (ApiPath.Parse(path) is not { } api)
        {
            return new RequestAttributes(method.ToLowerInvariant(), "", "", "", "", "", path);
        }
        var watch = request.Query.TryGetValue("watch", out var w) && w.ToString() is not ("0" or "false" or "False");
        var verb = method switch
        {
            "GET" or "HEAD" when watch => "watch",
            "GET" or "HEAD" => api.Name is null ? "list" : "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => api.Name is null ? "deletecollection" : "delete",
            _ => method.ToLowerInvariant(),
        };
        var ns = api.Type.Namespaced ? api.Namespace ?? "" : api.Type == Resources.Namespaces ? api.Name ?? "" : "";
        return new RequestAttributes(verb, api.Type.Group, api.Type.Plural, api.Subresource ?? "", ns, api.Name ?? "");
    }

    private async Task DispatchAsync(HttpContext context, string path, UserInfo user)
    {
        var method = context.Request.Method;
        switch (path.TrimEnd('/'))
        {
            case "/version":
                await WriteJsonAsync(context, 200, Discovery.Version());
                return;
            case "/api":
                await WriteJsonAsync(context, 200, Discovery.ApiVersions(serverAddress));
                return;
            case "/apis":
                await WriteJsonAsync(context, 200, Discovery.ApiGroupList());
                return;
            case "/api/v1":
                await WriteJsonAsync(context, 200, Discovery.ResourceList("", "v1")!);
                return;
            case "/openapi/v2":
                // An empty protobuf Document: kubectl's client-side validation then finds no schema and skips, and
                // the server validates for real. Dot (not '@') in the media type: Go's MIME parser rejects '@'.
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
                context.Response.ContentLength = 0;
                return;
            default:
                if (GroupDiscovery(path.TrimEnd('/')) is { } document)
                {
                    await WriteJsonAsync(context, 200, document);
                    return;
                }
                break;
        }
        var api = ApiPath.Parse(path) ?? throw ApiException.NotFoundPath();
        if (api.Type.Version == "v1beta1" && (method != "GET" || api.Name is null))
        {
            throw ApiException.MethodNotAllowed(method, api.Type.Kind);
        }
        var ns = api.Type.Namespaced ? api.Namespace : "";
        if (api.Type == Resources.Pods && ns is not null && api.Subresource is "log" or "portforward")
        {
            // Streaming subresources: served by the node's kubelet through this server.
            await (api.Subresource == "log"
                ? new PodLogs(registry, kubelet).ServeAsync(context, ns, api.Name!)
                : new PodPortForward(registry, kubelet).ServeAsync(context, ns, api.Name!));
            return;
        }

        if (api.Type.Verbs is ["create"])
        {
            await ReviewAsync(context, api, user, method);
            return;
        }
        if (api.Subresource == "token" && ns is not null && api.Name is not null && method == "POST")
        {
            var tokens = serviceAccountTokens ?? throw new ApiException(404, "NotFound", "the server could not find the requested resource");
            var raw = await ReadBodyAsync(context);
            var request = context.Request.ContentType?.StartsWith("application/vnd.kubernetes.protobuf", StringComparison.Ordinal) == true
                ? ProtobufDecoder.TokenRequest(raw) : Json.ParseObject(raw);
            await WriteJsonAsync(context, 201, tokens.Request(ns, api.Name, request));
            return;
        }
        if (api.Subresource == "scale" && ns is not null && api.Name is not null)
        {
            await ScaleAsync(context, api, ns, method);
            return;
        }

        switch (method)
        {
            case "GET" when api.Name is null:
                await ListOrWatchAsync(context, api);
                break;
            case "GET" when api.Subresource != "binding":
                await GetAsync(context, api);
                break;
            case "POST" when api.Subresource == "binding" && ns is not null:
                {
                    var binding = Json.ParseObject(await ReadBodyAsync(context));
                    await registry.BindAsync(ns, api.Name!, binding, DryRun(context), context.RequestAborted);
                    await WriteJsonAsync(context, 201, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Success", ["code"] = 201 });
                    break;
                }
            case "POST" when api.Name is null && ns is not null:
                {
                    var validation = FieldValidation.Directive(context.Request, "CreateOptions");
                    var body = await ReadObjectAsync(context, api.Type, validation);
                    var result = await registry.CreateAsync(api.Type, ns, body, DryRun(context), context.RequestAborted);
                    await WriteJsonAsync(context, 201, result.Object);
                    break;
                }
            case "PUT" when api.Name is not null && ns is not null && api.Subresource != "binding":
                {
                    var validation = FieldValidation.Directive(context.Request, "UpdateOptions");
                    var body = await ReadObjectAsync(context, api.Type, validation);
                    var result = await registry.UpdateAsync(api.Type, ns, api.Name, body, api.Subresource, DryRun(context), context.RequestAborted);
                    await WriteJsonAsync(context, result.Created ? 201 : 200, result.Object);
                    break;
                }
            case "PATCH" when api.Name is not null && ns is not null && api.Subresource != "binding":
                {
                    var patchType = PatchType(context.Request.ContentType);
                    var validation = FieldValidation.Directive(context.Request, "PatchOptions");
                    var raw = await ReadBodyAsync(context);
                    var duplicates = DuplicateFields.Find(raw);
                    var patch = duplicates.Count == 0 ? ParseNode(raw) : Json.ParseLastWins(raw);
                    // The patch body's own repeated keys (a JSON patch is an array of operations: not checked).
                    List<string> patchErrors = patchType == "json" || validation == FieldValidationDirective.Ignore ? []
                        : [.. duplicates.Select(p => $"duplicate field \"{p}\"")];
                    var warnings = new List<string>();
                    var result = await registry.PatchAsync(api.Type, ns, api.Name, patchType, patch, api.Subresource, DryRun(context),
                        validation, patchErrors, warnings, context.RequestAborted);
                    FieldValidation.AddWarnings(context.Response, warnings);
                    await WriteJsonAsync(context, 200, result.Object);
                    break;
                }
            case "DELETE" when api.Name is not null && ns is not null && api.Subresource is null:
                await DeleteAsync(context, api, ns);
                break;
            case "DELETE" when api.Name is null && api.Type.Verbs.Contains("deletecollection"):
                await DeleteCollectionAsync(context, api);
                break;
            default:
                throw ApiException.MethodNotAllowed(method, api.Type.Kind);
        }
    }

    /// <summary>The review kinds: POST only, answered from the request's user (or the reviewed one) and never stored.</summary>
    private async Task ReviewAsync(HttpContext context, ApiPath api, UserInfo user, string method)
    {
        if (method != "POST" || api.Name is not null)
        {
            throw ApiException.MethodNotAllowed(method, api.Type.Kind);
        }
        var raw = await ReadBodyAsync(context);
        var protobuf = context.Request.ContentType?.StartsWith("application/vnd.kubernetes.protobuf", StringComparison.Ordinal) == true;
        JsonObject Body() => protobuf ? ProtobufDecoder.AccessReview(raw) : raw.Length == 0 ? [] : Json.ParseObject(raw);
        var answer = api.Type.Kind switch
        {
            "SelfSubjectReview" => Reviews.SelfSubjectReview(user),
            "TokenReview" when !protobuf => Reviews.TokenReview(Body(), Body().ObjOrNull("spec").Str("token") is { } t ? serviceAccountTokens?.Authenticate(t) : null),
            "SelfSubjectAccessReview" => Reviews.AccessReview(api.Type.Kind, Body(), user, authorizer),
            "SubjectAccessReview" => Reviews.AccessReview(api.Type.Kind, Body(), ReviewedUser(Body()), authorizer),
            _ => throw ProtobufDecoder.Unsupported(),
        };
        await WriteJsonAsync(context, 201, answer);
    }

    private static UserInfo ReviewedUser(JsonObject review)
    {
        var spec = review.ObjOrNull("spec");
        return new UserInfo(spec.Str("user") ?? "", spec.Str("uid") ?? "", spec.Arr("groups")?.Select(g => g?.ToString() ?? "").ToList() ?? []);
    }

    private async Task ScaleAsync(HttpContext context, ApiPath api, string ns, string method)
    {
        var scale = method switch
        {
            "GET" => ScaleSubresource.Get(registry, api.Type, ns, api.Name!),
            "PUT" => await ScaleSubresource.WriteAsync(registry, api.Type, ns, api.Name!, null, ParseNode(await ReadBodyAsync(context)), DryRun(context), context.RequestAborted),
            "PATCH" => await ScaleSubresource.WriteAsync(registry, api.Type, ns, api.Name!, PatchType(context.Request.ContentType), ParseNode(await ReadBodyAsync(context)), DryRun(context), context.RequestAborted),
            _ => throw ApiException.MethodNotAllowed(method, "Scale"),
        };
        await WriteJsonAsync(context, 200, scale);
    }

    /// <summary>/apis/GROUP and /apis/GROUP/VERSION of the groups we serve.</summary>
    private static JsonObject? GroupDiscovery(string path)
    {
        var parts = path.Split('/');
        return parts.Length switch
        {
            3 when parts[1] == "apis" => Discovery.ApiGroup(parts[2]),
            4 when parts[1] == "apis" => Discovery.ResourceList(parts[2], parts[3]),
            _ => null,
        };
    }

    /// <summary><c>dryRun=All</c>: validate, default and allocate as usual, store nothing.</summary>
    private static bool DryRun(HttpContext context)
    {
        var values = context.Request.Query["dryRun"];
        if (values.Count == 0)
        {
            return false;
        }
        foreach (var v in values)
        {
            if (v != "All")
            {
                throw ApiException.BadRequest($"Invalid dry run value: Unsupported value: \"{v}\": supported values: \"All\"");
            }
        }
        return true;
    }

    private static string PatchType(string? contentType)
    {
        var media = MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed.MediaType.Value : "";
        return media switch
        {
            "application/json-patch+json" => "json",
            "application/merge-patch+json" => "merge",
            "application/strategic-merge-patch+json" => "strategic",
            _ => throw new ApiException(415, "UnsupportedMediaType",
                $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"),
        };
    }

    private async Task GetAsync(HttpContext context, ApiPath api)
    {
        var ns = api.Type.Namespaced ? api.Namespace ?? throw ApiException.NotFoundPath() : "";
        var obj = registry.Get(api.Type, ns, api.Name!);
        if (api.Type.Version == "v1beta1")
        {
            obj = V1Beta1Conversion.EndpointSlice(obj);
        }
        var negotiation = Negotiation.From(context.Request);
        if (negotiation.Table)
        {
            var rv = obj.ObjOrNull("metadata").Str("resourceVersion") ?? "";
            await WriteJsonAsync(context, 200, TablePrinter.Table(api.Type, [obj], rv, negotiation.TableVersion, IncludeObject(context), true, clock.GetUtcNow()));
            return;
        }
        await WriteStoredAsync(context, 200, obj);
    }

    /// <summary>Writes a stored (immutable) object from its cached serialisation.</summary>
    private static async Task WriteStoredAsync(HttpContext context, int status, JsonObject stored)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-cache, private";
        var bytes = StoredJson.Bytes(stored);
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

    public static string IncludeObject(HttpContext context)
    {
        var value = context.Request.Query["includeObject"].ToString();
        return value switch
        {
            "" or "Metadata" => "Metadata",
            "None" or "Object" => value,
            _ => throw ApiException.BadRequest($"includeObject: Unsupported value: \"{value}\": supported values: \"Metadata\", \"None\", \"Object\""),
        };
    }

    private static bool IsWatch(HttpContext context)
    {
        if (!context.Request.Query.TryGetValue("watch", out var value))
        {
            return false;
        }
        var v = value.ToString();
        return v is not ("0" or "false" or "False");
    }

    private async Task ListOrWatchAsync(HttpContext context, ApiPath api)
    {
        var query = context.Request.Query;
        var labels = LabelSelector.Parse(query["labelSelector"]);
        var fields = FieldSelector.Parse(query["fieldSelector"], api.Type);
        var ns = api.Type.Namespaced ? api.Namespace : null;
        if (IsWatch(context))
        {
            await watches.StreamAsync(context, api.Type, ns, labels, fields);
            return;
        }
        var page = ListPage.Read(registry.Store, api.Type, ns, labels, fields, query["limit"], query["continue"]);
        var rv = page.Revision.ToString(CultureInfo.InvariantCulture);
        var negotiation = Negotiation.From(context.Request);
        if (negotiation.Table)
        {
            var table = TablePrinter.Table(api.Type, page.Items, rv, negotiation.TableVersion, IncludeObject(context), true, clock.GetUtcNow());
            if (page.Continue is not null)
            {
                var meta = table.Obj("metadata");
                meta["continue"] = page.Continue;
                if (page.RemainingItemCount is { } remaining)
                {
                    meta["remainingItemCount"] = remaining;
                }
            }
            await WriteJsonAsync(context, 200, table);
            return;
        }
        await WriteListAsync(context, api.Type, page.Items, rv, page.Continue, page.RemainingItemCount);
    }

    private static async Task WriteListAsync(HttpContext context, ResourceType type, IReadOnlyList<JsonObject> items, string rv, string? continueToken = null, long? remainingItemCount = null)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-cache, private";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter.AsStream());
        writer.WriteStartObject();
        writer.WriteString("kind", type.Kind + "List");
        writer.WriteString("apiVersion", type.ApiVersion);
        writer.WriteStartObject("metadata");
        writer.WriteString("resourceVersion", rv);
        if (continueToken is not null)
        {
            writer.WriteString("continue", continueToken);
            if (remainingItemCount is { } remaining)
            {
                writer.WriteNumber("remainingItemCount", remaining);
            }
        }
        writer.WriteEndObject();
        writer.WriteStartArray("items");
        foreach (var item in items)
        {
            writer.WriteRawValue(StoredJson.Bytes(item), skipInputValidation: true);
            if (writer.BytesPending > 32 * 1024)
            {
                await writer.FlushAsync(context.RequestAborted);
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    private async Task DeleteAsync(HttpContext context, ApiPath api, string ns)
    {
        var options = await ReadOptionalObjectAsync(context);
        long? grace = long.TryParse(context.Request.Query["gracePeriodSeconds"], CultureInfo.InvariantCulture, out var g) ? g : null;
        options = WithQueryPropagation(context, options);
        var (obj, gone) = await registry.DeleteAsync(api.Type, ns, api.Name!, options, grace, DryRun(context) || options.Arr("dryRun")?.Count > 0, context.RequestAborted);
        if (api.Type == Resources.Pods || api.Type == Resources.Services || !gone)
        {
            await WriteJsonAsync(context, 200, obj);
            return;
        }
        await WriteJsonAsync(context, 200, SuccessStatus(api.Type, obj));
    }

    /// <summary>DeleteOptions' propagationPolicy may come as a query parameter too (the body wins).</summary>
    private static JsonObject? WithQueryPropagation(HttpContext context, JsonObject? options)
    {
        if (context.Request.Query["propagationPolicy"].FirstOrDefault() is { Length: > 0 } policy && options.Str("propagationPolicy") is null)
        {
            options ??= [];
            options["propagationPolicy"] = policy;
        }
        return options;
    }

    private static JsonObject SuccessStatus(ResourceType type, JsonObject obj)
    {
        var details = new JsonObject { ["name"] = obj.Name() };
        if (type.Group.Length > 0)
        {
            details["group"] = type.Group;
        }
        details["kind"] = type.Plural;
        details["uid"] = obj.ObjOrNull("metadata").Str("uid");
        return new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Success",
            ["details"] = details,
        };
    }

    private async Task DeleteCollectionAsync(HttpContext context, ApiPath api)
    {
        var query = context.Request.Query;
        var labels = LabelSelector.Parse(query["labelSelector"]);
        var fields = FieldSelector.Parse(query["fieldSelector"], api.Type);
        var options = WithQueryPropagation(context, await ReadOptionalObjectAsync(context));
        long? grace = long.TryParse(query["gracePeriodSeconds"], CultureInfo.InvariantCulture, out var g) ? g : null;
        var ns = api.Type.Namespaced ? api.Namespace : null;
        var (items, _) = registry.Store.List(api.Type.StorageName, ns);
        var deleted = new List<JsonObject>();
        foreach (var item in items.Where(o => labels.Matches(o.Labels()) && fields.Matches(o)))
        {
            if (api.Type == Resources.Namespaces && item.Name() is "default" or "kube-system" or "kube-public")
            {
                continue;
            }
            try
            {
                deleted.Add((await registry.DeleteAsync(api.Type, item.Namespace(), item.Name(), options, grace, DryRun(context), context.RequestAborted)).Object);
            }
            catch (ApiException e) when (e.Code == 404)
            {
                // Deleted concurrently: that is what was asked for.
            }
        }
        await WriteListAsync(context, api.Type, deleted, registry.Store.Revision.ToString(CultureInfo.InvariantCulture));
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxBody)
            {
                throw new ApiException(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728");
            }
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Reads a create/update body and applies field validation to it (JSON only: our protobuf decoder reads the
    /// known field numbers and nothing else, so a protobuf body has no unknown fields to report).
    /// </summary>
    private static async Task<JsonObject> ReadObjectAsync(HttpContext context, ResourceType type, FieldValidationDirective validation)
    {
        var contentType = context.Request.ContentType;
        var media = contentType is not null && MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed.MediaType.Value : "application/json";
        switch (media)
        {
            case "application/json" or "*/*":
                {
                    var raw = await ReadBodyAsync(context);
                    var duplicates = DuplicateFields.Find(raw);
                    var body = duplicates.Count == 0 ? Json.ParseObject(raw) : Json.ParseObjectLastWins(raw);
                    if (validation != FieldValidationDirective.Ignore)
                    {
                        FieldValidation.Enforce(context, validation, type, body, FieldValidation.BodyErrors(type, body, duplicates));
                    }
                    FieldValidation.Prune(type, body);
                    return body;
                }
            case "application/vnd.kubernetes.protobuf":
                return ProtobufDecoder.Decode(type, await ReadBodyAsync(context));
            default:
                throw ProtobufDecoder.Unsupported();
        }
    }

    private static JsonNode? ParseNode(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest("the body of the request could not be decoded: " + e.Message);
        }
    }

    private static async Task<JsonObject?> ReadOptionalObjectAsync(HttpContext context)
    {
        var body = await ReadBodyAsync(context);
        return body.Length == 0 ? null : Json.ParseObject(body);
    }

    public static async Task WriteJsonAsync(HttpContext context, int status, JsonObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-cache, private";
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, Json.Compact);
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

    public static Task WriteStatusAsync(HttpContext context, ApiException e) => WriteJsonAsync(context, e.Code, e.ToStatus());
}
