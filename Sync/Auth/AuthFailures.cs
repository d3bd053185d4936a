using Ott.Sync.Protocol;

namespace Ott.Sync.Auth;

// The protocol §3.2 refusals, as domain failures: REST answers them through OttFailure.ToResult().
internal static class AuthFailures
{
    public static OttFailure ApiKeyNotSet() => new("Error", "apikey is not set");

    public static OttFailure ApiKeyInvalid() => new("Error", "apikey is invalid");

    public static OttFailure MissingToken() => new("MissingToken", "Missing auth token. Get a token from /api/auth/grant first.");

    public static OttFailure InvalidToken() =>
        new("MissingToken", "Missing valid auth token. Get a token from /api/auth/grant first.", StatusCodes.Status401Unauthorized);
}
