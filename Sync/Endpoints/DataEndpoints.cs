using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Ott.Sync.Limits;
using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Sync.Endpoints;

internal sealed record PreviewAddResponse(
    bool Success,
    IReadOnlyList<QueueItem> Result,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] QueueItem? Highlighted);

/// <summary><c>GET /api/data/previewAdd</c> (docs/protocol.md §4.4): no authentication, no room.</summary>
internal static partial class DataEndpoints
{
    public static RouteGroupBuilder MapDataEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/data");
        group.MapGet("/previewAdd", PreviewAddAsync);
        return group;
    }

    public static async Task<Results<Ok<PreviewAddResponse>, OttErrorResult>> PreviewAddAsync(
        string? input, string? adapter, HttpContext http, MediaService media, PointsLimiter limiter, ILoggerFactory loggers, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(input))
        {
            return OttFailure.BadApiArgument("input", "missing").ToResult();
        }
        // 5 points for URLs (one or several lines), 75 for search text (docs/protocol.md §9).
        var text = input.Trim();
        var isUrl = text.Contains('\n', StringComparison.Ordinal) || text.Contains('\r', StringComparison.Ordinal)
            || (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Host.Length > 0);
        if (await limiter.ChargeOrRefuseAsync(http, isUrl ? 5 : 75, ct) is { } limited)
        {
            return limited;
        }
        MediaPreview preview;
        try
        {
            preview = await media.PreviewAsync(input, adapter, ct);
        }
        catch (OttException e)
        {
            // Resolver, network, timeout and upstream failures all arrive here as catalogue errors.
            return e.Failure.ToResult();
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // A bug, not bad input: OTT's 500 `Unknown`, still in the /api error shape.
            Log.PreviewFailed(loggers.CreateLogger("Ott.Sync.Endpoints.DataEndpoints"), e);
            return OttFailure.Unknown().ToResult();
        }
        http.Response.Headers.CacheControl = preview.MaxAge > TimeSpan.Zero
            ? $"public, max-age={((long)preview.MaxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture)}, immutable, stale-while-revalidate=86400"
            : "no-store";
        return TypedResults.Ok(new PreviewAddResponse(true, preview.Videos, preview.Highlighted));
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Error, "previewAdd failed unexpectedly")]
        public static partial void PreviewFailed(ILogger logger, Exception e);
    }
}
