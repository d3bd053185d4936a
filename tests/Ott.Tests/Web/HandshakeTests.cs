using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Web;

public sealed class HandshakeTests(OttApplication app) : IClassFixture<OttApplication>
{
    [Fact]
    public async Task JoinerReceivesFullSyncJoinEventPositionUserUpdateInitAndYouInOrder()
    {
        var room = await app.CreateRoomAsync();
        await using var client = await app.JoinAsync(room);
        var actions = client.Messages.Select(m => m.Action() + (m["update"]?["kind"] is { } k ? ":" + k : "")).ToList();
        Assert.Equal(["sync", "event", "sync", "user:update", "user:init", "you"], actions);
        var full = client.Messages[0];
        Assert.Equal(
            ["action", "name", "title", "description", "isTemporary", "visibility", "queueMode", "currentSource", "queue",
             "isPlaying", "playbackPosition", "playbackSpeed", "grants", "hasOwner", "voteCounts", "videoSegments",
             "autoSkipSegmentCategories", "prevQueue", "restoreQueueBehavior", "enableVoteSkip", "votesToSkip"],
            full.Select(kv => kv.Key).ToList());
        Assert.Equal(client.ClientId, client.Messages[1]["user"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task ChatIsBroadcastToBothSockets()
    {
        var room = await app.CreateRoomAsync();
        await using var a = await app.JoinAsync(room);
        await using var b = await app.JoinAsync(room);
        await b.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "hello" });
        var seenByA = await a.WaitForAsync(m => m.Action() == "chat");
        var seenByB = await b.WaitForAsync(m => m.Action() == "chat");
        Assert.Equal("hello", seenByA["text"]!.GetValue<string>());
        Assert.Equal(b.ClientId, seenByB["from"]!["id"]!.GetValue<string>());
    }
}
