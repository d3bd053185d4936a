using Ott.Bench.Hosting;
using Ott.Bench.Wire;

namespace Ott.Bench.Scenarios;

// Everything a scenario run gets: the target (already started), its REST client, a status line for
// the live display, and the run's parameters with their defaults.
internal sealed class BenchContext(IBenchTarget target, IReadOnlyDictionary<string, double> parameters, Action<string> status, int repeat)
{
    public IBenchTarget Target => target;

    public int Repeat => repeat;

    public Dictionary<string, double> Used { get; } = [];

    // REST client for node 1 (the only node, or the one that creates and so owns the rooms).
    public OttApi Api() => new(target.BaseUrl);

    // Every node, node 1 first; null for a single node. Records `nodes` among the run's parameters.
    public IReadOnlyList<Uri>? Nodes()
    {
        if (target.NodeUrls.Count <= 1)
        {
            return null;
        }
        Used["nodes"] = target.NodeUrls.Count;
        return target.NodeUrls;
    }

    public void Status(string text) => status(text);

    public double Get(string name, double fallback)
    {
        var value = parameters.TryGetValue(name, out var v) ? v : fallback;
        Used[name] = value;
        return value;
    }

    public int GetInt(string name, int fallback) => (int)Get(name, fallback);
}
