using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Svcnet.ControlPlane.Hosting;

/// <summary>
/// Answers plain HTTP sent to the TLS port as Go's net/http does (400 "Client sent an HTTP request to an HTTPS
/// server."), instead of a TLS handshake failure that just closes the connection and leaves the client guessing.
/// </summary>
internal static class PlainHttpGuard
{
    private static readonly byte[] Answer = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"u8.ToArray();

    public static async Task ServeAsync(ConnectionContext connection, ConnectionDelegate next, ILogger logger)
    {
        var input = connection.Transport.Input;
        var result = await input.ReadAsync(connection.ConnectionClosed);
        var buffer = result.Buffer;
        // A TLS record starts with its content type (0x16, handshake); an HTTP request with an upper-case method.
        if (!buffer.IsEmpty && buffer.FirstSpan[0] is >= (byte)'A' and <= (byte)'Z')
        {
            input.AdvanceTo(buffer.End);
            logger.PlainHttpOnTlsPort(connection.RemoteEndPoint?.ToString() ?? "?");
            await connection.Transport.Output.WriteAsync(Answer, connection.ConnectionClosed);
            await connection.Transport.Output.CompleteAsync();
            return;
        }
        // Nothing consumed or examined: the TLS layer reads the same bytes again.
        input.AdvanceTo(buffer.Start);
        await next(connection);
    }
}
