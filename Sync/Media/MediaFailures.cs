using Ott.Sync.Protocol;

namespace Ott.Sync.Media;

// Resolver errors (docs/protocol.md §4.2 "resolver errors": the resolver's name and message, 400).
// OTT's names are kept where OTT has one; the Upstream* names are Ott's, one per failure mode,
// so a client (or an operator reading logs) can tell a dead upstream from a refused request.
internal static class MediaFailures
{
    public static OttFailure ServiceNotConfigured(string service) =>
        new("ServiceNotConfiguredException", $"The {Display(service)} service is not configured on this server.");

    public static OttFailure OutOfQuota(string service) =>
        new("OutOfQuotaException", $"We don't have enough {Display(service)} API quota to complete the request. Try again later.");

    public static OttFailure InvalidVideoId(string service, string id) =>
        new("InvalidVideoIdException", $"\"{id}\" is an invalid {service} video ID.");

    public static OttFailure PlaylistNotFound() => new("PlaylistNotFoundException", "Playlist not found.");

    public static OttFailure UnsupportedVideoType(string kind) =>
        new("UnsupportedVideoType", $"This type of video is not supported: {kind}.");

    public static OttFailure UpstreamUnavailable(string source) =>
        new("UpstreamUnavailableException", $"Could not get video info from {source}: the service is unavailable. Try again later.");

    public static OttFailure UpstreamTimeout(string source) =>
        new("UpstreamTimeoutException", $"Could not get video info from {source}: the request timed out. Try again later.");

    public static OttFailure UpstreamRejected(string source, int status) =>
        new("UpstreamRejectedException", $"Could not get video info from {source}: the request was refused (HTTP {status}).");

    public static OttFailure UpstreamMalformed(string source) =>
        new("UpstreamMalformedResponseException", $"Could not get video info from {source}: its response could not be read.");

    // Ott: the URL (or a redirect from it) leads to an address the server does not fetch from (docs/protocol.md §10).
    public static OttFailure AddressRefused(string host) =>
        new("UpstreamAddressRefusedException",
            $"Could not get video info from {host}: it is a loopback, private or otherwise non-public address, which this server does not fetch from.");

    public static OttFailure M3u8Parse(string reason) => new("M3u8ParseError", reason);

    public static OttFailure MpdParse(string reason) => new("MpdParseError", reason);

    public static string Display(string service) => service switch
    {
        "youtube" => "YouTube",
        "vimeo" => "Vimeo",
        _ => service,
    };
}
