namespace Ott.Bench.Hosting;

// A fault the failover scenario injects into one node: SIGKILL, SIGSTOP, or SIGCONT after a SIGSTOP.
internal enum NodeSignal
{
    Kill,
    Stop,
    Continue,
}

// What a scenario drives: a base URL, plus, when the server runs locally, its pid (RSS and CPU from
// /proc), its Redis (the restore scenario seeds it) and a way to stop and start it.
internal interface IBenchTarget : IAsyncDisposable
{
    string Name { get; }

    Uri BaseUrl { get; }

    int? ServerPid { get; }

    int? StorePid { get; }

    // Every node of a multi-node target (--nodes N), node 1 first: the one that creates the rooms and
    // so owns them. A single server is one node at BaseUrl.
    IReadOnlyList<Uri> NodeUrls => [BaseUrl];

    // The pids of every server process, in NodeUrls order (empty when the server is not local).
    IReadOnlyList<int> ServerPids => ServerPid is { } pid ? [pid] : [];

    // "host:port" of the Redis the server uses, when the bench can reach it.
    string? Redis { get; }

    string KeyPrefix { get; }

    bool CanRestart { get; }

    // Starts the server and returns once it answers GET /api/status.
    Task StartAsync(CancellationToken ct);

    // Stops the server gracefully (SIGTERM for a child process), keeping its store.
    Task StopAsync(CancellationToken ct);

    // Signals node `node` (0 = node 1) of a server the bench started; a kill returns once the process is gone.
    Task SignalNodeAsync(int node, NodeSignal signal) =>
        Task.FromException(new NotSupportedException($"{Name}: the bench can signal only the servers it starts itself"));
}

// A server somebody else started: nothing to stop, start or read from /proc.
internal sealed class UrlTarget(Uri url) : IBenchTarget
{
    public string Name => "url";

    public Uri BaseUrl => url;

    public int? ServerPid => null;

    public int? StorePid => null;

    public string? Redis => null;

    public string KeyPrefix => "ott:";

    public bool CanRestart => false;

    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
