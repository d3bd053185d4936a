using System.Globalization;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Connections;

/// <summary>
/// Every socket is an open file, so the process's open-file limit caps the sockets a node can hold. At start-up
/// this reads the soft limit (Linux: /proc/self/limits) and warns when it leaves room for fewer than
/// <see cref="ConnectionsOptions.ExpectedSockets"/> sockets (docs/architecture.md §12).
/// </summary>
internal sealed partial class OpenFileLimit(IOptions<ConnectionsOptions> options, ILogger<OpenFileLimit> logger) : IHostedService
{
    /// <summary>Files a node keeps open besides its sockets: the runtime, its Redis connections, logs, data files.</summary>
    public const int Reserved = 256;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var expected = options.Value.ExpectedSockets;
        if (expected > 0 && OperatingSystem.IsLinux() && File.Exists("/proc/self/limits")
            && SoftLimit(File.ReadAllText("/proc/self/limits")) is { } limit)
        {
            if (TooLow(limit, expected))
            {
                Log.TooLow(logger, limit, Math.Max(0, limit - Reserved), expected, expected + Reserved);
            }
            else
            {
                Log.Enough(logger, limit, limit - Reserved);
            }
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>True when a soft limit of <paramref name="limit"/> open files cannot hold <paramref name="expected"/> sockets.</summary>
    public static bool TooLow(long limit, int expected) => limit - Reserved < expected;

    /// <summary>The soft "Max open files" of a /proc/&lt;pid&gt;/limits text; long.MaxValue for unlimited, null when absent.</summary>
    public static long? SoftLimit(string limits)
    {
        foreach (var line in limits.Split('\n'))
        {
            if (!line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                continue;
            }
            var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            return soft == "unlimited" ? long.MaxValue
                : long.TryParse(soft, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
        }
        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "The open-file limit is {Limit}, so this node can hold about {Sockets} sockets, fewer than Connections:ExpectedSockets ({Expected}); past it, new connections fail. Raise the limit to at least {Needed} (systemd: LimitNOFILE=; a shell: ulimit -n; docker: --ulimit nofile=)")]
        public static partial void TooLow(ILogger logger, long limit, long sockets, int expected, int needed);

        [LoggerMessage(LogLevel.Information, "The open-file limit is {Limit}: room for about {Sockets} sockets")]
        public static partial void Enough(ILogger logger, long limit, long sockets);
    }
}
