using System.Diagnostics;
using Ott.Bench.Wire;

namespace Ott.Bench.Scenarios;

// Rooms created over REST and members joined over WebSockets, each member waiting for `you`.
internal sealed class Population : IAsyncDisposable
{
    private Population(string[] rooms, BenchSocket[][] members, string[] tokens)
    {
        Rooms = rooms;
        Members = members;
        Tokens = tokens;
    }

    public string[] Rooms { get; }

    public BenchSocket[][] Members { get; }

    public string[] Tokens { get; }

    public IEnumerable<BenchSocket> All => Members.SelectMany(m => m);

    public static string RoomName(string run, int i) => $"b{run}-{i}";

    public static async Task<string[]> GrantsAsync(OttApi api, int count, CancellationToken ct)
    {
        // A small token pool: a session may hold any number of connections, and minting 10,000
        // sessions would measure the grant endpoint rather than the room.
        var tokens = new string[Math.Clamp(count, 1, 32)];
        for (var i = 0; i < tokens.Length; i++)
        {
            tokens[i] = await api.GrantAsync(ct);
        }
        return tokens;
    }

    public static async Task<string[]> CreateRoomsAsync(OttApi api, string[] tokens, int count, bool temporary, CancellationToken ct)
    {
        var run = Guid.NewGuid().ToString("N")[..6];
        var rooms = Enumerable.Range(0, count).Select(i => RoomName(run, i)).ToArray();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
            async (i, token) => await api.CreateRoomAsync(tokens[i % tokens.Length], rooms[i], temporary, token));
        return rooms;
    }

    // Rooms are created through `api`; with several nodes, member m of each room joins through
    // nodes[m mod N] (so member 0, the fanout sender, is on the node that created and owns the room).
    public static async Task<Population> CreateAsync(OttApi api, int rooms, int perRoom, int concurrency,
        Action<BenchSocket, Frame, long>? onFrame, Action<int>? joined, CancellationToken ct, IReadOnlyList<Uri>? nodes = null)
    {
        var tokens = await GrantsAsync(api, rooms * perRoom, ct);
        var names = await CreateRoomsAsync(api, tokens, rooms, temporary: true, ct);
        var members = new BenchSocket[rooms][];
        for (var r = 0; r < rooms; r++)
        {
            members[r] = new BenchSocket[perRoom];
        }
        var population = new Population(names, members, tokens);
        var done = 0;
        try
        {
            // Member-major order spreads concurrent joins over rooms, as real arrivals would be.
            var slots = Enumerable.Range(0, perRoom).SelectMany(m => Enumerable.Range(0, rooms).Select(r => (r, m)));
            await Parallel.ForEachAsync(slots, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct }, async (slot, token) =>
            {
                var (socket, _, _) = await JoinAsync(api, names[slot.r], slot.r, slot.m, tokens[(slot.r * perRoom + slot.m) % tokens.Length], onFrame, token,
                    Node(nodes, slot.m));
                members[slot.r][slot.m] = socket;
                joined?.Invoke(Interlocked.Increment(ref done));
            });
        }
        catch
        {
            await population.DisposeAsync();
            throw;
        }
        return population;
    }

    // The node member m joins through: nodes[m mod N], or null (api's own) for a single node.
    public static Uri? Node(IReadOnlyList<Uri>? nodes, int m) => nodes is { Count: > 1 } ? nodes[m % nodes.Count] : null;

    // Returns the socket, and the Stopwatch timestamps at which it opened and at which `you` came.
    // The socket goes to `node` when given, else to api's server.
    public static async Task<(BenchSocket Socket, long Opened, long You)> JoinAsync(OttApi api, string room, int r, int m, string token,
        Action<BenchSocket, Frame, long>? onFrame, CancellationToken ct, Uri? node = null)
    {
        var socket = await BenchSocket.ConnectAsync(node is null ? api.SocketUrl(room) : OttApi.SocketUrl(node, room), r, m, ct);
        var opened = Stopwatch.GetTimestamp();
        socket.OnFrame = onFrame;
        try
        {
            await socket.SendAsync(Requests.Auth(token), ct);
            var you = await socket.You.WaitAsync(TimeSpan.FromSeconds(30), ct);
            return (socket, opened, you);
        }
        catch
        {
            await socket.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync() =>
        await Parallel.ForEachAsync(All.Where(s => s is not null), new ParallelOptions { MaxDegreeOfParallelism = 64 },
            async (s, _) => await s.DisposeAsync());
}
