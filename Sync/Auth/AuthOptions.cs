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

internal static class BasePathExtensions
{
    /// <summary>
    /// Serves the REST API under <c>Http:BasePath</c> (protocol.md §0) as well as at the root, the way a
    /// reverse proxy that keeps or strips the prefix expects. The socket middleware applies the same rule.
    /// </summary>
    public static WebApplication UseOttBasePath(this WebApplication app)
    {
        var basePath = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<HttpOptions>>().Value.BasePath;
        if (basePath.Length > 0)
        {
            app.UsePathBase(basePath);
        }
        return app;
    }
}
