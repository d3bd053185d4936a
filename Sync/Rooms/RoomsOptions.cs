using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Rooms;

public sealed class RoomsOptions
{
    public TimeSpan WriteCoalesceWindow { get; set; } = TimeSpan.FromMilliseconds(50);

    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan UnloadAfter { get; set; } = TimeSpan.FromMinutes(5);

    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan TemporaryStateTtl { get; set; } = TimeSpan.FromHours(2);

    [Range(1, 1024)]
    public int RestoreConcurrency { get; set; } = 16;

    [Range(1, 1_000_000)]
    public int MailboxCapacity { get; set; } = 1024;

    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a room remembers an origin's applied requests after its last one; longer than any retry (docs/architecture.md §9.4).</summary>
    [Range(typeof(TimeSpan), "00:00:05", "1.00:00:00")]
    public TimeSpan RequestRetention { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Whether a ban may also match the client IP (a ban's <c>byIp</c>); off by default, as many users may share one address.</summary>
    public bool IpBans { get; set; }

    [Range(1, 100_000)]
    public int MaxBans { get; set; } = 1000;

    /// <summary>How many entries each room's audit log keeps; older ones are trimmed as new ones are written.</summary>
    [Range(10, 1_000_000)]
    public int AuditLogLength { get; set; } = 1000;

    public bool EnableCreateTemporary { get; set; } = true;
    public bool EnableCreatePermanent { get; set; } = true;
}

[OptionsValidator]
public sealed partial class RoomsOptionsValidator : IValidateOptions<RoomsOptions>;

public sealed class SponsorBlockOptions
{
    public bool Enabled { get; set; } = true;
}
