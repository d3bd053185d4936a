namespace Ott.Sync.Protocol;

/// <summary>
/// A protocol error (docs/protocol.md §4.2): its catalogue name and message, the HTTP status REST answers with,
/// and the extra fields some errors carry. Socket replies use Name and Message only.
/// </summary>
public sealed record OttFailure(string? Name, string Message, int Status = 400)
{
    public string? Arg { get; init; }
    public string? Reason { get; init; }

    /// <summary>Input errors count toward the socket's 1008 budget; domain errors never do (docs/protocol.md §1.7).</summary>
    public bool IsInputError { get; init; }

    public static OttFailure RoomNotFound() => new("RoomNotFoundException", "Room not found", 404);
    public static OttFailure RoomNameTaken(string name) => new("RoomNameTakenException", $"The room \"{name}\" is taken.");
    public static OttFailure PermissionDenied(string permission, int status = 400) =>
        new("PermissionDeniedException", $"Permission denied: {permission}", status);
    public static OttFailure VideoAlreadyQueued() => new("VideoAlreadyQueuedException", "Video(s) are already in the queue");
    public static OttFailure VideoNotFound() => new("VideoNotFoundException", "Video not found.");
    public static OttFailure ClientNotFoundInRoom(string room) => new("ClientNotFoundInRoomException",
        $"The server was unable to find a client in the room \"{room}\" associated with the session. Try refreshing the page or reconnecting; the room may not exist.");
    public static OttFailure BadApiArgument(string arg, string reason) =>
        new("BadApiArgumentException", $"Bad argument: {arg}: {reason}") { Arg = arg, Reason = reason };
    public static OttFailure FeatureDisabled(string reason, int status = 403) =>
        new("FeatureDisabledException", $"Sorry, this feature is disabled: {reason}", status);
    public static OttFailure UnsupportedSubtitleType() => new("UnsupportedSubtitleType", "Subtitle URL must end with .vtt");
    public static OttFailure ImpossiblePromotion() => new("ImpossiblePromotionException", "Can't promote/demote unregistered user");
    public static OttFailure Unknown() => new("Unknown", "An unknown error occurred. Try again later.", 500);
    public static OttFailure RoomUnavailable() =>
        new("RoomUnavailable", "The room is temporarily unavailable. Try again in a moment.", 503);
    // Ott extensions (docs/protocol.md §10): bans.
    public static OttFailure Banned() => new("BannedException", "You are banned from this room.", 403);
    public static OttFailure BanNotFound() => new("BanNotFoundException", "Ban not found.", 404);
    public static OttFailure TooManyBans(int max) =>
        new("TooManyBansException", $"This room has the most bans it may keep ({max}); lift some first.");
    public static OttFailure TooManyRequests() => new("TooManyRequests", "Too many requests.", 429) { IsInputError = true };

    public static OttFailure UnsupportedService(string url)
    {
        var path = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.AbsolutePath : "";
        var dot = path.LastIndexOf('.');
        var slash = path.LastIndexOf('/');
        var oneCharExtension = dot > slash && path.Length - dot - 1 == 1;
        return oneCharExtension
            ? new("UnsupportedServiceException",
                $"If this is a direct link to a video file, please open a \"service support request\" issue on github, so we can see if this file format works. Otherwise, \"{url}\" is not a valid URL for any supported service.")
            : new("UnsupportedServiceException", $"\"{url}\" is not a valid URL for any supported service.");
    }

    // Socket-only input errors (docs/protocol.md §1.7).
    public static OttFailure InvalidMessage(string detail) => new("InvalidMessage", detail) { IsInputError = true };
    public static OttFailure UnknownAction(string action) => new("UnknownAction", $"Unknown action: {action}") { IsInputError = true };
    public static OttFailure UnknownRequestType() => new("UnknownRequestType", "Unknown or missing request type") { IsInputError = true };
    public static OttFailure RequestNotAllowed(int type) =>
        new("RequestNotAllowed", $"Request type {type} is server-internal and cannot be sent") { IsInputError = true };
    public static OttFailure AlreadyAuthenticated() => new("AlreadyAuthenticated", "This connection is already authenticated") { IsInputError = true };
}

/// <summary>Thrown inside room logic and at API boundaries; caught where the failure is reported.</summary>
public sealed class OttException(OttFailure failure) : Exception(failure.Message)
{
    public OttFailure Failure { get; } = failure;
}
