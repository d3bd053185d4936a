using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;

namespace Ott.Sync.Endpoints;

// Request bodies as protocol §4.1 reads them: JSON or a URL-encoded form, anything else is `{}`;
// invalid JSON → BadApiArgumentException (body, invalid JSON); over 1 MiB → 413.
// Handlers get a JsonObject and apply their own rules, because OTT's checks differ per endpoint.
internal static class ApiBody
{
    public const int MaxBytes = 1024 * 1024;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    public static async Task<(JsonObject? Body, OttErrorResult? Error)> ReadObjectAsync(HttpRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > MaxBytes)
        {
            return (null, OttErrors.PayloadTooLarge());
        }
        if (request.HasJsonContentType())
        {
            return await ReadJsonAsync(request, ct);
        }
        if (request.HasFormContentType && IsUrlEncoded(request.ContentType))
        {
            return await ReadFormAsync(request, ct);
        }
        return ([], null);
    }

    private static async Task<(JsonObject?, OttErrorResult?)> ReadJsonAsync(HttpRequest request, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
            {
                return (null, OttErrors.PayloadTooLarge());
            }
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
        {
            return ([], null);
        }
        try
        {
            // Like body-parser: an object is the body, an array has no named keys (so it reads as
            // `{}`), and a bare primitive is not a valid body.
            // Duplicate keys are invalid JSON here, as on the socket: JsonObject would throw on first use.
            return JsonNode.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), documentOptions: DocumentOptions) switch
            {
                JsonObject obj => (obj, null),
                JsonArray => ([], null),
                _ => (null, OttErrors.BadApiArgument("body", "invalid JSON")),
            };
        }
        catch (JsonException)
        {
            return (null, OttErrors.BadApiArgument("body", "invalid JSON"));
        }
    }

    private static async Task<(JsonObject?, OttErrorResult?)> ReadFormAsync(HttpRequest request, CancellationToken ct)
    {
        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(new FormOptions { ValueLengthLimit = MaxBytes }, ct);
        }
        catch (InvalidDataException)
        {
            // The form reader's own limits: a value over 1 MiB or too many keys.
            return (null, OttErrors.PayloadTooLarge());
        }
        var body = new JsonObject();
        foreach (var (key, values) in form)
        {
            // Repeated keys keep the first value; forms carry strings only.
            body[key] = values.Count > 0 ? values[0] : "";
        }
        return (body, null);
    }

    private static bool IsUrlEncoded(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);
}
