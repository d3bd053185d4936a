using System.Net;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// PATCH /api/room/:name with the settings shape (docs/protocol.md §4.3, §6.6 ApplySettings, §7).
public sealed class RoomSettingsRestTests(OttApplication app) : IClassFixture<OttApplication>, IDisposable
{
    private const string DefaultGrants = "[[0,113250303],[1,113250303],[2,113250303],[3,267390975],[4,536870911],[-1,536870911]]";

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    public static TheoryData<string> InvalidSettings() => new()
    {
        $$"""{"title":"{{new string('t', 256)}}"}""",
        $$"""{"title":"{{new string('t', 255)}}"}""",
        """{"title":"a\nb"}""",
        """{"title":"a\r\nb"}""",
        """{"autoSkipSegmentCategories":["invalid"]}""",
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public async Task PatchRejectsAnInvalidSettingWithAZodValidationErrorAndAppliesNothing(string body)
    {
        var (name, token) = await RoomAsync();
        using var client = app.ApiClient(token);

        using var response = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}", JsonNode.Parse(body), Ct);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "ZodValidationError", null, Ct);
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal("", room["title"].Str());
        Assert.Equal(7, room["autoSkipSegmentCategories"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("""{"title":"a\nb"}""", "Validation error: title must not contain newlines at \"title\"")]
    [InlineData("""{"foo":1}""", "Validation error: Unrecognized key(s) in object: 'foo'")]
    public async Task PatchReportsTheFirstAlternativeThatFailedOnlyOnChecks(string body, string message)
    {
        var (name, token) = await RoomAsync();
        using var client = app.ApiClient(token);

        using var response = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}", JsonNode.Parse(body), Ct);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest, "ZodValidationError", message, Ct);
        Assert.DoesNotContain(", or ", error["message"].Str(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheOttClientSettingsBodyWorksForARoleZeroCaller()
    {
        var (name, token) = await RoomAsync();
        using var client = app.ApiClient(token);
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(DefaultGrants), room["grants"]));

        // The client copies every key but name, isTemporary, users, queue, hasOwner and grants,
        // then adds the full six-role grants vector (docs/protocol.md §4.3, §5).
        var body = new JsonObject();
        foreach (var (key, value) in room)
        {
            if (key is not ("name" or "isTemporary" or "users" or "queue" or "hasOwner" or "grants"))
            {
                body[key] = value?.DeepClone();
            }
        }
        body["title"] = "from the settings tab";
        body["grants"] = room["grants"]!.DeepClone();
        using var unchanged = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}", body, Ct);
        await unchanged.AssertSuccessAsync(Ct);

        var after = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal("from the settings tab", after["title"].Str());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(DefaultGrants), after["grants"]));

        body["title"] = "admin masks altered";
        body["grants"] = JsonNode.Parse("[[0,113250303],[1,113250303],[2,113250303],[3,267390975],[4,1],[-1,0]]");
        using var altered = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}", body, Ct);
        await altered.AssertSuccessAsync(Ct);

        var last = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal("admin masks altered", last["title"].Str());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(DefaultGrants), last["grants"]));
    }

    [Theory]
    [InlineData("""["sponsor","sponsor"]""", """["sponsor"]""", 100)]
    [InlineData("""["intro","intro","outro"]""", """["intro","outro"]""", 1)]
    [InlineData("""["preview","music_offtopic","selfpromo","interaction","outro","intro","sponsor"]""",
        """["sponsor","intro","outro","interaction","selfpromo","music_offtopic","preview"]""", 1)]
    [InlineData("[]", "[]", 1)]
    public async Task PatchStoresCategoriesUniqueAndInCanonicalOrder(string sent, string stored, int repeat)
    {
        var (name, token) = await RoomAsync();
        using var client = app.ApiClient(token);
        var categories = new JsonArray();
        for (var i = 0; i < repeat; i++)
        {
            foreach (var c in JsonNode.Parse(sent)!.AsArray())
            {
                categories.Add(c!.DeepClone());
            }
        }

        using var response = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}",
            new JsonObject { ["autoSkipSegmentCategories"] = categories }, Ct);

        await response.AssertSuccessAsync(Ct);
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(stored), room["autoSkipSegmentCategories"]), room["autoSkipSegmentCategories"]!.ToJsonString());
    }

    [Fact]
    public async Task AnApiKeyCallerActsAsAdministratorAndAPatchWithoutGrantsLeavesCustomGrantsAlone()
    {
        var (name, token) = await RoomAsync();
        using var client = app.ApiClient(token);
        using var admin = app.AdminClient();

        // Role 0 may not change permissions; the apikey caller may (docs/protocol.md §7.2: role 4 holds all bits).
        using var denied = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}",
            new JsonObject { ["grants"] = JsonNode.Parse("[[0,1234]]") }, Ct);
        await denied.AssertErrorAsync(HttpStatusCode.BadRequest, "PermissionDeniedException",
            "Permission denied: configure-room.set-permissions.for-all-unregistered-users", Ct);
        const int withoutChat = 113250303 & ~128;
        using var custom = await admin.SendAsync(HttpMethod.Patch, $"/api/room/{name}",
            new JsonObject { ["grants"] = new JsonArray(new JsonArray(0, withoutChat)) }, Ct);
        await custom.AssertSuccessAsync(Ct);
        var grants = (await client.GetObjectAsync($"/api/room/{name}", Ct))["grants"]!.DeepClone();
        Assert.Equal(withoutChat, grants[0]![1]!.GetValue<int>());

        using var titled = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}",
            new JsonObject { ["title"] = "still custom", ["description"] = "d" }, Ct);

        await titled.AssertSuccessAsync(Ct);
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal("still custom", room["title"].Str());
        Assert.True(JsonNode.DeepEquals(grants, room["grants"]), room["grants"]!.ToJsonString());
    }

    [Fact]
    public async Task APatchOfASettingWithoutItsPermissionIsDeniedAndAppliesNothing()
    {
        var (name, token) = await RoomAsync();
        using var client = app.ApiClient(token);
        using var admin = app.AdminClient();
        const int withoutSetTitle = 113250303 & ~256;
        using var restricted = await admin.SendAsync(HttpMethod.Patch, $"/api/room/{name}",
            new JsonObject { ["grants"] = new JsonArray(new JsonArray(0, withoutSetTitle)) }, Ct);
        await restricted.AssertSuccessAsync(Ct);
        Assert.Equal(withoutSetTitle, (await client.GetObjectAsync($"/api/room/{name}", Ct))["grants"]![0]![1]!.GetValue<int>());

        using var response = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}",
            new JsonObject { ["description"] = "should not apply", ["title"] = "nor this", ["enableVoteSkip"] = true }, Ct);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "PermissionDeniedException",
            "Permission denied: configure-room.set-title", Ct);
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal("", room["title"].Str());
        Assert.Equal("", room["description"].Str());
        Assert.False(room["enableVoteSkip"]!.GetValue<bool>());
    }

    [Fact]
    public async Task APatchOfRestoreQueueBehaviorIsSynced()
    {
        var (name, token) = await RoomAsync();
        using var client = app.ApiClient(token);
        await using var socket = await app.JoinAsync(name, ct: Ct);

        using var response = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name}",
            new JsonObject { ["restoreQueueBehavior"] = 0 }, Ct);

        await response.AssertSuccessAsync(Ct);
        var sync = await socket.WaitForAsync(m => m.Action() == "sync" && m.ContainsKey("restoreQueueBehavior"), ct: Ct);
        Assert.Equal(0, sync["restoreQueueBehavior"]!.GetValue<int>());
    }

    [Fact]
    public async Task APatchNamingTheRoomInAnotherCaseChangesIt()
    {
        var (name, token) = await RoomAsync();
        using var client = app.ApiClient(token);

        using var response = await client.SendAsync(HttpMethod.Patch, $"/api/room/{name.ToUpperInvariant()}",
            new JsonObject { ["title"] = "upper" }, Ct);

        await response.AssertSuccessAsync(Ct);
        Assert.Equal("upper", (await client.GetObjectAsync($"/api/room/{name}", Ct))["title"].Str());
    }

    private async Task<(string Name, string Token)> RoomAsync()
    {
        var token = await app.GrantAsync(Ct);
        return (await app.CreateRoomAsync(token: token, ct: Ct), token);
    }
}
