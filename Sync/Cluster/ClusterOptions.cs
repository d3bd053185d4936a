using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Cluster;

public sealed class NodeOptions
{
    [RegularExpression("^[A-Za-z0-9._-]{1,64}$", ErrorMessage = "Node:Name must match ^[A-Za-z0-9._-]{1,64}$")]
    public string Name { get; set; } = SafeMachineName();

    private static string SafeMachineName()
    {
        var name = new string([.. Environment.MachineName.Where(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')]);
        return name.Length is 0 ? "ott" : name[..Math.Min(name.Length, 64)];
    }
}

public sealed class ClusterOptions
{
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    [Range(typeof(TimeSpan), "00:00:00.020", "00:10:00")]
    public TimeSpan NodeTimeout { get; set; } = TimeSpan.FromSeconds(3);

    [Range(1, 100)]
    public int SettleHeartbeats { get; set; } = 2;

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(2);
    public TimeSpan ActivateTimeout { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed class LeaseOptions
{
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan RenewInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan Margin { get; set; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan HoldOnExpiry { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The effective margin: max(Margin, 10 % of the TTL) (docs/architecture.md §7.3).</summary>
    public TimeSpan EffectiveMargin => Margin > Ttl / 10 ? Margin : Ttl / 10;
}

[OptionsValidator]
public sealed partial class NodeOptionsValidator : IValidateOptions<NodeOptions>;

[OptionsValidator]
public sealed partial class ClusterOptionsValidator : IValidateOptions<ClusterOptions>;

[OptionsValidator]
public sealed partial class LeaseOptionsValidator : IValidateOptions<LeaseOptions>;
