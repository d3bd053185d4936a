using System.Globalization;
using Ott.Sync.Limits;

namespace Ott.Sync.Endpoints;

// The HTTP face of the limits (docs/protocol.md §9): the X-RateLimit-* headers, and a refusal as OTT's 429.
internal static class LimitResults
{
    /// <summary>Charges the caller's IP and writes the X-RateLimit-* headers; a result means "answer this 429".</summary>
    public static async Task<OttErrorResult?> ChargeOrRefuseAsync(this PointsLimiter limiter, HttpContext http, int cost, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(limiter);
        ArgumentNullException.ThrowIfNull(http);
        if (await limiter.ChargeAsync(ClientIp.Of(http), cost, ct) is not { } charge)
        {
            return null;
        }
        var headers = http.Response.Headers;
        headers["X-RateLimit-Limit"] = charge.Limit.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Remaining"] = charge.Remaining.ToString(CultureInfo.InvariantCulture);
        headers["X-RateLimit-Reset"] = charge.Reset.ToString("R", CultureInfo.InvariantCulture);
        return charge.Refusal?.ToResult();
    }

    public static OttErrorResult ToResult(this LimitRefusal refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        return refusal.Failure.ToResult(refusal.RetryAfter);
    }
}
