namespace Svcnet.Platform.Http;

/// <summary>One HTTP response of <see cref="NetnsHttpServer"/>.</summary>
public sealed record HttpReply(int Status, string Body, string ContentType = "text/plain; charset=utf-8", IReadOnlyDictionary<string, string>? Headers = null)
{
    public static string Reason(int status) => status switch
    {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Status",
    };
}
