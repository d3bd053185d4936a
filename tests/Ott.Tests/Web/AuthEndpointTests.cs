using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Ott.Sync.Auth;
using Ott.Tests.Infrastructure.Web;
using StackExchange.Redis;

namespace Ott.Tests.Web;

public sealed class AuthEndpointTests(AuthApplication app) : IClassFixture<AuthApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));
    private readonly HttpClient _client = app.CreateApiClient();

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _client.Dispose();
        _timeout.Dispose();
    }

    // --- grant ---

    [Fact]
    public async Task GrantWithoutTokenMintsARandomTokenOfAtLeast32Bytes()
    {
        using var response = await _client.GetAsync("/api/auth/grant", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ReadJsonAsync(response);
        var token = body["token"]!.GetValue<string>();
        Assert.True(Base64Url.DecodeFromChars(token).Length >= 32);
        Assert.Null(body["success"]);
        Assert.NotNull(await app.Sessions.GetAsync(token, Ct));
        Assert.NotEqual(token, await GrantAsync());
    }

    [Fact]
    public async Task GrantSetsAnHttpOnlyLaxSecureSessionCookieAndIsNeverCached()
    {
        using var response = await _client.GetAsync("/api/auth/grant", Ct);
        var token = (await ReadJsonAsync(response))["token"]!.GetValue<string>();

        var cookie = Assert.Single(SetCookieHeaderValue.ParseList(response.Headers.GetValues("Set-Cookie").ToList()));
        Assert.Equal("token", cookie.Name.ToString());
        Assert.Equal(token, cookie.Value.ToString());
        Assert.True(cookie.HttpOnly);
        Assert.True(cookie.Secure);
        Assert.Equal(Microsoft.Net.Http.Headers.SameSiteMode.Lax, cookie.SameSite);
        Assert.Null(cookie.Expires);
        Assert.Null(cookie.MaxAge);
        Assert.True(response.Headers.CacheControl?.NoStore);
    }

    [Fact]
    public async Task GrantCookieIsNotSecureWhenInsecureCookiesAreConfigured()
    {
        using var insecure = app.WithWebHostBuilder(b => b.UseSetting("Http:InsecureCookies", "true"));
        using var client = insecure.CreateClient();

        using var response = await client.GetAsync("/api/auth/grant", Ct);

        var cookie = Assert.Single(SetCookieHeaderValue.ParseList(response.Headers.GetValues("Set-Cookie").ToList()));
        Assert.False(cookie.Secure);
        Assert.True(cookie.HttpOnly);
    }

    [Fact]
    public async Task GrantWithALiveBearerTokenReturnsTheSameToken()
    {
        var token = await GrantAsync();

        using var response = await SendAsync(HttpMethod.Get, "/api/auth/grant", bearer: token);

        Assert.Equal(token, (await ReadJsonAsync(response))["token"]!.GetValue<string>());
        Assert.Contains(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith($"token={token};", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GrantWithAnUnknownBearerTokenMintsANewOne()
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/auth/grant", bearer: "not-a-session");

        var token = (await ReadJsonAsync(response))["token"]!.GetValue<string>();
        Assert.NotEqual("not-a-session", token);
        Assert.NotNull(await app.Sessions.GetAsync(token, Ct));
    }

    [Fact]
    public async Task OnlyTheTokenHashIsStored()
    {
        var token = await GrantAsync();

        var stored = await app.Redis.StringGetAsync(app.SessionRedisKey(token));

        Assert.True(stored.HasValue);
        Assert.False(await app.Redis.KeyExistsAsync(app.KeyPrefix + "auth:" + token));
        var session = JsonNode.Parse(stored.ToString())!.AsObject();
        Assert.False(session["isLoggedIn"]!.GetValue<bool>());
        Assert.NotNull(session["username"]);
    }

    // --- /api authentication ---

    [Fact]
    public async Task ApiWithoutATokenIsRejectedWithMissingToken()
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/user");

        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "MissingToken",
            "Missing auth token. Get a token from /api/auth/grant first.");
    }

    [Fact]
    public async Task ApiWithAnUnknownTokenIsUnauthorized()
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/user", bearer: "no-such-token");

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "MissingToken",
            "Missing valid auth token. Get a token from /api/auth/grant first.");
    }

    [Fact]
    public async Task TheTokenCookieAuthenticatesWithoutABearerHeader()
    {
        var token = await GrantAsync();
        var name = await UsernameOfAsync(token);

        using var response = await SendAsync(HttpMethod.Get, "/api/user", cookie: token);

        Assert.Equal(name, (await ReadJsonAsync(response))["username"]!.GetValue<string>());
    }

    [Fact]
    public async Task BearerHeaderWinsOverTheTokenCookie()
    {
        var bearer = await GrantAsync();
        var cookie = await GrantAsync();

        using var response = await SendAsync(HttpMethod.Get, "/api/user", bearer: bearer, cookie: cookie);
        using var unknownBearer = await SendAsync(HttpMethod.Get, "/api/user", bearer: "unknown", cookie: cookie);

        Assert.Equal(await UsernameOfAsync(bearer), (await ReadJsonAsync(response))["username"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Unauthorized, unknownBearer.StatusCode);
    }

    [Fact]
    public async Task AWrongApiKeyIsRejectedEvenWithAValidToken()
    {
        var token = await GrantAsync();

        using var response = await SendAsync(HttpMethod.Get, "/api/user", bearer: token, apiKey: "wrong");

        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "Error", "apikey is invalid");
    }

    [Fact]
    public async Task AnyApiKeyIsRejectedAsNotSetWhenNoKeyIsConfigured()
    {
        using var noKey = app.WithWebHostBuilder(b => b.UseSetting("Api:Key", ""));
        using var client = noKey.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/user");
        request.Headers.Add("apikey", "anything");

        using var response = await client.SendAsync(request, Ct);

        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "Error", "apikey is not set");
    }

    [Fact]
    public async Task TheConfiguredApiKeyPassesAuthenticationWithoutAToken()
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/user", apiKey: AuthApplication.ApiKey);

        // An admin caller passes §3.2 but has no session, so /api/user has no user to show.
        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "MissingToken",
            "Missing auth token. Get a token from /api/auth/grant first.");
    }

    // --- GET /api/user ---

    [Fact]
    public async Task AnonymousUserIsDescribedByTheSessionName()
    {
        var token = await GrantAsync();

        using var response = await SendAsync(HttpMethod.Get, "/api/user", bearer: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.Equal(2, body.Count);
        Assert.False(body["loggedIn"]!.GetValue<bool>());
        Assert.Matches("^[a-z]+_[a-z]+_[a-z]+$", body["username"]!.GetValue<string>());
    }

    [Fact]
    public async Task LoggedInUserIsDescribedByTheAccountName()
    {
        var token = await GrantAsync();
        app.Accounts.Usernames[4242] = "alice";
        await app.Sessions.SaveAsync(token, Session.LoggedIn(4242), Ct);

        using var response = await SendAsync(HttpMethod.Get, "/api/user", bearer: token);

        var body = await ReadJsonAsync(response);
        Assert.Equal("alice", body["username"]!.GetValue<string>());
        Assert.True(body["loggedIn"]!.GetValue<bool>());
        Assert.False(body["discordLinked"]!.GetValue<bool>());
    }

    [Fact]
    public async Task ASessionWhoseAccountIsGoneContinuesAsAFreshAnonymousSession()
    {
        var token = await GrantAsync();
        await app.Sessions.SaveAsync(token, Session.LoggedIn(99_999_999), Ct);

        using var response = await SendAsync(HttpMethod.Get, "/api/user", bearer: token);

        var body = await ReadJsonAsync(response);
        Assert.False(body["loggedIn"]!.GetValue<bool>());
        var stored = await app.Sessions.GetAsync(token, Ct);
        Assert.Equal(Session.Anonymous(body["username"]!.GetValue<string>()), stored);
        Assert.Contains(SessionStore.KeyOf(token), app.SessionChanges.Changed);
    }

    // --- POST /api/user ---

    [Fact]
    public async Task RenamingWithoutAUsernameIsAMissingArgument()
    {
        var token = await GrantAsync();

        using var missing = await SendAsync(HttpMethod.Post, "/api/user", bearer: token, json: new JsonObject());
        using var empty = await SendAsync(HttpMethod.Post, "/api/user", bearer: token, json: new JsonObject { ["username"] = "" });

        foreach (var response in new[] { missing, empty })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var body = await ReadJsonAsync(response);
            Assert.False(body["success"]!.GetValue<bool>());
            var error = body["error"]!.AsObject();
            Assert.Null(error["name"]);
            Assert.Equal("Missing argument (username)", error["message"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task RenamingToMoreThan48CharactersIsOutOfRange()
    {
        var token = await GrantAsync();
        var before = await UsernameOfAsync(token);

        using var response = await SendAsync(HttpMethod.Post, "/api/user", bearer: token,
            json: new JsonObject { ["username"] = new string('x', 49) });

        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "LengthOutOfRangeException",
            "Username length must be less than or equal to 48");
        Assert.Equal(before, await UsernameOfAsync(token));
    }

    [Fact]
    public async Task RenamingChangesTheSessionNameAndNotifiesTheRoomEngine()
    {
        var token = await GrantAsync();
        var name = new string('y', 48);

        using var response = await SendAsync(HttpMethod.Post, "/api/user", bearer: token,
            json: new JsonObject { ["username"] = name });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.True(body["success"]!.GetValue<bool>());
        Assert.Equal(name, await UsernameOfAsync(token));
        Assert.Contains(SessionStore.KeyOf(token), app.SessionChanges.Changed);
    }

    [Fact]
    public async Task RenamingAcceptsAUrlEncodedForm()
    {
        var token = await GrantAsync();
        using var request = Request(HttpMethod.Post, "/api/user", bearer: token);
        request.Content = new FormUrlEncodedContent([new("username", "form user")]);

        using var response = await _client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("form user", await UsernameOfAsync(token));
    }

    [Fact]
    public async Task RenamingWithInvalidJsonIsABadBodyArgument()
    {
        var token = await GrantAsync();
        using var request = Request(HttpMethod.Post, "/api/user", bearer: token);
        request.Content = new StringContent("{\"username\":", Encoding.UTF8, "application/json");

        using var response = await _client.SendAsync(request, Ct);

        var error = await AssertErrorAsync(response, HttpStatusCode.BadRequest, "BadApiArgumentException",
            "Bad argument: body: invalid JSON");
        Assert.Equal("body", error["arg"]!.GetValue<string>());
        Assert.Equal("invalid JSON", error["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task ABodyOfAnotherContentTypeIsTreatedAsEmpty()
    {
        var token = await GrantAsync();
        using var request = Request(HttpMethod.Post, "/api/user", bearer: token);
        request.Content = new StringContent("{\"username\":\"plain\"}", Encoding.UTF8, "text/plain");

        using var response = await _client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("Missing argument (username)", (await ReadJsonAsync(response))["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task ABodyOverOneMebibyteIsTooLarge()
    {
        var token = await GrantAsync();

        using var response = await SendAsync(HttpMethod.Post, "/api/user", bearer: token,
            json: new JsonObject { ["username"] = new string('z', 1024 * 1024) });

        await AssertErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "PayloadTooLarge", "Request body too large.");
    }

    // --- /api/auth/discord without a client id (with one: DiscordLoginTests) ---

    [Theory]
    [InlineData("GET", "/api/auth/discord?redirect=/room/foo")]
    [InlineData("GET", "/api/auth/discord")]
    [InlineData("GET", "/api/auth/discord/callback?code=abc&state=def")]
    [InlineData("POST", "/api/auth/discord")]
    public async Task WithoutAClientIdTheDiscordRoutesAreNotThere(string method, string url)
    {
        using var response = await _client.SendAsync(new HttpRequestMessage(new HttpMethod(method), url), Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("""{"success":false,"error":{"name":"NotFound","message":"Not found"}}""", await response.Content.ReadAsStringAsync(Ct));
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public void ABasePathWithoutALeadingSlashFailsAtStart()
    {
        using var bad = app.WithWebHostBuilder(b => b.UseSetting("Http:BasePath", "ott/"));

        Assert.Throws<OptionsValidationException>(() => bad.CreateClient());
    }

    // --- sliding expiry (TTL inspection: Redis's TTL is the clock) ---

    [Fact]
    public async Task ANewAnonymousSessionLivesFourteenDays()
    {
        var token = await GrantAsync();

        var ttl = await app.Redis.KeyTimeToLiveAsync(app.SessionRedisKey(token));

        Assert.InRange(ttl!.Value, TimeSpan.FromDays(14) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(14));
    }

    [Fact]
    public async Task UsingAnAnonymousTokenResetsItsLifetimeToFourteenDays()
    {
        var token = await GrantAsync();
        var key = app.SessionRedisKey(token);
        await app.Redis.KeyExpireAsync(key, TimeSpan.FromDays(1));

        using var response = await SendAsync(HttpMethod.Get, "/api/user", bearer: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.InRange((await app.Redis.KeyTimeToLiveAsync(key))!.Value,
            TimeSpan.FromDays(14) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(14));
    }

    [Fact]
    public async Task GrantWithALiveBearerTokenCountsAsAUse()
    {
        var token = await GrantAsync();
        var key = app.SessionRedisKey(token);
        await app.Redis.KeyExpireAsync(key, TimeSpan.FromDays(1));

        using var response = await SendAsync(HttpMethod.Get, "/api/auth/grant", bearer: token);

        Assert.True((await app.Redis.KeyTimeToLiveAsync(key))!.Value > TimeSpan.FromDays(13));
    }

    [Fact]
    public async Task AnAnonymousTokenUsedWithinTheHourKeepsItsLifetime()
    {
        var token = await GrantAsync();
        var key = app.SessionRedisKey(token);
        var usedForHalfAnHour = TimeSpan.FromDays(14) - TimeSpan.FromMinutes(30);
        await app.Redis.KeyExpireAsync(key, usedForHalfAnHour);

        using var response = await SendAsync(HttpMethod.Get, "/api/user", bearer: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True((await app.Redis.KeyTimeToLiveAsync(key))!.Value <= usedForHalfAnHour);
    }

    [Fact]
    public async Task ALoggedInSessionLives240DaysAndIsNotSlidBackToFourteen()
    {
        var token = await GrantAsync();
        app.Accounts.Usernames[7] = "bob";
        await app.Sessions.SaveAsync(token, Session.LoggedIn(7), Ct);
        var key = app.SessionRedisKey(token);
        Assert.True((await app.Redis.KeyTimeToLiveAsync(key))!.Value > TimeSpan.FromDays(239));
        await app.Redis.KeyExpireAsync(key, TimeSpan.FromDays(1));

        using var response = await SendAsync(HttpMethod.Get, "/api/user", bearer: token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True((await app.Redis.KeyTimeToLiveAsync(key))!.Value <= TimeSpan.FromDays(1));
    }

    [Fact]
    public async Task RenamingRestartsTheLifetime()
    {
        var token = await GrantAsync();
        var key = app.SessionRedisKey(token);
        await app.Redis.KeyExpireAsync(key, TimeSpan.FromDays(14) - TimeSpan.FromMinutes(30));

        await app.Sessions.RenameAsync(token, "renamed", Ct);

        Assert.True((await app.Redis.KeyTimeToLiveAsync(key))!.Value > TimeSpan.FromDays(14) - TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task RenamingAnExpiredSessionDoesNotResurrectIt()
    {
        var token = SessionStore.NewToken();

        Assert.False(await app.Sessions.RenameAsync(token, "ghost", Ct));
        Assert.False(await app.Redis.KeyExistsAsync(app.SessionRedisKey(token)));
    }

    // --- helpers ---

    private async Task<string> GrantAsync()
    {
        using var response = await _client.GetAsync("/api/auth/grant", Ct);
        response.EnsureSuccessStatusCode();
        return (await ReadJsonAsync(response))["token"]!.GetValue<string>();
    }

    private async Task<string> UsernameOfAsync(string token) =>
        (await app.Sessions.GetAsync(token, Ct))!.Username!;

    private static HttpRequestMessage Request(HttpMethod method, string url, string? bearer = null,
        string? cookie = null, string? apiKey = null)
    {
        var request = new HttpRequestMessage(method, url);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", $"token={cookie}");
        }
        if (apiKey is not null)
        {
            request.Headers.Add("apikey", apiKey);
        }
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, string? bearer = null,
        string? cookie = null, string? apiKey = null, JsonNode? json = null)
    {
        using var request = Request(method, url, bearer, cookie, apiKey);
        if (json is not null)
        {
            request.Content = new StringContent(json.ToJsonString(), Encoding.UTF8, "application/json");
        }
        return await _client.SendAsync(request, Ct);
    }

    private async Task<JsonObject> ReadJsonAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();

    private async Task<JsonObject> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string name, string message)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await ReadJsonAsync(response);
        Assert.False(body["success"]!.GetValue<bool>());
        var error = body["error"]!.AsObject();
        Assert.Equal(name, error["name"]!.GetValue<string>());
        Assert.Equal(message, error["message"]!.GetValue<string>());
        return error;
    }
}
