namespace Ott.Sync.Endpoints;

/// <summary>
/// The `Discord` section: Discord login and linking (docs/protocol.md §3.3). Without a client id the Discord routes
/// answer 404. The endpoints default to Discord's own and are configurable so tests can use a loopback fake.
/// </summary>
internal sealed class DiscordOptions
{
    public const string Section = "Discord";

    public const string Message =
        "Discord: with ClientId set, ClientSecret must be set too; AuthorizationEndpoint, TokenEndpoint and "
        + "UserInformationEndpoint must be absolute http(s) URLs, and RedirectUri empty or one.";

    // The application's OAuth2 client id; empty turns Discord login off.
    public string ClientId { get; set; } = "";

    // Never logged, never sent anywhere but the token endpoint.
    public string ClientSecret { get; set; } = "";

    public string AuthorizationEndpoint { get; set; } = "https://discord.com/oauth2/authorize";

    public string TokenEndpoint { get; set; } = "https://discord.com/api/oauth2/token";

    public string UserInformationEndpoint { get; set; } = "https://discord.com/api/users/@me";

    // The callback URL as registered with Discord. Empty: built from the request (scheme, host, Http:BasePath and
    // /api/auth/discord/callback), which is right unless a proxy changes the scheme or host on the way in.
    public string RedirectUri { get; set; } = "";

    public bool Enabled => !string.IsNullOrEmpty(ClientId);

    public static bool Valid(DiscordOptions o) =>
        !o.Enabled
        || (!string.IsNullOrEmpty(o.ClientSecret) && IsHttpUrl(o.AuthorizationEndpoint) && IsHttpUrl(o.TokenEndpoint)
            && IsHttpUrl(o.UserInformationEndpoint) && (o.RedirectUri.Length == 0 || IsHttpUrl(o.RedirectUri)));

    private static bool IsHttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";

    // Options objects are not logged, but keep the secret out of any accidental formatting.
    public override string ToString() => $"Discord client {ClientId}";
}
