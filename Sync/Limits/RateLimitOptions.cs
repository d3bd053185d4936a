namespace Ott.Sync.Limits;

// Protocol §9. Enabled switches off the points budget, the new-session cap and the login limits
// together; test factories and the bench turn it off. Only the login limits exist so far.
internal sealed class RateLimitOptions
{
    public const string Section = "RateLimit";

    public bool Enabled { get; set; } = true;
}
