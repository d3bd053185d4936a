using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// docs/protocol.md §1.7 (4003) and §8.3: unloads as the room's sockets see them.
public sealed class RoomUnloadSocketTests(QuickUnloadApplication app) : IClassFixture<QuickUnloadApplication>
{
    [Fact]
    public async Task AdminUnloadClosesTheRoomsSocketsWith4003()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        var room = await app.CreateRoomAsync(ct: ct);
        var other = await app.CreateRoomAsync(ct: ct);
        await using var a = await app.JoinAsync(room, ct: ct);
        await using var b = await app.JoinAsync(room, ct: ct);
        await using var elsewhere = await app.JoinAsync(other, ct: ct);

        using (var admin = app.AdminClient())
        {
            using var response = await admin.DeleteAsync($"/api/room/{room}", ct);
            Assert.Equal(200, (int)response.StatusCode);
        }
        Assert.Equal(4003, await a.CloseCodeAsync(ct));
        Assert.Equal(4003, await b.CloseCodeAsync(ct));
        Assert.Equal("Room was unloaded", a.CloseDescription);

        // A temporary room is gone for good; the other room is untouched.
        await using var late = await app.ConnectAsync(room, ct: ct);
        await late.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = await app.GrantAsync(ct) }, ct);
        Assert.Equal(4002, await late.CloseCodeAsync(ct));
        await ConnTestKit.ChatIsNextAsync(elsewhere, ct, elsewhere);
    }

    [Fact]
    public async Task IdleRoomUnloadsWhileARoomWithAUserStaysLoaded()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        var idle = await app.CreateRoomAsync(ct: ct);
        var busy = await app.CreateRoomAsync(ct: ct);
        await using var user = await app.JoinAsync(busy, ct: ct);

        // Both were created together; by the time the idle one has gone, the busy one would have too.
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(app.Rooms.Loaded(idle) is null), TimeSpan.FromSeconds(8), "the idle room unloads");
        Assert.NotNull(app.Rooms.Loaded(busy));
        await ConnTestKit.ChatIsNextAsync(user, ct, user);

        await using var late = await app.ConnectAsync(idle, ct: ct);
        await late.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = await app.GrantAsync(ct) }, ct);
        Assert.Equal(4002, await late.CloseCodeAsync(ct));
    }
}

// docs/protocol.md §8.4: a stopping node closes its sockets with 1001 and leaves its rooms with their live state.
public sealed class ShutdownSocketTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task ShutdownClosesSocketsWith1001AndAfterReconnectingTheQueueAndPositionAreIntact()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        var prefix = $"test-{Guid.NewGuid():N}:";
        var first = new OttApplication(redis, ownsRedis: false, prefix);
        string room;
        OttTestClient a;
        DateTimeOffset playing;
        try
        {
            await first.InitializeAsync();
            room = await first.CreateRoomAsync(ct: ct);
            a = await first.JoinAsync(room, ct: ct);
            await ConnTestKit.AddAsync(a, ConnTestKit.VideoUrl, ct);
            await ConnTestKit.AddAsync(a, ConnTestKit.OtherUrl, ct);
            await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 42 }, ct);
            await a.WaitForAsync(m => m.IsEvent(4), ct: ct);
            playing = DateTimeOffset.UtcNow;
            await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, ct);
            await a.WaitForAsync(m => m.IsEvent(2), ct: ct);
        }
        finally
        {
            // Disposing the factory stops the host gracefully.
            await first.DisposeAsync();
        }
        await using (a)
        {
            Assert.Equal(1001, await a.CloseCodeAsync(ct));
        }

        await using var second = new OttApplication(redis, ownsRedis: false, prefix);
        await second.InitializeAsync();
        await using var b = await second.ConnectAsync(room, $"/api/room/{room}?reconnect=true", ct);
        await b.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = await second.GrantAsync(ct) }, ct);
        var sync = await b.WaitForAsync(m => m.Action() == "sync", ct: ct);
        var elapsed = (DateTimeOffset.UtcNow - playing).TotalSeconds;

        Assert.Equal(ConnTestKit.VideoUrl, sync["currentSource"]!["id"]!.GetValue<string>());
        Assert.Equal([ConnTestKit.OtherUrl], sync["queue"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList());
        Assert.True(sync["isPlaying"]!.GetValue<bool>());
        // The room's clock is the cluster clock, not this process's: allow it 50 ms either way.
        Assert.InRange(sync["playbackPosition"]!.GetValue<double>(), 42 - 0.05, 42 + elapsed + 0.05);
    }
}
