using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Connections;

internal sealed class ConnectionsOptions
{
    [Range(1, 1_000_000)]
    public int OutboxCapacity { get; set; } = 256;

    [Range(1024, 16 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 65536;

    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    [Range(1, 10_000)]
    public int PendingRequestLimit { get; set; } = 32;

    [Range(1, 100_000)]
    public int MessagesPerSecond { get; set; } = 30;

    [Range(1, 100_000)]
    public int MessageBurst { get; set; } = 60;

    [Range(0, 1_000_000)]
    public int MaxPerIp { get; set; } = 200;

    /// <summary>Input errors within <see cref="InputErrorWindow"/> before a 1008 close (docs/protocol.md §1.7).</summary>
    [Range(1, 10_000)]
    public int MaxInputErrors { get; set; } = 20;

    public TimeSpan InputErrorWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Sockets this node should be able to hold; start-up warns when the open-file limit is lower (0: no check).</summary>
    [Range(0, 10_000_000)]
    public int ExpectedSockets { get; set; } = 10_000;
}

[OptionsValidator]
internal sealed partial class ConnectionsOptionsValidator : IValidateOptions<ConnectionsOptions>;
