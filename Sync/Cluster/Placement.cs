using System.IO.Hashing;
using System.Text;

namespace Ott.Sync.Cluster;

/// <summary>
/// Rendezvous (HRW) placement (docs/architecture.md §7.1): which live node should try to own a room. It is advice;
/// the lease decides. The hash is stable across processes, unlike <c>string.GetHashCode()</c>.
/// </summary>
public static class Placement
{
    public static string? Preferred(string room, IEnumerable<string> nodes)
    {
        string? best = null;
        ulong bestScore = 0;
        foreach (var node in nodes)
        {
            var score = Score(room, node);
            if (best is null || score > bestScore || (score == bestScore && string.CompareOrdinal(node, best) < 0))
            {
                best = node;
                bestScore = score;
            }
        }
        return best;
    }

    public static ulong Score(string room, string node)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(room) + 1 + Encoding.UTF8.GetByteCount(node)];
        var at = Encoding.UTF8.GetBytes(room, bytes);
        bytes[at] = 0;
        Encoding.UTF8.GetBytes(node, bytes.AsSpan(at + 1));
        return XxHash64.HashToUInt64(bytes);
    }
}
