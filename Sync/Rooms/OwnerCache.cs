using System.Collections.Concurrent;

namespace Ott.Sync.Rooms;

/// <summary>
/// Which node this node last saw owning each room, and at which epoch (docs/architecture.md §9.3). The router fills
/// it from lease reads and activations; the gateway side forgets an entry when the room's channel says its
/// owner changed, was lost or unloaded, so the next command reads the lease again instead of being refused.
/// </summary>
internal sealed class OwnerCache
{
    private readonly ConcurrentDictionary<string, (string Node, long Epoch)> _owners = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, (string Node, long Epoch)> Known => _owners;

    public bool TryGet(string key, out (string Node, long Epoch) owner) => _owners.TryGetValue(key, out owner);

    public void Set(string key, string node, long epoch) => _owners[key] = (node, epoch);

    public bool Contains(string key) => _owners.ContainsKey(key);

    public void Forget(string key) => _owners.TryRemove(key, out _);

    /// <summary>Forgets every room cached as owned by <paramref name="nodeId"/> (it died).</summary>
    public void ForgetNode(string nodeId)
    {
        foreach (var (key, owner) in _owners)
        {
            if (owner.Node == nodeId)
            {
                _owners.TryRemove(new KeyValuePair<string, (string, long)>(key, owner));
            }
        }
    }
}
