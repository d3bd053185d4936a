using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Auth;

internal sealed class ApiOptions
{
    public const string Section = "Api";

    // The admin `apikey` (protocol §3.2). Empty means every apikey header gets `apikey is not set`.
    public string Key { get; set; } = "";
}

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
