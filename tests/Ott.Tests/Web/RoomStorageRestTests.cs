using System.Net;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// What a REST client sees of storage: unload and reload, TTLs, and a temporary room's end
// (docs/protocol.md §8.2-§8.4, §11 "Restore queue and persistence").
public sealed class RoomStorageRestTests(OttApplication app) : IClassFixture<OttApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task APermanentRoomKeepsItsTitleDescriptionVisibilityAndQueueModeAcrossUnloadAndReload()
    {
        var name = await app.CreateRoomAsync(permanent: true, extra: new JsonObject
        {
            ["title"] = "Movie night",
            ["description"] = "Bring snacks",
            ["visibility"] = "unlisted",
            ["queueMode"] = "vote",
        }, ct: Ct);

        await UnloadAsync(name);
        using var client = app.ApiClient(await app.GrantAsync(Ct));
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);

        Assert.NotNull(app.Rooms.Loaded(name));
        Assert.Equal("Movie night", room["title"].Str());
        Assert.Equal("Bring snacks", room["description"].Str());
        Assert.Equal("unlisted", room["visibility"].Str());
        Assert.Equal("vote", room["queueMode"].Str());
        Assert.False(room["isTemporary"]!.GetValue<bool>());
    }

    [Fact]
    public async Task FalsySettingsAreStoredAndSurviveAPermanentRoomsUnloadAndReload()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(permanent: true, token: token,
            extra: new JsonObject { ["description"] = "to be emptied" }, ct: Ct);
        using var client = app.ApiClient(token);
        using var on = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}", new JsonObject { ["enableVoteSkip"] = true }, Ct);
        await on.AssertSuccessAsync(Ct);

        using var falsy = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}", new JsonObject
        {
            ["description"] = "",
            ["enableVoteSkip"] = false,
            ["restoreQueueBehavior"] = 0,
        }, Ct);
        await falsy.AssertSuccessAsync(Ct);
        await UnloadAsync(name);

        var stored = JsonNode.Parse((await app.Store.ReadStateAsync(name.ToLowerInvariant(), Ct))!)!.AsObject();
        Assert.Equal("", stored["description"].Str());
        Assert.False(stored["enableVoteSkip"]!.GetValue<bool>());
        Assert.Equal(0, stored["restoreQueueBehavior"]!.GetValue<int>());
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal("", room["description"].Str());
        Assert.False(room["enableVoteSkip"]!.GetValue<bool>());
        Assert.Equal(0, room["restoreQueueBehavior"]!.GetValue<int>());
    }

    [Fact]
    public async Task APermanentRoomsSettingsIncludingFalsyOnesSurviveARestart()
    {
        var prefix = $"test-{Guid.NewGuid():N}:";
        var first = new OttApplication(app.Backend, ownsRedis: false, prefix);
        await first.InitializeAsync();
        string name;
        try
        {
            var token = await first.GrantAsync(Ct);
            name = await first.CreateRoomAsync(permanent: true, token: token, extra: new JsonObject
            {
                ["title"] = "Kept",
                ["description"] = "",
                ["visibility"] = "unlisted",
                ["queueMode"] = "vote",
            }, ct: Ct);
            using var client = first.ApiClient(token);
            using var patch = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}",
                new JsonObject { ["restoreQueueBehavior"] = 0, ["enableVoteSkip"] = false }, Ct);
            await patch.AssertSuccessAsync(Ct);
        }
        finally
        {
            await ((IAsyncLifetime)first).DisposeAsync();
        }

        var second = new OttApplication(app.Backend, ownsRedis: false, prefix);
        await second.InitializeAsync();
        try
        {
            using var client = second.ApiClient(await second.GrantAsync(Ct));
            var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
            Assert.Equal("Kept", room["title"].Str());
            Assert.Equal("", room["description"].Str());
            Assert.Equal("unlisted", room["visibility"].Str());
            Assert.Equal("vote", room["queueMode"].Str());
            Assert.Equal(0, room["restoreQueueBehavior"]!.GetValue<int>());
            Assert.False(room["enableVoteSkip"]!.GetValue<bool>());
            Assert.False(room["isTemporary"]!.GetValue<bool>());
        }
        finally
        {
            await ((IAsyncLifetime)second).DisposeAsync();
        }
    }

    [Fact]
    public async Task APermanentRecordHasNoTtlAndATemporaryRecordExpiresWithinTwoHours()
    {
        var permanent = await app.CreateRoomAsync(permanent: true, ct: Ct);
        var temporary = await app.CreateRoomAsync(ct: Ct);

        var permanentTtl = await app.Database.KeyTimeToLiveAsync(StateKey(permanent));
        var temporaryTtl = await app.Database.KeyTimeToLiveAsync(StateKey(temporary));

        Assert.True(await app.Database.KeyExistsAsync(StateKey(permanent)));
        Assert.Null(permanentTtl);
        Assert.NotNull(temporaryTtl);
        Assert.InRange(temporaryTtl.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(7200));

        await UnloadAsync(permanent);
        Assert.True(await app.Database.KeyExistsAsync(StateKey(permanent)));
        Assert.Null(await app.Database.KeyTimeToLiveAsync(StateKey(permanent)));
    }

    [Fact]
    public async Task AWriteRefreshesATemporaryRecordsTtl()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(token: token, ct: Ct);
        await app.Database.KeyExpireAsync(StateKey(name), TimeSpan.FromSeconds(100));
        using var client = app.ApiClient(token);

        using var response = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}", new JsonObject { ["title"] = "written" }, Ct);

        await response.AssertSuccessAsync(Ct);
        await WaitUntil.WaitUntilAsync(async () => (await app.Database.KeyTimeToLiveAsync(StateKey(name))) > TimeSpan.FromSeconds(7000),
            TimeSpan.FromSeconds(5), "the write refreshed the record's TTL");
        Assert.True((await app.Database.KeyTimeToLiveAsync(StateKey(name))) <= TimeSpan.FromSeconds(7200));
    }

    [Fact]
    public async Task ATemporaryRoomUnloadedByAnAdminIsGoneForJoinsAndGets()
    {
        var name = await app.CreateRoomAsync(ct: Ct);
        await using var member = await app.JoinAsync(name, ct: Ct);

        await UnloadAsync(name);

        Assert.Equal(4003, await member.CloseCodeAsync(Ct));
        Assert.False(await app.Database.KeyExistsAsync(StateKey(name)));
        await using var late = await app.ConnectAsync(name, ct: Ct);
        await late.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = await app.GrantAsync(Ct) }, Ct);
        Assert.Equal(4002, await late.CloseCodeAsync(Ct));
        using var client = app.ApiClient(await app.GrantAsync(Ct));
        using var response = await client.GetAsync($"/api/room/{name}", Ct);
        await response.AssertErrorAsync(HttpStatusCode.NotFound, "RoomNotFoundException", "Room not found", Ct);
    }

    [Fact]
    public async Task UnloadingARoomThatIsNotLoadedIsNotFound()
    {
        using var admin = app.AdminClient();

        using var response = await admin.DeleteAsync($"/api/room/{OttApplication.NewRoomName()}", Ct);

        await response.AssertErrorAsync(HttpStatusCode.NotFound, "RoomNotFoundException", "Room not found", Ct);
    }

    private string StateKey(string room) => $"{app.KeyPrefix}room:{{{room.ToLowerInvariant()}}}:state";

    private async Task UnloadAsync(string name)
    {
        using var admin = app.AdminClient();
        using var response = await admin.DeleteAsync($"/api/room/{name}", Ct);
        await response.AssertSuccessAsync(Ct);
        Assert.Null(app.Rooms.Loaded(name));
    }
}
