using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

/// <summary>The app with OTT's test-only API on (docs/protocol.md §4.5).</summary>
public class TestingApiApplication : OttApplication
{
    public TestingApiApplication() => Settings["Testing:Endpoints"] = "true";
}

/// <summary>The test-only API with the limits on and a small points budget, so they can be exhausted.</summary>
public sealed class TestingLimitsApplication : TestingApiApplication
{
    public const int Points = 120;

    public TestingLimitsApplication()
    {
        Settings["RateLimit:Enabled"] = "true";
        Settings["RateLimit:Points"] = Points.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

internal static class TestingApi
{
    public static async Task<(HttpStatusCode Status, JsonObject Body)> DevAsync(this OttApplication app, string token, string path, JsonNode? body = null)
    {
        using var client = app.ApiClient(token);
        return await client.SendJsonAsync(HttpMethod.Post, "/api/dev/" + path, body ?? new JsonObject());
    }

    public static async Task DevOkAsync(this OttApplication app, string token, string path, JsonNode? body = null)
    {
        var (status, response) = await app.DevAsync(token, path, body);
        Assert.True(status == HttpStatusCode.OK, $"{path}: {(int)status} {response.ToJsonString()}");
        Assert.Equal("""{"success":true}""", response.ToJsonString());
    }

    public static Func<JsonObject, bool> UserUpdateOfAnother(string selfId) => m =>
        m.Action() == "user" && m["update"]?["kind"]?.GetValue<string>() == "update"
        && m["update"]!["value"]!["id"]!.GetValue<string>() != selfId;
}

/// <summary>Each test-only endpoint does the real thing through Ott's own components.</summary>
public sealed class TestingApiTests(TestingApiApplication app) : IClassFixture<TestingApiApplication>
{
    private static readonly JsonObject OkBody = new() { ["success"] = true };

    [Fact]
    public async Task EveryEndpointNeedsATokenLikeTheRestOfApi()
    {
        using var anonymous = app.ApiClient();
        var (status, body) = await anonymous.SendJsonAsync(HttpMethod.Post, "/api/dev/reset-rate-limit", new JsonObject());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("MissingToken", body["error"]!["name"]!.GetValue<string>());
    }

    // ----- set-admin-api-key -----

    [Fact]
    public async Task SetAdminApiKeyReplacesTheKeyTheApiAccepts()
    {
        var token = await app.GrantAsync();
        var key = "TESTAPIKEY-" + Guid.NewGuid().ToString("N");
        try
        {
            await app.DevOkAsync(token, "set-admin-api-key", new JsonObject { ["newkey"] = key });
            var room = await app.CreateRoomAsync(permanent: true);

            using var old = app.AdminClient();
            var (oldStatus, oldBody) = await old.SendJsonAsync(HttpMethod.Delete, $"/api/room/{room}");
            Assert.Equal(HttpStatusCode.BadRequest, oldStatus);
            Assert.Equal("apikey is invalid", oldBody["error"]!["message"]!.GetValue<string>());

            using var admin = app.ApiClient();
            admin.DefaultRequestHeaders.Add("apikey", key);
            var (status, body) = await admin.SendJsonAsync(HttpMethod.Delete, $"/api/room/{room}");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(JsonNode.DeepEquals(OkBody, body), body.ToJsonString());

            // No newkey: no key at all, as OTT's setting of an undefined key leaves it.
            await app.DevOkAsync(token, "set-admin-api-key");
            var (unsetStatus, unsetBody) = await admin.SendJsonAsync(HttpMethod.Delete, $"/api/room/{room}");
            Assert.Equal(HttpStatusCode.BadRequest, unsetStatus);
            Assert.Equal("apikey is not set", unsetBody["error"]!["message"]!.GetValue<string>());

            var (badStatus, badBody) = await app.DevAsync(token, "set-admin-api-key", new JsonObject { ["newkey"] = 12 });
            Assert.Equal(HttpStatusCode.BadRequest, badStatus);
            Assert.Equal("BadApiArgumentException", badBody["error"]!["name"]!.GetValue<string>());
        }
        finally
        {
            await app.DevOkAsync(token, "set-admin-api-key", new JsonObject { ["newkey"] = OttApplication.ApiKey });
        }
    }

    // ----- force-disconnect -----

    [Fact]
    public async Task ForceDisconnectClosesTheCallersConnectionWith1000()
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        await using var mine = await app.JoinAsync(room, token);
        await using var other = await app.JoinAsync(room);

        await app.DevOkAsync(token, $"room/{room}/force-disconnect");

        Assert.Equal(1000, await mine.CloseCodeAsync());
        // The room hears the normal disconnect; the other user stays.
        await other.WaitForAsync(m => m.Action() == "user" && m["update"]?["kind"]?.GetValue<string>() == "remove"
            && m["update"]!["value"]!.GetValue<string>() == mine.ClientId);
        Assert.False(other.Closed.IsCompleted);

        // Now the token has no connection there: OTT's ClientNotFoundInRoomException.
        var (status, body) = await app.DevAsync(token, $"room/{room}/force-disconnect");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("ClientNotFoundInRoomException", body["error"]!["name"]!.GetValue<string>());
        var (missingStatus, missing) = await app.DevAsync(token, $"room/{OttApplication.NewRoomName()}/force-disconnect");
        Assert.Equal(HttpStatusCode.BadRequest, missingStatus);
        Assert.Equal("ClientNotFoundInRoomException", missing["error"]!["name"]!.GetValue<string>());
    }

    // ----- add-fake-user -----

    [Fact]
    public async Task RegisteredFakeUserJoinsAndCanBePromotedDemotedAndKicked()
    {
        var owner = await app.RegisterAsync();
        var room = await app.CreateRoomAsync(permanent: true, token: owner.Token);
        await using var socket = await app.JoinAsync(room, owner.Token);

        await app.DevOkAsync(owner.Token, $"room/{room}/add-fake-user", new JsonObject { ["register"] = true });

        var joined = await socket.WaitForAsync(TestingApi.UserUpdateOfAnother(socket.ClientId));
        var fake = joined["update"]!["value"]!.AsObject();
        var fakeId = fake["id"]!.GetValue<string>();
        Assert.True(fake["isLoggedIn"]!.GetValue<bool>());
        Assert.Equal(1, fake["role"]!.GetValue<int>());
        await socket.SeenAsync(m => m.Action() == "event" && m["request"]?["type"]?.GetValue<int>() == 0
            && m["user"]?["id"]?.GetValue<string>() == fakeId);
        using (var client = app.ApiClient(owner.Token))
        {
            var state = await client.GetObjectAsync($"/api/room/{room}", default);
            Assert.Contains(state["users"]!.AsArray(), u => u!["id"]!.GetValue<string>() == fakeId);
        }

        // The owner promotes and demotes it like any user (§7.5).
        await socket.RequestAsync(new JsonObject { ["type"] = 9, ["targetClientId"] = fakeId, ["role"] = 3 });
        await socket.WaitForAsync(AccountsTestKit.UserUpdate(fakeId, role: 3));
        await socket.RequestAsync(new JsonObject { ["type"] = 9, ["targetClientId"] = fakeId, ["role"] = 1 });
        await socket.WaitForAsync(AccountsTestKit.UserUpdate(fakeId, role: 1));

        // A kick closes it like a socket: the Leave and the removal follow.
        await socket.RequestAsync(new JsonObject { ["type"] = 18, ["clientId"] = fakeId });
        await socket.WaitForAsync(m => m.Action() == "user" && m["update"]?["kind"]?.GetValue<string>() == "remove"
            && m["update"]!["value"]!.GetValue<string>() == fakeId);
    }

    [Fact]
    public async Task AnonymousFakeUserIsFakeUserAndCannotBePromoted()
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        await using var socket = await app.JoinAsync(room, token);

        await app.DevOkAsync(token, $"room/{room}/add-fake-user");

        var fake = (await socket.WaitForAsync(TestingApi.UserUpdateOfAnother(socket.ClientId)))["update"]!["value"]!.AsObject();
        Assert.Equal("fake_user", fake["name"]!.GetValue<string>());
        Assert.False(fake["isLoggedIn"]!.GetValue<bool>());
        Assert.Equal(2, app.Rooms.Loaded(room)!.State.Users.Count);

        await socket.RequestAsync(new JsonObject { ["type"] = 9, ["targetClientId"] = fake["id"]!.GetValue<string>(), ["role"] = 1 });
        Assert.Equal("ImpossiblePromotionException", (await socket.ErrorAsync())["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task FakeUserForAMissingRoomIsOttsRoomNotFoundWith200()
    {
        var token = await app.GrantAsync();
        var (status, body) = await app.DevAsync(token, $"room/{OttApplication.NewRoomName()}/add-fake-user");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"success":false,"error":{"name":"RoomNotFound","message":"Room not found"}}""", body.ToJsonString());
    }

    // ----- seed-prev-queue -----

    [Fact]
    public async Task SeededPrevQueueIsOfferedOnJoinAndRestores()
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(permanent: true, token: token);
        using (var admin = app.AdminClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Delete, $"/api/room/{room}")).Status);
        }

        await app.DevOkAsync(token, $"room/{room}/seed-prev-queue", new JsonObject { ["count"] = 4 });

        // Through the room's actor: persisted, and what a joiner's full sync offers.
        var stored = await app.StoredAsync(room);
        Assert.Equal(4, stored["prevQueue"]!.AsArray().Count);
        await using var socket = await app.JoinAsync(room, token);
        var sync = socket.Messages.First(m => m.Action() == "sync");
        var prev = sync["prevQueue"]!.AsArray();
        Assert.Equal(4, prev.Count);
        Assert.All(prev, item =>
        {
            Assert.Equal("direct", item!["service"]!.GetValue<string>());
            Assert.Equal(100, item["length"]!.GetValue<double>());
            Assert.Equal("video/mp4", item["mime"]!.GetValue<string>());
        });
        Assert.Equal(4, prev.Select(i => i!["id"]!.GetValue<string>()).Distinct().Count());

        // Restoring (what the client's restore dialog sends): one item plays, three are queued.
        await socket.RequestAsync(new JsonObject { ["type"] = 17 });
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(app.Rooms.Loaded(room)!.State is { CurrentSource: not null, Queue.Count: 3, PrevQueue: null }),
            OttTestClient.DefaultTimeout, "the previous queue was restored");
    }

    [Fact]
    public async Task SeedingALoadedRoomSyncsPrevQueueAndDefaultsToOneItem()
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        await using var socket = await app.JoinAsync(room, token);

        await app.DevOkAsync(token, $"room/{room}/seed-prev-queue");

        var delta = await socket.WaitForAsync(m => m.Action() == "sync" && m.ContainsKey("prevQueue"));
        Assert.Single(delta["prevQueue"]!.AsArray());
    }

    [Fact]
    public async Task SeedingAMissingRoomIsSuccessFalseAndABadCountIsRefused()
    {
        var token = await app.GrantAsync();
        var (status, body) = await app.DevAsync(token, $"room/{OttApplication.NewRoomName()}/seed-prev-queue", new JsonObject { ["count"] = 2 });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"success":false}""", body.ToJsonString());

        var room = await app.CreateRoomAsync(token: token);
        var (badStatus, bad) = await app.DevAsync(token, $"room/{room}/seed-prev-queue", new JsonObject { ["count"] = "many" });
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.Equal("count", bad["error"]!["arg"]!.GetValue<string>());
    }

    // ----- force-login -----

    [Fact]
    public async Task ForceLoginLogsTheCallersSessionInAndRefreshesItsConnections()
    {
        var account = await app.RegisterAsync();
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        await using var socket = await app.JoinAsync(room, token);

        await app.DevOkAsync(token, "user/force-login", new JsonObject { ["username"] = account.Username.ToUpperInvariant() });

        using var client = app.ApiClient(token);
        var user = await client.GetObjectAsync("/api/user", default);
        Assert.True(user["loggedIn"]!.GetValue<bool>());
        Assert.Equal(account.Username, user["username"]!.GetValue<string>());
        var update = await socket.WaitForAsync(AccountsTestKit.UserUpdate(socket.ClientId));
        Assert.True(update["update"]!["value"]!["isLoggedIn"]!.GetValue<bool>());
        Assert.Equal(account.Username, update["update"]!["value"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task ForceLoginOfAnUnknownUserIsOtts404()
    {
        var token = await app.GrantAsync();
        var (status, body) = await app.DevAsync(token, "user/force-login", new JsonObject { ["username"] = AccountsTestKit.NewUsername("nobody") });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("""{"success":false,"error":{"name":"UserNotFound","message":"User not found"}}""", body.ToJsonString());
    }

    // ----- create-social, set-discord-link and the account routes -----

    [Fact]
    public async Task SocialOnlyAccountAddsAPasswordThenLogsInWithItAndUnlinksDiscord()
    {
        var username = AccountsTestKit.NewUsername("social");
        var token = await app.GrantAsync();

        var (createdStatus, created) = await app.DevAsync(token, "user/create-social", new JsonObject { ["username"] = username });
        Assert.Equal(HttpStatusCode.OK, createdStatus);
        Assert.True(created["success"]!.GetValue<bool>());
        Assert.Equal(["id", "username"], created["user"]!.AsObject().Select(kv => kv.Key).Order());
        Assert.Equal(username, created["user"]!["username"]!.GetValue<string>());
        // Creating it logs nobody in.
        using var client = app.ApiClient(token);
        Assert.False((await client.GetObjectAsync("/api/user", default))["loggedIn"]!.GetValue<bool>());

        await app.DevOkAsync(token, "user/force-login", new JsonObject { ["username"] = username });
        Assert.True((await client.GetObjectAsync("/api/user", default))["discordLinked"]!.GetValue<bool>());
        var account = await client.GetObjectAsync("/api/user/account", default);
        Assert.True(account["discordLinked"]!.GetValue<bool>());
        Assert.False(account["hasPassword"]!.GetValue<bool>());
        Assert.Null(account["email"]);

        // No password yet: unlinking is refused, and no password logs in.
        var (unlinkStatus, unlink) = await client.SendJsonAsync(HttpMethod.Delete, "/api/user/account/discord");
        Assert.Equal(HttpStatusCode.BadRequest, unlinkStatus);
        Assert.Equal("""{"success":false,"error":{"name":"PasswordRequired","message":"Add a password before unlinking Discord."}}""", unlink.ToJsonString());
        using (var other = app.ApiClient(await app.GrantAsync()))
        {
            var (loginStatus, _) = await other.SendJsonAsync(HttpMethod.Post, "/api/user/login",
                new JsonObject { ["user"] = username, ["password"] = AccountsTestKit.Password });
            Assert.Equal(HttpStatusCode.Unauthorized, loginStatus);
        }

        // The first password needs no current one (OTT's rule for a social-only account).
        var (patchStatus, patch) = await client.SendJsonAsync(HttpMethod.Patch, "/api/user/account",
            new JsonObject { ["email"] = username + "@example.test", ["newPassword"] = AccountsTestKit.Password });
        Assert.True(patchStatus == HttpStatusCode.OK, patch.ToJsonString());
        account = await client.GetObjectAsync("/api/user/account", default);
        Assert.True(account["hasPassword"]!.GetValue<bool>());
        Assert.True(account["discordLinked"]!.GetValue<bool>());
        using (var other = app.ApiClient(await app.GrantAsync()))
        {
            var (loginStatus, login) = await other.SendJsonAsync(HttpMethod.Post, "/api/user/login",
                new JsonObject { ["user"] = username, ["password"] = AccountsTestKit.Password });
            Assert.True(loginStatus == HttpStatusCode.OK, login.ToJsonString());
        }
        // From now on the current password is needed, as for any password account.
        var (againStatus, again) = await client.SendJsonAsync(HttpMethod.Patch, "/api/user/account",
            new JsonObject { ["newPassword"] = "Another-pass9" });
        Assert.Equal(HttpStatusCode.BadRequest, againStatus);
        Assert.Equal("CurrentPasswordRequired", again["error"]!["name"]!.GetValue<string>());

        var (unlinkedStatus, unlinked) = await client.SendJsonAsync(HttpMethod.Delete, "/api/user/account/discord");
        Assert.True(unlinkedStatus == HttpStatusCode.OK, unlinked.ToJsonString());
        Assert.False((await client.GetObjectAsync("/api/user/account", default))["discordLinked"]!.GetValue<bool>());
        Assert.False((await client.GetObjectAsync("/api/user", default))["discordLinked"]!.GetValue<bool>());
    }

    [Fact]
    public async Task CreateSocialRefusesATakenUsernameOrDiscordId()
    {
        var token = await app.GrantAsync();
        var discordId = "d" + Guid.NewGuid().ToString("N")[..16];
        var username = AccountsTestKit.NewUsername("social");
        await app.DevAsync(token, "user/create-social", new JsonObject { ["username"] = username, ["discordId"] = discordId });

        var (nameStatus, name) = await app.DevAsync(token, "user/create-social", new JsonObject { ["username"] = username.ToUpperInvariant() });
        Assert.Equal(HttpStatusCode.BadRequest, nameStatus);
        Assert.Equal("""["username"]""", name["error"]!["fields"]!.ToJsonString());

        var (idStatus, id) = await app.DevAsync(token, "user/create-social",
            new JsonObject { ["username"] = AccountsTestKit.NewUsername("social"), ["discordId"] = discordId });
        Assert.Equal(HttpStatusCode.BadRequest, idStatus);
        Assert.Equal("AlreadyInUse", id["error"]!["name"]!.GetValue<string>());
        Assert.Equal("""["discordId"]""", id["error"]!["fields"]!.ToJsonString());

        var (missingStatus, missing) = await app.DevAsync(token, "user/create-social");
        Assert.Equal(HttpStatusCode.BadRequest, missingStatus);
        Assert.Equal("ValidationError", missing["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task SetDiscordLinkLinksAPasswordAccountWhichCanThenUnlink()
    {
        var account = await app.RegisterAsync();
        using var client = app.ApiClient(account.Token);
        Assert.False((await client.GetObjectAsync("/api/user/account", default))["discordLinked"]!.GetValue<bool>());

        await app.DevOkAsync(account.Token, "user/set-discord-link", new JsonObject { ["username"] = account.Username });

        var linked = await client.GetObjectAsync("/api/user/account", default);
        Assert.True(linked["discordLinked"]!.GetValue<bool>());
        Assert.True(linked["hasPassword"]!.GetValue<bool>());
        var (status, body) = await client.SendJsonAsync(HttpMethod.Delete, "/api/user/account/discord");
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        Assert.Equal("""{"success":true}""", body.ToJsonString());
        Assert.False((await client.GetObjectAsync("/api/user/account", default))["discordLinked"]!.GetValue<bool>());
        var (againStatus, again) = await client.SendJsonAsync(HttpMethod.Delete, "/api/user/account/discord");
        Assert.Equal(HttpStatusCode.BadRequest, againStatus);
        Assert.Equal("DiscordNotLinked", again["error"]!["name"]!.GetValue<string>());

        // A numeric Discord id is its digits: the same Discord user as the string.
        var numeric = Random.Shared.NextInt64(1_000_000_000, 9_000_000_000);
        await app.DevOkAsync(account.Token, "user/set-discord-link", new JsonObject { ["username"] = account.Username, ["discordId"] = numeric });
        var (takenStatus, taken) = await app.DevAsync(account.Token, "user/create-social",
            new JsonObject { ["username"] = AccountsTestKit.NewUsername("social"), ["discordId"] = numeric.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Assert.Equal(HttpStatusCode.BadRequest, takenStatus);
        Assert.Equal("""["discordId"]""", taken["error"]!["fields"]!.ToJsonString());

        var (missingStatus, missing) = await app.DevAsync(account.Token, "user/set-discord-link",
            new JsonObject { ["username"] = AccountsTestKit.NewUsername("nobody") });
        Assert.Equal(HttpStatusCode.NotFound, missingStatus);
        Assert.Equal("UserNotFound", missing["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task UnknownPathsUnderDevAreOtts404()
    {
        var token = await app.GrantAsync();
        var (status, body) = await app.DevAsync(token, "no-such-thing");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("""{"success":false,"error":{"name":"NotFound","message":"Not found"}}""", body.ToJsonString());
    }
}

/// <summary>The two rate-limit resets against the real limiters.</summary>
public sealed class TestingApiLimitTests(TestingLimitsApplication app) : IClassFixture<TestingLimitsApplication>
{
    [Fact]
    public async Task ResetRateLimitLetsTheCallersIpSpendAgain()
    {
        var token = await app.GrantAsync();
        await app.DevOkAsync(token, "reset-rate-limit");
        using var client = app.ApiClient(token);
        async Task<HttpStatusCode> GenerateAsync() =>
            (await client.SendJsonAsync(HttpMethod.Post, "/api/room/generate", new JsonObject())).Status;

        // 50 points each out of 120: the third is refused, and the IP is blocked.
        Assert.Equal(HttpStatusCode.Created, await GenerateAsync());
        Assert.Equal(HttpStatusCode.Created, await GenerateAsync());
        Assert.Equal(HttpStatusCode.TooManyRequests, await GenerateAsync());
        Assert.Equal(HttpStatusCode.TooManyRequests, await GenerateAsync());

        await app.DevOkAsync(token, "reset-rate-limit");

        Assert.Equal(HttpStatusCode.Created, await GenerateAsync());
        // The new-session count went with it.
        Assert.False(await app.Database.KeyExistsAsync(app.KeyPrefix + "ratelimit:{unknown}:grants"));
    }

    [Fact]
    public async Task ResetUserRateLimitEndsLoginLockouts()
    {
        await app.DevOkAsync(await app.GrantAsync(), "reset-rate-limit");
        var account = await app.RegisterAsync();
        async Task<HttpStatusCode> LoginAsync(string password)
        {
            using var client = app.ApiClient(await app.GrantAsync());
            return (await client.SendJsonAsync(HttpMethod.Post, "/api/user/login",
                new JsonObject { ["user"] = account.Username, ["password"] = password })).Status;
        }
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await LoginAsync("Wrong-pass" + i));
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, await LoginAsync(account.Password));

        await app.DevOkAsync(account.Token, "reset-rate-limit/user");

        Assert.Equal(HttpStatusCode.OK, await LoginAsync(account.Password));
    }
}

/// <summary>With the switch off (the default) every test-only path is a 404 in OTT's error shape.</summary>
public sealed class TestingApiOffTests(OttApplication app) : IClassFixture<OttApplication>
{
    public static TheoryData<string> Paths() =>
    [
        "reset-rate-limit", "reset-rate-limit/user", "set-admin-api-key", "room/somewhere/force-disconnect",
        "room/somewhere/add-fake-user", "room/somewhere/seed-prev-queue", "user/force-login", "user/create-social",
        "user/set-discord-link",
    ];

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task EachPathIsOtts404(string path)
    {
        var token = await app.GrantAsync();
        var (status, body) = await app.DevAsync(token, path, new JsonObject { ["username"] = "x", ["newkey"] = "y" });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("""{"success":false,"error":{"name":"NotFound","message":"Not found"}}""", body.ToJsonString());

        // Whoever asks, however.
        using var anonymous = app.ApiClient();
        using var response = await anonymous.GetAsync("/api/dev/" + path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task TheAdminKeyIsUntouched()
    {
        var token = await app.GrantAsync();
        await app.DevAsync(token, "set-admin-api-key", new JsonObject { ["newkey"] = "other" });
        using var admin = app.AdminClient();
        var (status, _) = await admin.SendJsonAsync(HttpMethod.Post, "/api/announce", new JsonObject { ["text"] = "still mine" });
        Assert.Equal(HttpStatusCode.OK, status);
    }
}

/// <summary>Start-up refuses the test-only API in Production (docs/protocol.md §4.5).</summary>
public sealed class TestingApiProductionGuardTests
{
    private sealed class ProductionApplication(bool endpoints) : OttApplication
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseEnvironment("Production");
            builder.UseSetting("Testing:Endpoints", endpoints ? "true" : "false");
        }
    }

    [Fact]
    public async Task TheSwitchOnInProductionStopsStartUpWithAClearMessage()
    {
        IAsyncLifetime app = new ProductionApplication(endpoints: true);
        try
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(app.InitializeAsync);
            var messages = string.Join(" | ", Chain(e).Select(x => x.Message));
            Assert.Contains(Chain(e), x => x is OptionsValidationException);
            Assert.Contains("Testing:Endpoints is on in the Production environment", messages, StringComparison.Ordinal);
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task ProductionWithTheSwitchOffStartsAndHasNoTestingApi()
    {
        var app = new ProductionApplication(endpoints: false);
        try
        {
            await app.InitializeAsync();
            var token = await app.GrantAsync();
            var (status, _) = await app.DevAsync(token, "reset-rate-limit");
            Assert.Equal(HttpStatusCode.NotFound, status);
        }
        finally
        {
            await ((IAsyncLifetime)app).DisposeAsync();
        }
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            yield return x;
            if (x is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Chain))
                {
                    yield return inner;
                }
            }
        }
    }
}
