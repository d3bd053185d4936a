using Ott.Sync.Storage;

namespace Ott.Tests.Unit;

public sealed class RedisKeysTests
{
    private readonly RedisKeys _keys = new("ott:");

    [Fact]
    public void RoomKeysCarryTheLowerCasedRoomAsHashTag()
    {
        Assert.Equal("ott:room:{foo}:state", _keys.RoomState("Foo").ToString());
        Assert.Equal("ott:room:{foo}:lease", _keys.RoomLease("FOO").ToString());
        Assert.Equal("ott:room:{foo}:epoch", _keys.RoomEpoch("foo").ToString());
        Assert.Equal("ott:room:{foo}:ev", _keys.RoomChannel("fOo").ToString());
        Assert.False(_keys.RoomChannel("foo").IsPattern);
    }

    // Sharded pub/sub (docs/architecture.md §6.3): on a Redis Cluster a room's events go to its shard only.
    [Fact]
    public void EveryChannelIsSharded()
    {
        Assert.True(_keys.RoomChannel("foo").IsSharded);
        Assert.True(_keys.NodeChannel("web-1").IsSharded);
        Assert.True(_keys.ClusterChannel.IsSharded);
        Assert.True(_keys.Channel("ott:node:web-2").IsSharded);
        Assert.False(new RedisKeys("ott:", shardedChannels: false).RoomChannel("foo").IsSharded);
    }

    // One Redis Cluster slot for every account key: registration claims the record and its indexes in one script.
    [Fact]
    public void AccountKeysShareOneHashTag()
    {
        Assert.Equal("ott:{users}:7", _keys.User(7).ToString());
        Assert.Equal("ott:{users}:byname:alice", _keys.UserByName("Alice").ToString());
        Assert.Equal("ott:{users}:byemail:a@example.com", _keys.UserByEmail("a@example.com").ToString());
        Assert.Equal("ott:{users}:bydiscord:42", _keys.UserByDiscord("42").ToString());
        Assert.Equal("ott:{users}:7:rooms", _keys.UserRooms(7).ToString());
        Assert.Equal("ott:{users}:nextid", _keys.UserNextId.ToString());
    }

    [Fact]
    public void ClusterDirectoryAndSessionKeysFollowTheDesign()
    {
        Assert.Equal("ott:{cluster}:nodes", _keys.ClusterNodes.ToString());
        Assert.Equal("ott:{rooms}:active", _keys.RoomsActive.ToString());
        Assert.Equal("ott:{rooms}:meta", _keys.RoomsMeta.ToString());
        Assert.Equal("ott:auth:abc_-", _keys.Session("abc_-").ToString());
        Assert.Equal("ott:node:web-1-0b7d11aa", _keys.NodeChannel("web-1-0b7d11aa").ToString());
        Assert.Equal("ott:cluster", _keys.ClusterChannel.ToString());
        Assert.False(_keys.NodeChannel("n").IsPattern || _keys.ClusterChannel.IsPattern);
    }

    [Fact]
    public void LeasePatternEscapesTheLiteralBraces() =>
        Assert.Equal(@"ott:room:\{*\}:lease", _keys.RoomLeasePattern);

    [Fact]
    public void CanonicalNameIsInvariantLowerCase() => Assert.Equal("my-room_1", RedisKeys.Canonical("My-Room_1"));
}
