using ArchUnitNET.Domain;
using ArchUnitNET.Loader;

namespace Ott.Tests.Unit;

// The folder rules of docs/architecture.md §2, read from the built assembly's type dependencies
// (method bodies included). A folder is the namespace under Ott.Sync; RoomState.cs (namespace Ott)
// is the folder "State".
public sealed class ArchitectureTests
{
    private static readonly Lazy<Dictionary<string, Dictionary<string, List<string>>>> Graph = new(Build);

    private static string? FolderOf(string ns) => ns switch
    {
        "Ott" => "State",
        "Ott.Sync" => "Sync",
        _ when ns.StartsWith("Ott.Sync.", StringComparison.Ordinal) => ns["Ott.Sync.".Length..].Split('.')[0],
        _ => null, // Program, generated code outside Ott's namespaces, the framework
    };

    private static Dictionary<string, Dictionary<string, List<string>>> Build()
    {
        var architecture = new ArchLoader().LoadAssemblies(typeof(RoomState).Assembly).Build();
        var graph = new Dictionary<string, Dictionary<string, List<string>>>(StringComparer.Ordinal);
        foreach (var type in architecture.Types)
        {
            if (FolderOf(type.Namespace?.FullName ?? "") is not { } from)
            {
                continue;
            }
            var edges = graph.TryGetValue(from, out var e) ? e : graph[from] = new(StringComparer.Ordinal);
            foreach (var dependency in type.Dependencies)
            {
                // A generic method's type parameter is reported with its declaring type's namespace, which
                // can be another folder's generated method of the same name: not a dependency.
                if (dependency.Target is null || dependency.Target.IsGenericParameter)
                {
                    continue;
                }
                if (FolderOf(dependency.Target?.Namespace?.FullName ?? "") is { } to && to != from)
                {
                    var examples = edges.TryGetValue(to, out var x) ? x : edges[to] = [];
                    if (examples.Count < 3)
                    {
                        examples.Add($"{type.FullName} -> {dependency.Target!.FullName}");
                    }
                }
            }
        }
        return graph;
    }

    /// <summary>Every strongly connected set of more than one folder, each with the edges that close it.</summary>
    internal static List<string> Cycles(Dictionary<string, Dictionary<string, List<string>>> graph)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var found = new List<string>();
        var next = 0;

        void Visit(string v)
        {
            index[v] = low[v] = next++;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in graph.TryGetValue(v, out var edges) ? edges.Keys : Enumerable.Empty<string>())
            {
                if (!index.TryGetValue(w, out var seen))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                {
                    low[v] = Math.Min(low[v], seen);
                }
            }
            if (low[v] != index[v])
            {
                return;
            }
            var component = new List<string>();
            string member;
            do
            {
                member = stack.Pop();
                onStack.Remove(member);
                component.Add(member);
            }
            while (member != v);
            if (component.Count > 1)
            {
                var inside = component.ToHashSet(StringComparer.Ordinal);
                var edges = component.SelectMany(a => graph[a].Where(b => inside.Contains(b.Key)).Select(b => $"  {a} -> {b.Key}: {string.Join("; ", b.Value)}"));
                found.Add($"cycle among {string.Join(", ", component.Order(StringComparer.Ordinal))}:\n{string.Join("\n", edges)}");
            }
        }

        foreach (var v in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (!index.ContainsKey(v))
            {
                Visit(v);
            }
        }
        return found;
    }

    private static List<string> Dependents(string folder) =>
        [.. Graph.Value.Where(f => f.Value.ContainsKey(folder)).Select(f => $"{f.Key}: {string.Join("; ", f.Value[folder])}")];

    private static List<string> DependenciesOf(string folder) =>
        Graph.Value.TryGetValue(folder, out var edges) ? [.. edges.Select(e => $"{e.Key}: {string.Join("; ", e.Value)}")] : [];

    [Fact]
    public void FoldersFormNoDependencyCycle()
    {
        var cycles = Cycles(Graph.Value);
        Assert.True(cycles.Count == 0, string.Join("\n", cycles));
    }

    [Fact]
    public void ProtocolDependsOnNoOtherFolder()
    {
        var deps = DependenciesOf("Protocol");
        Assert.True(deps.Count == 0, string.Join("\n", deps));
    }

    [Fact]
    public void StorageDependsOnNoFeatureFolder()
    {
        var deps = DependenciesOf("Storage");
        Assert.True(deps.Count == 0, string.Join("\n", deps));
    }

    [Fact]
    public void NothingDependsOnEndpoints()
    {
        var users = Dependents("Endpoints");
        Assert.True(users.Count == 0, string.Join("\n", users));
    }

    [Fact]
    public void OnlyProgramDependsOnHosting()
    {
        var users = Dependents("Hosting");
        Assert.True(users.Count == 0, string.Join("\n", users));
    }

    [Fact]
    public void TheCheckSeesEveryFolder()
    {
        // Guards the test itself: a loader or namespace change that empties the graph would pass every rule.
        foreach (var folder in new[] { "State", "Protocol", "Storage", "Rooms", "Connections", "Cluster", "Endpoints", "Auth", "Media" })
        {
            Assert.True(Graph.Value.ContainsKey(folder), $"no types seen in {folder}");
        }
        Assert.Contains("Rooms", Graph.Value["Connections"].Keys);
    }

    [Fact]
    public void CycleFinderReportsADeliberateCycle()
    {
        var graph = new Dictionary<string, Dictionary<string, List<string>>>(StringComparer.Ordinal)
        {
            ["A"] = new(StringComparer.Ordinal) { ["B"] = ["a->b"] },
            ["B"] = new(StringComparer.Ordinal) { ["C"] = ["b->c"] },
            ["C"] = new(StringComparer.Ordinal) { ["A"] = ["c->a"] },
            ["D"] = new(StringComparer.Ordinal) { ["A"] = ["d->a"] },
        };
        var cycle = Assert.Single(Cycles(graph));
        Assert.Contains("A, B, C", cycle);
        Assert.DoesNotContain("D", cycle);
    }
}
