namespace Ott.Sync.Auth;

// Who an authenticated `/api` request runs for. An admin (apikey) caller has no token and no
// session; every other caller has all three.
internal sealed record ApiCaller(string? Token, string? SessionKey, Session? Session, bool IsAdmin)
{
    public static ApiCaller Admin { get; } = new(null, null, null, true);

    public static ApiCaller ForSession(string token, Session session) =>
        new(token, SessionStore.KeyOf(token), session, false);
}

internal static class ApiCallerHttpContextExtensions
{
    private static readonly object ItemKey = new();

    public static void SetApiCaller(this HttpContext http, ApiCaller caller)
    {
        ArgumentNullException.ThrowIfNull(http);
        http.Items[ItemKey] = caller;
    }

    // Null when the request did not pass through the `/api` authentication filter.
    public static ApiCaller? GetApiCaller(this HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        return http.Items.TryGetValue(ItemKey, out var caller) ? caller as ApiCaller : null;
    }

    public static ApiCaller GetRequiredApiCaller(this HttpContext http) =>
        http.GetApiCaller() ?? throw new InvalidOperationException(
            "No ApiCaller: the endpoint group must call RequireOttAuth().");
}
