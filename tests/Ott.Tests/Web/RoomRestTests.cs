using System.Net;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// docs/protocol.md §4.3 GET, create, generate, list and the room-level REST errors (§11 "REST rooms").
public sealed class RoomRestTests(OttApplication app) : IClassFixture<OttApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    // --- GET ---

    [Theory]
    [InlineData("public")]
    [InlineData("unlisted")]
    public async Task GetOfATemporaryRoomShowsItsNameEmptyTitleAndDescriptionManualModeAndVisibility(string visibility)
    {
        var name = OttApplication.NewRoomName();
        using var client = app.ApiClient(await app.GrantAsync(Ct));

        using var created = await client.SendAsync(HttpMethod.Post, "/api/room/create",
            new JsonObject { ["name"] = name, ["isTemporary"] = true, ["visibility"] = visibility }, Ct);
        await created.AssertSuccessAsync(Ct, HttpStatusCode.Created);

        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal(name, room["name"].Str());
        Assert.Equal("", room["title"].Str());
        Assert.Equal("", room["description"].Str());
        Assert.True(room["isTemporary"]!.GetValue<bool>());
        Assert.Equal(visibility, room["visibility"].Str());
        Assert.Equal("manual", room["queueMode"].Str());
    }

    [Fact]
    public async Task GetOfAMissingRoomIsNotFoundWithExactlyTheRoomNotFoundError()
    {
        using var client = app.ApiClient(await app.GrantAsync(Ct));

        using var response = await client.GetAsync($"/api/room/{OttApplication.NewRoomName()}", Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var expected = new JsonObject
        {
            ["success"] = false,
            ["error"] = new JsonObject { ["name"] = "RoomNotFoundException", ["message"] = "Room not found" },
        };
        Assert.True(JsonNode.DeepEquals(expected, await response.JsonAsync(Ct)));
    }

    [Fact]
    public async Task GetHasExactlyItsThirteenDocumentedKeys()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(token: token, ct: Ct);
        await using var socket = await app.JoinAsync(name, token, Ct);
        using var client = app.ApiClient(token);

        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);

        Assert.Equal(
            ["autoSkipSegmentCategories", "description", "enableVoteSkip", "grants", "hasOwner", "isTemporary", "name",
             "queue", "queueMode", "restoreQueueBehavior", "title", "users", "visibility"],
            room.Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList());
        var user = Assert.Single(room["users"]!.AsArray())!.AsObject();
        Assert.Equal(["id", "isLoggedIn", "name", "role", "status"], user.Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList());
        Assert.Equal(socket.ClientId, user["id"].Str());
        Assert.Equal(0, user["role"]!.GetValue<int>());
        Assert.False(room["hasOwner"]!.GetValue<bool>());
    }

    // --- create ---

    [Fact]
    public async Task CreateWithoutVisibilityIsUnlistedAndWithoutIsTemporaryIsTemporary()
    {
        var name = OttApplication.NewRoomName();
        using var client = app.ApiClient(await app.GrantAsync(Ct));

        using var created = await client.SendAsync(HttpMethod.Post, "/api/room/create", new JsonObject { ["name"] = name }, Ct);
        await created.AssertSuccessAsync(Ct, HttpStatusCode.Created);

        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal("unlisted", room["visibility"].Str());
        Assert.True(room["isTemporary"]!.GetValue<bool>());
        Assert.NotNull(await app.Store.StateTtlAsync(name.ToLowerInvariant(), Ct));
    }

    public static TheoryData<string, string, string> InvalidCreateBodies() => new()
    {
        { """{}""", "Required", "name" },
        { """{"name":"list"}""", "not allowed (reserved)", "name" },
        { """{"name":"LIST"}""", "not allowed (reserved)", "name" },
        { """{"name":"Create"}""", "not allowed (reserved)", "name" },
        { """{"name":"generaTE"}""", "not allowed (reserved)", "name" },
        { """{"name":"foo<bar"}""", "Invalid", "name" },
        { """{"name":"foo[bar"}""", "Invalid", "name" },
        { """{"name":"foo]bar"}""", "Invalid", "name" },
        { """{"name":"foo!bar"}""", "Invalid", "name" },
        { """{"name":"ab"}""", "too short, must be atleast 3 characters", "name" },
        { $$"""{"name":"{{new string('a', 68)}}"}""", "too long, must be at most 32 characters", "name" },
        { $$"""{"name":"okname","title":"{{new string('t', 256)}}"}""", "String must contain at most 255 character(s)", "title" },
        { """{"name":"okname","title":"a\nb"}""", "title must not contain newlines", "title" },
        { """{"name":"okname","title":"a\r\nb"}""", "title must not contain newlines", "title" },
        { """{"name":"okname","visibility":"invalid"}""",
            "Invalid enum value. Expected 'public' | 'unlisted' | 'private', received 'invalid'", "visibility" },
    };

    [Theory]
    [MemberData(nameof(InvalidCreateBodies))]
    public async Task CreateRejectsAnInvalidBodyWithAZodValidationError(string body, string issue, string path)
    {
        using var client = app.ApiClient(await app.GrantAsync(Ct));

        using var response = await client.SendAsync(HttpMethod.Post, "/api/room/create", JsonNode.Parse(body), Ct);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest, "ZodValidationError",
            $"Validation error: {issue} at \"{path}\"", Ct);
        var details = error["details"]!.AsArray();
        Assert.Contains(details, d => d!["message"].Str() == issue
            && d["path"]!.AsArray().Select(p => p!.ToString()).SequenceEqual([path]) && d["code"] is not null);
        Assert.False(await app.Database.KeyExistsAsync($"{app.KeyPrefix}room:{{okname}}:state"));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("A-Za_z0-9")]
    public async Task CreateAcceptsNamesAndTitlesAtTheirLimitsAndStoresCategoriesCanonically(string stem)
    {
        // Each class has its own key prefix, so even a 3-character name is fresh here.
        var name = stem.Length == 3 ? stem : stem + Guid.NewGuid().ToString("N")[..23];
        Assert.InRange(name.Length, 3, 32);
        using var client = app.ApiClient(await app.GrantAsync(Ct));
        var title = new string('t', 255);

        using var response = await client.SendAsync(HttpMethod.Post, "/api/room/create",
            new JsonObject { ["name"] = name, ["title"] = title, ["autoSkipSegmentCategories"] = JsonNode.Parse("""["intro","sponsor","intro"]""") }, Ct);

        await response.AssertSuccessAsync(Ct, HttpStatusCode.Created);
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal(title, room["title"].Str());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""["sponsor","intro"]"""), room["autoSkipSegmentCategories"]));
    }

    [Fact]
    public async Task CreateWithA33CharacterNameIsTooLong()
    {
        using var client = app.ApiClient(await app.GrantAsync(Ct));

        using var response = await client.SendAsync(HttpMethod.Post, "/api/room/create",
            new JsonObject { ["name"] = OttApplication.NewRoomName() + new string('x', 12) }, Ct);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "ZodValidationError",
            "Validation error: too long, must be at most 32 characters at \"name\"", Ct);
    }

    [Fact]
    public async Task CreateWithoutATokenIsMissingToken()
    {
        using var client = app.ApiClient();

        using var response = await client.SendAsync(HttpMethod.Post, "/api/room/create",
            new JsonObject { ["name"] = OttApplication.NewRoomName() }, Ct);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "MissingToken",
            "Missing auth token. Get a token from /api/auth/grant first.", Ct);
    }

    [Fact]
    public async Task CreateOfANameTakenInAnotherCaseIsRoomNameTaken()
    {
        var name = await app.CreateRoomAsync(ct: Ct);
        using var client = app.ApiClient(await app.GrantAsync(Ct));
        var upper = name.ToUpperInvariant();

        using var response = await client.SendAsync(HttpMethod.Post, "/api/room/create",
            new JsonObject { ["name"] = upper, ["isTemporary"] = false }, Ct);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "RoomNameTakenException", $"The room \"{upper}\" is taken.", Ct);
        Assert.Equal(name, (await client.GetObjectAsync($"/api/room/{upper}", Ct))["name"].Str());
    }

    [Fact]
    public async Task AnAnonymousCreateStoresNoOwner()
    {
        var name = await app.CreateRoomAsync(permanent: true, ct: Ct);

        var stored = JsonNode.Parse((await app.Store.ReadStateAsync(name.ToLowerInvariant(), Ct))!)!.AsObject();

        Assert.True(stored.ContainsKey("owner"), stored.ToJsonString());
        Assert.Null(stored["owner"]);
        using var client = app.ApiClient(await app.GrantAsync(Ct));
        Assert.False((await client.GetObjectAsync($"/api/room/{name}", Ct))["hasOwner"]!.GetValue<bool>());
    }

    // --- generate ---

    [Fact]
    public async Task GenerateCreatesATemporaryUnlistedRoomNamedByALowerCaseUuidV4()
    {
        using var client = app.ApiClient(await app.GrantAsync(Ct));

        using var response = await client.PostAsync("/api/room/generate", null, Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = (await response.JsonAsync(Ct)).AsObject();
        Assert.Equal(2, body.Count);
        Assert.True(body["success"]!.GetValue<bool>());
        var name = body["room"].Str();
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", name);
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.Equal(name, room["name"].Str());
        Assert.True(room["isTemporary"]!.GetValue<bool>());
        Assert.Equal("unlisted", room["visibility"].Str());
    }

    [Fact]
    public async Task GenerateStoresCategoriesCanonicallyAndRejectsAnInvalidOne()
    {
        using var client = app.ApiClient(await app.GrantAsync(Ct));

        using var response = await client.SendAsync(HttpMethod.Post, "/api/room/generate",
            new JsonObject { ["autoSkipSegmentCategories"] = JsonNode.Parse("""["outro","sponsor","outro"]""") }, Ct);
        using var invalid = await client.SendAsync(HttpMethod.Post, "/api/room/generate",
            new JsonObject { ["autoSkipSegmentCategories"] = JsonNode.Parse("""["invalid"]""") }, Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var name = (await response.JsonAsync(Ct))["room"].Str();
        var room = await client.GetObjectAsync($"/api/room/{name}", Ct);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""["sponsor","outro"]"""), room["autoSkipSegmentCategories"]));
        await invalid.AssertErrorAsync(HttpStatusCode.BadRequest, "ZodValidationError", null, Ct);
    }

    // --- list ---

    [Fact]
    public async Task ListHoldsPublicRoomsOnlyButEveryRoomWithTheApiKey()
    {
        var pub = await app.CreateRoomAsync(extra: new JsonObject { ["visibility"] = "public", ["title"] = "T", ["description"] = "D" }, ct: Ct);
        var unlisted = await app.CreateRoomAsync(extra: new JsonObject { ["visibility"] = "unlisted" }, ct: Ct);
        var priv = await app.CreateRoomAsync(permanent: true, extra: new JsonObject { ["visibility"] = "private" }, ct: Ct);
        using var client = app.ApiClient(await app.GrantAsync(Ct));
        using var admin = app.AdminClient();

        var list = await ListAsync(client);
        var all = await ListAsync(admin);

        var names = list.Select(r => r["name"].Str()).ToList();
        Assert.Contains(pub, names);
        Assert.DoesNotContain(unlisted, names);
        Assert.DoesNotContain(priv, names);
        Assert.All(list, r => Assert.Equal("public", r["visibility"].Str()));
        var allNames = all.Select(r => r["name"].Str()).ToList();
        Assert.Contains(pub, allNames);
        Assert.Contains(unlisted, allNames);
        Assert.Contains(priv, allNames);

        var item = list.Single(r => r["name"].Str() == pub);
        var expected = new JsonObject
        {
            ["name"] = pub,
            ["title"] = "T",
            ["description"] = "D",
            ["isTemporary"] = true,
            ["visibility"] = "public",
            ["queueMode"] = "manual",
            ["currentSource"] = null,
            ["users"] = 0,
        };
        Assert.True(JsonNode.DeepEquals(expected, item), item.ToJsonString());
        Assert.False(all.Single(r => r["name"].Str() == priv)["isTemporary"]!.GetValue<bool>());
    }

    [Fact]
    public async Task ListIsSortedByUsersDescendingThenByName()
    {
        var prefix = OttApplication.NewRoomName();
        var json = new JsonObject { ["visibility"] = "public" };
        var none = await app.CreateRoomAsync(prefix + "a", extra: json, ct: Ct);
        var two = await app.CreateRoomAsync(prefix + "d", extra: json, ct: Ct);
        var oneB = await app.CreateRoomAsync(prefix + "c", extra: json, ct: Ct);
        var oneA = await app.CreateRoomAsync(prefix + "b", extra: json, ct: Ct);
        await using var s1 = await app.JoinAsync(two, ct: Ct);
        await using var s2 = await app.JoinAsync(two, ct: Ct);
        await using var s3 = await app.JoinAsync(oneB, ct: Ct);
        await using var s4 = await app.JoinAsync(oneA, ct: Ct);
        using var client = app.ApiClient(await app.GrantAsync(Ct));
        var expected = new (string Name, int Users)[] { (two, 2), (oneA, 1), (oneB, 1), (none, 0) };

        List<JsonObject> mine = [];
        await WaitUntil.WaitUntilAsync(async () =>
        {
            var list = await ListAsync(client);
            mine = [.. list.Where(r => r["name"].Str().StartsWith(prefix, StringComparison.Ordinal))];
            return mine.Select(r => (r["name"].Str(), r["users"]!.GetValue<int>())).SequenceEqual(expected);
        }, TimeSpan.FromSeconds(5), "the list shows the rooms ordered by their socket counts: " + string.Join(", ", mine.Select(r => r.ToJsonString())));

        var whole = await ListAsync(client);
        var keys = whole.Select(r => (Users: r["users"]!.GetValue<int>(), Name: r["name"].Str())).ToList();
        Assert.Equal(keys.OrderByDescending(k => k.Users).ThenBy(k => k.Name, StringComparer.Ordinal), keys);
    }

    // --- delete, misc ---

    [Fact]
    public async Task DeleteWithoutTheApiKeyIsUnauthorized()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(token: token, ct: Ct);
        using var client = app.ApiClient(token);

        using var response = await client.DeleteAsync($"/api/room/{name}", Ct);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "Unauthorized", "Admin apikey is required to unload a room.", Ct);
        Assert.NotNull(app.Rooms.Loaded(name));
    }

    [Fact]
    public async Task StatusIsOkWithoutAuthentication()
    {
        using var client = app.ApiClient();

        using var response = await client.GetAsync("/api/status", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(JsonNode.DeepEquals(new JsonObject { ["status"] = "ok" }, await response.JsonAsync(Ct)));

        // /api/status is outside §3.2, so even a wrong apikey is not checked there.
        client.DefaultRequestHeaders.Add("apikey", "wrong");
        using var withWrongKey = await client.GetAsync("/api/status", Ct);
        Assert.Equal(HttpStatusCode.OK, withWrongKey.StatusCode);
    }

    private async Task<List<JsonObject>> ListAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/api/room/list", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. (await response.JsonAsync(Ct)).AsArray().Select(n => n!.AsObject())];
    }
}
