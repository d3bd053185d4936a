using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Metadata;
using Ott.Sync.Auth;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;

namespace Ott.Sync.Endpoints;

// The whole `/api` error body: {"success":false,"error":{...}}. `Success` is null only for the
// login lock-out, which OTT sends without a `success` field (protocol §3.3).
internal sealed record OttError(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Success,
    OttErrorInfo Error);

// Only `message` is always present; OTT's older handlers send errors without `name`.
internal sealed record OttErrorInfo(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    string Message)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Arg { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Reason { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Fields { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonArray? Details { get; init; }
}

// One IResult for every `/api` error, because Results<...> takes at most six types
// (house style #2). Never ProblemDetails: the OTT client reads error.name and error.message.
internal sealed class OttErrorResult(int statusCode, OttError body) : IResult, IStatusCodeHttpResult,
    IEndpointMetadataProvider
{
    public int StatusCode { get; } = statusCode;

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public OttError Body { get; } = body;

    public OttErrorInfo Error => Body.Error;

    public TimeSpan? RetryAfter { get; init; }

    public Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var response = httpContext.Response;
        response.StatusCode = StatusCode;
        httpContext.RequestServices.GetService<Ott.Sync.Telemetry.OttMetrics>()?.Error("http", Body.Error.Name ?? "Error");
        if (RetryAfter is { } retryAfter)
        {
            // Whole seconds, rounded up so a client never retries early.
            response.Headers.RetryAfter = ((long)Math.Ceiling(retryAfter.TotalSeconds)).ToString();
        }
        return response.WriteAsJsonAsync(Body, ApiJsonContext.Default.OttError, contentType: null,
            httpContext.RequestAborted);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // The status varies per error; 400 is the common case and documents the shape. Endpoints
        // add `.Produces<OttError>(404)` and so on for the others they return.
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status400BadRequest,
            typeof(OttError), ["application/json"]));
    }
}

// The protocol §4.2 catalogue, plus the §3 auth errors. Names and messages are OTT's literals.
internal static class OttErrors
{
    public static OttErrorResult Create(int status, string? name, string message) =>
        new(status, new OttError(false, new OttErrorInfo(name, message)));

    // Errors such as `Missing argument (username)` carry only a message.
    public static OttErrorResult MessageOnly(int status, string message) => Create(status, null, message);

    public static OttErrorResult RoomNotFound() =>
        Create(StatusCodes.Status404NotFound, "RoomNotFoundException", "Room not found");

    public static OttErrorResult RoomNameTaken(string roomName) =>
        Create(StatusCodes.Status400BadRequest, "RoomNameTakenException", $"The room \"{roomName}\" is taken.");

    // 403 only on a permanent room delete (protocol §4.2).
    public static OttErrorResult PermissionDenied(string permission, int status = StatusCodes.Status400BadRequest) =>
        Create(status, "PermissionDeniedException", $"Permission denied: {permission}");

    public static OttErrorResult VideoAlreadyQueued() =>
        Create(StatusCodes.Status400BadRequest, "VideoAlreadyQueuedException", "Video(s) are already in the queue");

    public static OttErrorResult VideoNotFound() =>
        Create(StatusCodes.Status400BadRequest, "VideoNotFoundException", "Video not found.");

    public static OttErrorResult ClientNotFoundInRoom(string roomName) =>
        Create(StatusCodes.Status400BadRequest, "ClientNotFoundInRoomException",
            $"The server was unable to find a client in the room \"{roomName}\" associated with the session. "
            + "Try refreshing the page or reconnecting. The room may not exist.");

    public static OttErrorResult BadApiArgument(string arg, string reason) =>
        new(StatusCodes.Status400BadRequest, new OttError(false,
            new OttErrorInfo("BadApiArgumentException", $"Bad argument: {arg}: {reason}") { Arg = arg, Reason = reason }));

    // 400 from previewAdd (protocol §4.4), 403 elsewhere.
    public static OttErrorResult FeatureDisabled(string reason, int status = StatusCodes.Status403Forbidden) =>
        Create(status, "FeatureDisabledException", $"Sorry, this feature is disabled: {reason}");

    public static OttErrorResult UnsupportedSubtitleType() =>
        Create(StatusCodes.Status400BadRequest, "UnsupportedSubtitleType", "Subtitle URL must end with .vtt");

    public static OttErrorResult UnsupportedService(string url) =>
        Create(StatusCodes.Status400BadRequest, "UnsupportedServiceException", UnsupportedServiceMessage(url));

    internal static string UnsupportedServiceMessage(string url)
    {
        var plain = $"\"{url}\" is not a valid URL for any supported service.";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return plain;
        }
        var path = uri.AbsolutePath;
        var dot = path.LastIndexOf('.');
        var oneCharExtension = dot >= 0 && dot == path.Length - 2 && path[^1] != '/' && path.LastIndexOf('/') < dot;
        return oneCharExtension
            ? "If this is a direct link to a video file, please open a \"service support request\" issue on github, "
              + $"so we can see if this file format works. Otherwise, {plain}"
            : plain;
    }

    public static OttErrorResult InvalidAddPreviewInput(int minLength) =>
        Create(StatusCodes.Status400BadRequest, "InvalidAddPreviewInputException",
            $"Your search query must at least {minLength} characters, or supply a Youtube video, playlist, or channel link.");

    public static OttErrorResult ImpossiblePromotion() =>
        Create(StatusCodes.Status400BadRequest, "ImpossiblePromotionException", "Can't promote/demote unregistered user");

    public static OttErrorResult ZodValidation(string message, JsonArray details) =>
        new(StatusCodes.Status400BadRequest, new OttError(false,
            new OttErrorInfo("ZodValidationError", message) { Details = details }));

    public static OttErrorResult MissingToken() => AuthFailures.MissingToken().ToResult();

    public static OttErrorResult InvalidToken() => AuthFailures.InvalidToken().ToResult();

    public static OttErrorResult Unauthorized(string message = "Not logged in.") =>
        Create(StatusCodes.Status401Unauthorized, "Unauthorized", message);

    public static OttErrorResult LengthOutOfRange(string message) =>
        Create(StatusCodes.Status400BadRequest, "LengthOutOfRangeException", message);

    public static OttErrorResult UsernameTaken(string message) =>
        Create(StatusCodes.Status400BadRequest, "UsernameTaken", message);

    public static OttErrorResult AlreadyInUse(string field, string message) =>
        new(StatusCodes.Status400BadRequest, new OttError(false,
            new OttErrorInfo("AlreadyInUse", message) { Fields = [field] }));

    // A Discord user names at most one account (docs/protocol.md §3.3, §4.5).
    public static OttErrorResult DiscordInUse() =>
        AlreadyInUse("discordId", "This Discord account is already linked to another account.");

    public static OttErrorResult ValidationError(string message) =>
        Create(StatusCodes.Status400BadRequest, "ValidationError", message);

    public static OttErrorResult CurrentPasswordRequired() =>
        Create(StatusCodes.Status400BadRequest, "CurrentPasswordRequired", "Current password is required.");

    public static OttErrorResult InvalidPassword() =>
        Create(StatusCodes.Status400BadRequest, "InvalidPassword", "Current password is incorrect.");

    public static OttErrorResult BadPassword(string message) =>
        Create(StatusCodes.Status400BadRequest, "BadPasswordError", message);

    public static OttErrorResult DiscordNotLinked() =>
        Create(StatusCodes.Status400BadRequest, "DiscordNotLinked", "This account is not linked to Discord.");

    public static OttErrorResult PasswordRequired() =>
        Create(StatusCodes.Status400BadRequest, "PasswordRequired", "Add a password before unlinking Discord.");

    // The login lock-out is the one error OTT sends without `success` (protocol §3.3).
    public static OttErrorResult LoginTooManyAttempts(TimeSpan retryAfter) =>
        new(StatusCodes.Status429TooManyRequests,
            new OttError(null, new OttErrorInfo("TooManyRequests", "Too many attempts.")))
        { RetryAfter = retryAfter };

    public static OttErrorResult Unknown() =>
        Create(StatusCodes.Status500InternalServerError, "Unknown", "An unknown error occurred. Try again later.");

    public static OttErrorResult RoomUnavailable() =>
        new(StatusCodes.Status503ServiceUnavailable, new OttError(false,
            new OttErrorInfo("RoomUnavailable", "The room is temporarily unavailable. Try again in a moment.")))
        { RetryAfter = TimeSpan.FromSeconds(1) };

    public static OttErrorResult PayloadTooLarge() =>
        Create(StatusCodes.Status413PayloadTooLarge, "PayloadTooLarge", "Request body too large.");
}

internal static class OttFailureResults
{
    /// <summary>The REST form of a room or protocol failure (docs/protocol.md §4.2).</summary>
    public static OttErrorResult ToResult(this OttFailure failure) =>
        failure.ToResult(failure.Name == "RoomUnavailable" ? TimeSpan.FromSeconds(1) : null);

    /// <summary>The REST form of a failure with its Retry-After (a limit's refusal, an unavailable room).</summary>
    public static OttErrorResult ToResult(this OttFailure failure, TimeSpan? retryAfter) =>
        new(failure.Status, new OttError(false, new OttErrorInfo(failure.Name, failure.Message)
        {
            Arg = failure.Arg,
            Reason = failure.Name == "BadApiArgumentException" ? failure.Reason : null,
        }))
        {
            RetryAfter = retryAfter,
        };
}

internal static partial class ApiErrorHandling
{
    /// <summary>
    /// An unexpected fault under <c>/api</c> still answers OTT's error JSON (500 <c>Unknown</c>), never a bare
    /// 500 or ProblemDetails: the OTT client shows <c>error.message</c> (docs/protocol.md §4.1, §4.2). A store
    /// that is unreachable or restarting (a transient store error, docs/architecture.md §12: a session, limit or
    /// account read during Redis's LOADING, say) is no fault: 503 <c>RoomUnavailable</c> with
    /// <c>Retry-After: 1</c>, so the client tries again.
    /// </summary>
    public static WebApplication UseOttApiErrors(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Ott.Api");
        app.Use(async (http, next) =>
        {
            try
            {
                await next(http);
            }
            catch (Exception e) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested
                && http.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
            {
                var transient = StoreErrors.IsTransient(e);
                if (transient)
                {
                    Log.StoreUnavailable(logger, e, http.Request.Method, http.Request.Path.Value ?? "");
                }
                else
                {
                    Log.Unhandled(logger, e, http.Request.Method, http.Request.Path.Value ?? "");
                }
                http.Response.Clear();
                await (transient ? OttFailure.RoomUnavailable() : OttFailure.Unknown()).ToResult().ExecuteAsync(http);
            }
        });
        return app;
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Error, "Unhandled error in {Method} {Path}")]
        public static partial void Unhandled(ILogger logger, Exception e, string method, string path);

        [LoggerMessage(LogLevel.Warning, "{Method} {Path}: the store is unavailable")]
        public static partial void StoreUnavailable(ILogger logger, Exception e, string method, string path);
    }
}
