// Temporary stub of the storage API (replaced by the storage branch).
using StackExchange.Redis;

namespace Ott.Sync.Storage;

internal readonly record struct LeaseToken(string Value, long Epoch);

internal abstract record AcquireResult
{
    public sealed record Acquired(LeaseToken Token, string StateJson) : AcquireResult;
    public sealed record Held(string HolderToken, TimeSpan Pttl) : AcquireResult;
    public sealed record NotFound : AcquireResult;
}

internal sealed record HeartbeatResult(long RedisTimeMs, bool Added, IReadOnlyList<string> LiveNodes);

internal sealed class RedisConnection
{
    public IConnectionMultiplexer Multiplexer => throw new NotImplementedException();
    public IDatabase Database => throw new NotImplementedException();
    public bool IsEmbedded { get; init; }
}

internal sealed class RedisKeys
{
    public static string Canonical(string room) => room.ToLowerInvariant();
}

internal sealed class RoomStore
{
    public Task<LeaseToken?> CreateAsync(string room, string nodeId, string stateJson, TimeSpan leaseTtl, TimeSpan? stateTtl, CancellationToken ct) => throw new NotImplementedException();
    public Task<AcquireResult> AcquireAsync(string room, string nodeId, TimeSpan leaseTtl, TimeSpan temporaryStateTtl, CancellationToken ct) => throw new NotImplementedException();
    public Task<bool> RenewAsync(string room, LeaseToken token, TimeSpan leaseTtl, TimeSpan? stateTtl, CancellationToken ct) => throw new NotImplementedException();
    public Task<bool> FencedWriteAsync(string room, LeaseToken token, string stateJson, TimeSpan? stateTtl, CancellationToken ct) => throw new NotImplementedException();
    public Task<bool> ReleaseAsync(string room, LeaseToken token, string? finalStateJson, TimeSpan? stateTtl, CancellationToken ct) => throw new NotImplementedException();
    public Task<bool> DeleteAsync(string room, LeaseToken token, CancellationToken ct) => throw new NotImplementedException();
    public Task<HeartbeatResult> HeartbeatAsync(string nodeId, TimeSpan nodeTimeout, CancellationToken ct) => throw new NotImplementedException();
    public Task<bool> StateExistsAsync(string room, CancellationToken ct) => throw new NotImplementedException();
    public Task<string?> ReadStateAsync(string room, CancellationToken ct) => throw new NotImplementedException();
    public Task<TimeSpan?> StateTtlAsync(string room, CancellationToken ct) => throw new NotImplementedException();
    public Task MarkActiveAsync(string room, DateTimeOffset until, string metaJson, CancellationToken ct) => throw new NotImplementedException();
    public Task RemoveActiveAsync(string room, CancellationToken ct) => throw new NotImplementedException();
    public Task<IReadOnlyList<string>> ActiveRoomsAsync(CancellationToken ct) => throw new NotImplementedException();
    public Task<IReadOnlyList<string>> ListMetaAsync(DateTimeOffset now, CancellationToken ct) => throw new NotImplementedException();
}
