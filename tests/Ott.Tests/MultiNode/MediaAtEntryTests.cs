using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Media;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.MultiNode;

// Media is looked up where a request enters, before routing, and the lookup travels with the forwarded
// command (docs/architecture.md §5.4): the owner never looks media up, so a lookup slower than the forwarding
// timeout (Cluster:RequestTimeout, 2 s) runs once, on the entry node, and never on the owner under that
// timeout. Two in-process nodes on one Redis: O owns the room, G is the gateway the request enters. Each node
// has its own YouTube API base URL on one loopback fake, so every upstream call says which node made it.
public sealed class MediaAtEntryTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime, IDisposable
{
    // Longer than Cluster:RequestTimeout: a lookup on the owner, under the forward's wait, would outlast it.
    private static readonly TimeSpan SlowUpstream = TimeSpan.FromSeconds(3);

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly string _prefix = $"media-entry-{Guid.NewGuid():N}:";
    private FakeUpstream _upstream = null!;
    private YouTubeFake _onOwner = null!;
    private YouTubeFake _onGateway = null!;
    private OttApplication _owner = null!;
    private OttApplication _gateway = null!;

    private CancellationToken Ct => _timeout.Token;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _onOwner = new YouTubeFake(_upstream, "/yt-owner") { Delay = SlowUpstream };
        _onGateway = new YouTubeFake(_upstream, "/yt-gateway") { Delay = SlowUpstream };
        _owner = Node("/yt-owner");
        _gateway = Node("/yt-gateway");
        await Task.WhenAll(_owner.InitializeAsync(), _gateway.InitializeAsync());
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(new[] { _owner, _gateway }.All(n => n.Services.GetRequiredService<Membership>().LiveNodes.Count == 2)),
            TimeSpan.FromSeconds(10), "both nodes see each other");
    }

    private OttApplication Node(string youTubePrefix) => new(redis, ownsRedis: false, _prefix, new Dictionary<string, string?>
    {
        ["Cluster:HeartbeatInterval"] = "00:00:00.200",
        ["Cluster:NodeTimeout"] = "00:00:01.500",
        ["Media:YouTube:ApiKey"] = YouTubeFake.Key,
        ["Media:YouTube:BaseUrl"] = _upstream.Url(youTubePrefix),
    });

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _owner.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    public void Dispose() => _timeout.Dispose();

    private static string NewId() => "v" + Guid.NewGuid().ToString("N")[..10];

    private int VideoLookups(YouTubeFake fake, string id) =>
        _upstream.Requests.Count(r => r.StartsWith(fake.Prefix + "/videos?", StringComparison.Ordinal) && r.Contains(id, StringComparison.Ordinal));

    [Fact]
    public async Task ASlowLookupOfAnAddThroughAGatewayRunsOnceOnTheGatewayAndTheOwnerQueuesItsResult()
    {
        var id = NewId();
        _onOwner.Video(id, "Looked up by the owner", "PT2M");
        _onGateway.Video(id, "Looked up where the add entered", "PT1M");
        var room = await _owner.CreateRoomAsync(ct: Ct);
        Assert.NotNull(_owner.Rooms.Loaded(room));

        var (status, body) = await _gateway.SendAsync(HttpMethod.Post, $"/api/room/{room}/queue", await _gateway.GrantAsync(Ct),
            new JsonObject { ["url"] = $"https://youtu.be/{id}" }, Ct);

        Assert.True(status == 200, $"add through the gateway: {status} {body.ToJsonString()}");
        var state = _owner.Rooms.Loaded(room)!.State;
        var item = Assert.Single(state.Queue.Append(state.CurrentSource).OfType<QueueItem>(), i => i.Id == id);
        Assert.Equal("Looked up where the add entered", item.Title);
        Assert.Equal(60, item.Length);
        Assert.Equal(1, VideoLookups(_onGateway, id));
        Assert.Equal(0, VideoLookups(_onOwner, id));
    }
}
