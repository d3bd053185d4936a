using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Limits;

// The `Http` section: how requests reach this node. It lives with the limits because the trusted proxies
// decide the client IP every limit is keyed by; the base path and the cookie flag are read by endpoints
// and the socket middleware, which may all depend on Limits.
internal sealed class HttpOptions
{
    public const string Section = "Http";

    // The protocol §0 base path: empty, or `/segment[/segment...]` without a trailing slash.
    [RegularExpression("^(/[^/?#\\s\\\\]+)*$")]
    public string BasePath { get; set; } = "";

    // Drops `Secure` from the `token` cookie, for plain-HTTP development setups.
    public bool InsecureCookies { get; set; }

    // Proxies whose forwarded-for header gives the client IP (protocol §9); used by the
    // forwarded-headers middleware, not by auth.
    public string[] TrustedProxies { get; set; } = [];
}

[OptionsValidator]
internal sealed partial class HttpOptionsValidator : IValidateOptions<HttpOptions>;
