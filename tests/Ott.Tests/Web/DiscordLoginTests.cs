using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

/// <summary>
/// Discord login, linking and unlinking (docs/protocol.md §3.3) through the OAuth handler, against a loopback fake
/// of Discord's authorize, token and users/@me endpoints. A browser follows every redirect by hand.
/// </summary>
public sealed class DiscordLoginTests(DiscordApplication app) : IClassFixture<DiscordApplication>
{
    private const string NoTokenBody = """{"success":false,"error":{"message":"no token found on request"}}""";

    private DiscordUser NewUser(string? globalName = null, string discriminator = "0", bool tokenFails = false, bool profileFails = false)
    {
        var user = DiscordUser.New(globalName) with { Discriminator = discriminator, TokenFails = tokenFails, ProfileFails = profileFails };
        app.Discord.Add(user);
        return user;
    }

    private static async Task<string> RegisterAsync(DiscordBrowser browser, string? username = null)
    {
        username ??= AccountsTestKit.NewUsername("pw");
        var (status, body) = await browser.Ott.SendJsonAsync(HttpMethod.Post, "/api/user/register", new JsonObject
        {
            ["username"] = username,
            ["email"] = username + "@example.test",
            ["password"] = AccountsTestKit.Password,
        });
        Assert.True(status == HttpStatusCode.Created, body.ToJsonString());
        return username;
    }

    // ----- the round trip -----

    [Fact]
    public async Task StartRedirectsToDiscordsAuthorizeEndpointWithACorrelationCookie()
    {
        using var browser = new DiscordBrowser(app);
        await browser.GrantAsync();

        using var start = await browser.StartAsync("/room/abc");

        var location = start.Headers.Location!;
        Assert.StartsWith(app.Discord.AuthorizationEndpoint + "?", location.ToString(), StringComparison.Ordinal);
        var query = DiscordBrowser.QueryOf(location);
        Assert.Equal(FakeDiscord.ClientId, query["client_id"]);
        Assert.Equal("code", query["response_type"]);
        Assert.Equal("identify", query["scope"]);
        Assert.Equal("http://localhost/api/auth/discord/callback", query["redirect_uri"]);
        Assert.False(string.IsNullOrEmpty(query["state"]));
        Assert.DoesNotContain(app.Discord.ClientSecret, location.ToString(), StringComparison.Ordinal);
        Assert.Equal("no-store", start.Headers.CacheControl?.ToString());
        var correlation = Assert.Single(start.Headers.GetValues("Set-Cookie"), c => c.StartsWith(".AspNetCore.Correlation.", StringComparison.Ordinal));
        Assert.Contains("path=/api/auth/discord/callback", correlation, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", correlation, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", correlation, StringComparison.OrdinalIgnoreCase);
        // No session cookie of ASP.NET's own: Ott's session is still only the token.
        Assert.DoesNotContain(start.Headers.GetValues("Set-Cookie"), c => c.StartsWith(".Ott.Discord", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnonymousLoginMakesADiscordOnlyAccountAndLogsTheSessionIn()
    {
        var user = NewUser(globalName: "Ada " + Guid.NewGuid().ToString("N")[..8]);
        using var browser = new DiscordBrowser(app);
        var token = await browser.GrantAsync();
        var room = await app.CreateRoomAsync();
        await using var socket = await app.JoinAsync(room, token);

        using var callback = await browser.LoginAsync(user, "/room/" + room);

        Assert.Equal(HttpStatusCode.Found, callback.StatusCode);
        Assert.Equal("/room/" + room, callback.Headers.Location!.OriginalString);
        Assert.Equal("no-store", callback.Headers.CacheControl?.ToString());
        // The only cookie touched is the correlation cookie, now cleared: no session cookie besides the token.
        Assert.All(callback.Headers.GetValues("Set-Cookie"), c =>
        {
            Assert.StartsWith(".AspNetCore.Correlation.", c, StringComparison.Ordinal);
            Assert.Contains("expires=Thu, 01 Jan 1970", c, StringComparison.OrdinalIgnoreCase);
        });
        // The same token is now logged in, to an account named after the Discord user's display name.
        var me = await browser.GetAsync("/api/user");
        Assert.Equal($$"""{"username":"{{user.GlobalName}}","loggedIn":true,"discordLinked":true}""", me.ToJsonString());
        using (var bearer = app.ApiClient(token))
        {
            Assert.True((await bearer.GetObjectAsync("/api/user", default))["loggedIn"]!.GetValue<bool>());
        }
        var account = await browser.GetAsync("/api/user/account");
        Assert.Equal($$"""{"success":true,"username":"{{user.GlobalName}}","email":null,"discordLinked":true,"hasPassword":false}""", account.ToJsonString());
        var stored = await app.Accounts.FindByDiscordIdAsync(user.Id, default);
        Assert.NotNull(stored);
        Assert.Null(stored.PasswordHash);
        // Every connection with the token is refreshed, as after a password login.
        await socket.SeenAsync(m => AccountsTestKit.UserUpdate(socket.ClientId)(m) && m["update"]!["value"]!["name"]!.GetValue<string>() == user.GlobalName);
    }

    [Fact]
    public async Task LoggingInAgainFindsTheSameAccountEvenAfterARename()
    {
        var user = NewUser();
        using (var first = new DiscordBrowser(app))
        {
            await first.GrantAsync();
            await first.LoginOkAsync(user);
            var (status, _) = await first.Ott.SendJsonAsync(HttpMethod.Post, "/api/user", new JsonObject { ["username"] = user.Username + "x" });
            Assert.Equal(HttpStatusCode.OK, status);
        }
        var id = (await app.Accounts.FindByDiscordIdAsync(user.Id, default))!.Id;

        using var second = new DiscordBrowser(app);
        await second.GrantAsync();
        await second.LoginOkAsync(user);

        Assert.Equal(user.Username + "x", (await second.GetAsync("/api/user"))["username"]!.GetValue<string>());
        Assert.Equal(id, (await app.Accounts.FindByDiscordIdAsync(user.Id, default))!.Id);
        Assert.Null(await app.Accounts.FindByUsernameAsync(user.Username, default));
    }

    [Fact]
    public async Task ALoggedInPasswordAccountLinksDiscordThenUnlinksIt()
    {
        var user = NewUser();
        using var browser = new DiscordBrowser(app);
        await browser.GrantAsync();
        var username = await RegisterAsync(browser);
        Assert.False((await browser.GetAsync("/api/user"))["discordLinked"]!.GetValue<bool>());

        await browser.LoginOkAsync(user);

        // Still the same account, now linked: no new account was made.
        Assert.Equal($$"""{"username":"{{username}}","loggedIn":true,"discordLinked":true}""", (await browser.GetAsync("/api/user")).ToJsonString());
        var account = await browser.GetAsync("/api/user/account");
        Assert.True(account["hasPassword"]!.GetValue<bool>());
        Assert.True(account["discordLinked"]!.GetValue<bool>());
        Assert.Equal(username, (await app.Accounts.FindByDiscordIdAsync(user.Id, default))!.Username);
        // Another browser logging in with Discord now reaches the password account.
        using (var other = new DiscordBrowser(app))
        {
            await other.GrantAsync();
            await other.LoginOkAsync(user);
            Assert.Equal(username, (await other.GetAsync("/api/user"))["username"]!.GetValue<string>());
        }

        var (status, body) = await browser.Ott.SendJsonAsync(HttpMethod.Delete, "/api/user/account/discord");

        Assert.Equal("""{"success":true}""", body.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False((await browser.GetAsync("/api/user"))["discordLinked"]!.GetValue<bool>());
        Assert.Null(await app.Accounts.FindByDiscordIdAsync(user.Id, default));
        // Unlinked, the Discord user is nobody's: logging in with it makes a new Discord-only account.
        using var later = new DiscordBrowser(app);
        await later.GrantAsync();
        await later.LoginOkAsync(user);
        Assert.Equal(user.Username, (await later.GetAsync("/api/user"))["username"]!.GetValue<string>());
    }

    [Fact]
    public async Task LinkingAnotherDiscordUserReplacesTheLink()
    {
        var first = NewUser();
        var second = NewUser();
        using var browser = new DiscordBrowser(app);
        await browser.GrantAsync();
        var username = await RegisterAsync(browser);
        await browser.LoginOkAsync(first);

        await browser.LoginOkAsync(second);

        Assert.Equal(username, (await app.Accounts.FindByDiscordIdAsync(second.Id, default))!.Username);
        Assert.Null(await app.Accounts.FindByDiscordIdAsync(first.Id, default));
    }

    [Fact]
    public async Task ASocialAccountAddsAnEmailAndPasswordThenLogsInWithThePassword()
    {
        var user = NewUser();
        using var browser = new DiscordBrowser(app);
        await browser.GrantAsync();
        await browser.LoginOkAsync(user);

        // No password: unlinking is refused, and the account cannot log in with one.
        var (unlinkStatus, unlink) = await browser.Ott.SendJsonAsync(HttpMethod.Delete, "/api/user/account/discord");
        Assert.Equal(HttpStatusCode.BadRequest, unlinkStatus);
        Assert.Equal("""{"success":false,"error":{"name":"PasswordRequired","message":"Add a password before unlinking Discord."}}""", unlink.ToJsonString());
        Assert.True((await browser.GetAsync("/api/user/account"))["discordLinked"]!.GetValue<bool>());

        var email = user.Username + "@example.test";
        var (patchStatus, patch) = await browser.Ott.SendJsonAsync(HttpMethod.Patch, "/api/user/account",
            new JsonObject { ["email"] = email, ["newPassword"] = AccountsTestKit.Password });
        Assert.True(patchStatus == HttpStatusCode.OK, patch.ToJsonString());
        Assert.Equal($$"""{"success":true,"username":"{{user.Username}}","email":"{{email}}","discordLinked":true,"hasPassword":true}""",
            (await browser.GetAsync("/api/user/account")).ToJsonString());

        var (logoutStatus, _) = await browser.Ott.SendJsonAsync(HttpMethod.Post, "/api/user/logout");
        Assert.Equal(HttpStatusCode.OK, logoutStatus);
        Assert.False((await browser.GetAsync("/api/user"))["loggedIn"]!.GetValue<bool>());
        foreach (var identifier in new[] { email, user.Username })
        {
            var (loginStatus, login) = await browser.Ott.SendJsonAsync(HttpMethod.Post, "/api/user/login",
                new JsonObject { ["user"] = identifier, ["password"] = AccountsTestKit.Password });
            Assert.True(loginStatus == HttpStatusCode.OK, login.ToJsonString());
            Assert.Equal($$$"""{"success":true,"user":{"email":"{{{email}}}","username":"{{{user.Username}}}"}}""", login.ToJsonString());
        }

        // With a password, unlinking works; the account keeps logging in with the password.
        var (unlinkedStatus, unlinked) = await browser.Ott.SendJsonAsync(HttpMethod.Delete, "/api/user/account/discord");
        Assert.True(unlinkedStatus == HttpStatusCode.OK, unlinked.ToJsonString());
        Assert.False((await browser.GetAsync("/api/user/account"))["discordLinked"]!.GetValue<bool>());
        using var other = app.ApiClient(await app.GrantAsync());
        var (againStatus, _) = await other.SendJsonAsync(HttpMethod.Post, "/api/user/login",
            new JsonObject { ["user"] = email, ["password"] = AccountsTestKit.Password });
        Assert.Equal(HttpStatusCode.OK, againStatus);
    }

    [Fact]
    public async Task ADiscordUserLinkedToAnotherAccountIsRefusedAndNothingChanges()
    {
        var user = NewUser();
        using (var owner = new DiscordBrowser(app))
        {
            await owner.GrantAsync();
            await owner.LoginOkAsync(user);
        }
        var linked = (await app.Accounts.FindByDiscordIdAsync(user.Id, default))!;
        using var browser = new DiscordBrowser(app);
        await browser.GrantAsync();
        var username = await RegisterAsync(browser);

        using var callback = await browser.LoginAsync(user);

        Assert.Equal(HttpStatusCode.BadRequest, callback.StatusCode);
        Assert.Equal("""{"success":false,"error":{"name":"AlreadyInUse","message":"This Discord account is already linked to another account.","fields":["discordId"]}}""",
            await callback.Content.ReadAsStringAsync());
        Assert.Equal($$"""{"username":"{{username}}","loggedIn":true,"discordLinked":false}""", (await browser.GetAsync("/api/user")).ToJsonString());
        Assert.Equal(linked.Id, (await app.Accounts.FindByDiscordIdAsync(user.Id, default))!.Id);
    }

    // ----- usernames from Discord -----

    [Fact]
    public async Task TheUsernameComesFromDiscordAndATakenOrOverlongOneIsReplacedByAGeneratedName()
    {
        var legacy = NewUser(discriminator: "4321");
        var unique = NewUser();
        var clash = NewUser(globalName: AccountsTestKit.NewUsername("Taken"));
        var tooLong = NewUser(globalName: new string('x', 40) + Guid.NewGuid().ToString("N")[..9]);
        using (var holder = new DiscordBrowser(app))
        {
            await holder.GrantAsync();
            await RegisterAsync(holder, clash.GlobalName!.ToUpperInvariant());
        }

        var names = new List<string>();
        foreach (var user in new[] { legacy, unique, clash, tooLong })
        {
            using var browser = new DiscordBrowser(app);
            await browser.GrantAsync();
            await browser.LoginOkAsync(user);
            names.Add((await browser.GetAsync("/api/user"))["username"]!.GetValue<string>());
        }

        Assert.Equal(legacy.Username + "#4321", names[0]);
        Assert.Equal(unique.Username, names[1]);
        // Usernames are unique ignoring case, so the display name is taken: a generated name instead.
        Assert.Matches("^[a-z]+_[a-z]+_[a-z]+$", names[2]);
        // 49 characters is over the limit of 48.
        Assert.Matches("^[a-z]+_[a-z]+_[a-z]+$", names[3]);
    }

    // ----- where the browser goes afterwards -----

    [Theory]
    [InlineData("/room/foo", "/room/foo")]
    [InlineData("/", "/")]
    [InlineData("//evil.example", "/")]
    [InlineData("/\\evil.example", "/")]
    [InlineData("https://evil.example/", "/")]
    [InlineData("/\t/evil.example", "/")]
    [InlineData(null, "/")]
    public async Task TheBrowserReturnsOnlyToAPathOnThisSite(string? redirect, string expected)
    {
        var user = NewUser();
        using var browser = new DiscordBrowser(app);
        await browser.GrantAsync();

        using var callback = await browser.LoginAsync(user, redirect);

        Assert.Equal(HttpStatusCode.Found, callback.StatusCode);
        Assert.Equal(expected, callback.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task UnderABasePathTheCallbackAndTheDefaultReturnCarryIt()
    {
        using var based = app.WithWebHostBuilder(b => b.UseSetting("Http:BasePath", "/ott"));
        var user = NewUser();
        using var browser = new DiscordBrowser(based);
        await browser.GrantAsync();

        using var start = await browser.StartAsync(redirect: null, path: "/ott/api/auth/discord");
        Assert.Equal("http://localhost/ott/api/auth/discord/callback", DiscordBrowser.QueryOf(start.Headers.Location!)["redirect_uri"]);
        Assert.Contains(start.Headers.GetValues("Set-Cookie"), c => c.Contains("path=/ott/api/auth/discord/callback", StringComparison.OrdinalIgnoreCase));
        var callback = await DiscordBrowser.AtDiscordAsync(start.Headers.Location!, "as=" + user.Id);
        using var done = await browser.Ott.GetAsync(callback);

        Assert.Equal(HttpStatusCode.Found, done.StatusCode);
        Assert.Equal("/ott/", done.Headers.Location!.OriginalString);
        Assert.True((await browser.GetAsync("/ott/api/user"))["loggedIn"]!.GetValue<bool>());
    }

    [Fact]
    public async Task ARegisteredRedirectUriIsUsedForTheAuthorizeRedirectAndTheCodeExchange()
    {
        const string registered = "https://ott.example/api/auth/discord/callback";
        using var proxied = app.WithWebHostBuilder(b => b.UseSetting("Discord:RedirectUri", registered));
        var user = NewUser();
        using var browser = new DiscordBrowser(proxied);
        await browser.GrantAsync();

        using var start = await browser.StartAsync();
        Assert.Equal(registered, DiscordBrowser.QueryOf(start.Headers.Location!)["redirect_uri"]);
        var callback = await DiscordBrowser.AtDiscordAsync(start.Headers.Location!, "as=" + user.Id);
        Assert.StartsWith(registered + "?", callback.ToString(), StringComparison.Ordinal);
        // The proxy in front of Ott passes the request on; the fake token endpoint insists on the same redirect_uri.
        using var done = await browser.Ott.GetAsync("/api/auth/discord/callback" + callback.Query);

        Assert.Equal(HttpStatusCode.Found, done.StatusCode);
        Assert.Equal("/room/after", done.Headers.Location!.OriginalString);
        Assert.True((await browser.GetAsync("/api/user"))["discordLinked"]!.GetValue<bool>());
    }

    [Fact]
    public async Task ALoginStartedOnOneNodeFinishesOnAnotherThroughTheSharedKeyRing()
    {
        using var otherNode = app.WithWebHostBuilder(b => b.UseSetting("Node:Name", "other"));
        var user = NewUser();
        using var browser = new DiscordBrowser(app);
        await browser.GrantAsync();
        using var start = await browser.StartAsync();
        var callback = await DiscordBrowser.AtDiscordAsync(start.Headers.Location!, "as=" + user.Id);
        using var finisher = otherNode.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, callback);
        var correlation = start.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(".AspNetCore.Correlation.", StringComparison.Ordinal)).Split(';')[0];
        request.Headers.Add("Cookie", $"{correlation}; token={browser.Token}");

        using var done = await finisher.SendAsync(request);

        Assert.True(done.StatusCode == HttpStatusCode.Found, $"{(int)done.StatusCode} {await done.Content.ReadAsStringAsync()}");
        Assert.Equal("/room/after", done.Headers.Location!.OriginalString);
        Assert.True((await browser.GetAsync("/api/user"))["discordLinked"]!.GetValue<bool>());
        // The ring is in the store, under the key prefix.
        Assert.True(await app.Database.ListLengthAsync(app.KeyPrefix + "dataprotection:keys") >= 1);
    }

    // ----- failures -----

    [Theory]
    [InlineData("deny=1")]
    [InlineData("error=temporarily_unavailable")]
    [InlineData("token")]
    [InlineData("profile")]
    [InlineData("state")]
    [InlineData("correlation")]
    public async Task ADeniedConsentOrAProviderErrorRedirectsHomeAndChangesNothing(string failure)
    {
        var user = NewUser(tokenFails: failure == "token", profileFails: failure == "profile");
        using var browser = new DiscordBrowser(app);
        var token = await browser.GrantAsync();
        var name = (await browser.GetAsync("/api/user"))["username"]!.GetValue<string>();

        using var start = await browser.StartAsync();
        var consent = failure.Contains('=', StringComparison.Ordinal) ? failure : "as=" + user.Id;
        var callback = await DiscordBrowser.AtDiscordAsync(start.Headers.Location!, consent);
        HttpResponseMessage done;
        if (failure == "state")
        {
            var query = DiscordBrowser.QueryOf(callback);
            done = await browser.Ott.GetAsync($"/api/auth/discord/callback?code={query["code"]}&state={query["state"][..^4]}AAAA");
        }
        else if (failure == "correlation")
        {
            // The callback replayed in another browser, which holds no correlation cookie.
            using var other = new DiscordBrowser(app);
            await other.GrantAsync();
            done = await other.Ott.GetAsync(callback);
        }
        else
        {
            done = await browser.Ott.GetAsync(callback);
        }

        using (done)
        {
            Assert.True(done.StatusCode == HttpStatusCode.Found, $"{(int)done.StatusCode} {await done.Content.ReadAsStringAsync()}");
            Assert.Equal("/", done.Headers.Location!.OriginalString);
        }
        Assert.Equal($$"""{"loggedIn":false,"username":"{{name}}"}""", (await browser.GetAsync("/api/user")).ToJsonString());
        Assert.Null(await app.Accounts.FindByDiscordIdAsync(user.Id, default));
        Assert.Equal(token, browser.Token);
    }

    [Fact]
    public async Task WithoutATokenCookieTheCallbackIsRefusedBeforeAnyAccountIsMade()
    {
        var user = NewUser();
        using var browser = new DiscordBrowser(app);

        using var callback = await browser.LoginAsync(user);

        Assert.Equal(HttpStatusCode.BadRequest, callback.StatusCode);
        Assert.Equal(NoTokenBody, await callback.Content.ReadAsStringAsync());
        Assert.Null(await app.Accounts.FindByDiscordIdAsync(user.Id, default));
    }

    [Fact]
    public async Task ATokenCookieWithoutASessionIsRefused()
    {
        var user = NewUser();
        using var browser = new DiscordBrowser(app);
        using var start = await browser.StartAsync();
        var callback = await DiscordBrowser.AtDiscordAsync(start.Headers.Location!, "as=" + user.Id);
        using var request = new HttpRequestMessage(HttpMethod.Get, callback);
        // The jar holds the correlation cookie; a token that names no session rides along.
        using var jarless = app.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = false });
        var correlation = start.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(".AspNetCore.Correlation.", StringComparison.Ordinal)).Split(';')[0];
        request.Headers.Add("Cookie", $"{correlation}; token=no-such-session");

        using var done = await jarless.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, done.StatusCode);
        Assert.Equal("""{"success":false,"error":{"name":"MissingToken","message":"Missing valid auth token. Get a token from /api/auth/grant first."}}""",
            await done.Content.ReadAsStringAsync());
        Assert.Null(await app.Accounts.FindByDiscordIdAsync(user.Id, default));
    }

    [Fact]
    public async Task WithRegistrationOffANewDiscordUserIsRefusedButALinkedOneLogsIn()
    {
        var linked = NewUser();
        using (var before = new DiscordBrowser(app))
        {
            await before.GrantAsync();
            await before.LoginOkAsync(linked);
        }
        using var closed = app.WithWebHostBuilder(b => b.UseSetting("Accounts:EnableRegistration", "false"));
        var stranger = NewUser();
        using var browser = new DiscordBrowser(closed);
        await browser.GrantAsync();

        using var refused = await browser.LoginAsync(stranger);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("""{"success":false,"error":{"name":"FeatureDisabledException","message":"Sorry, this feature is disabled: Disabled by administrator."}}""",
            await refused.Content.ReadAsStringAsync());
        Assert.Null(await app.Accounts.FindByDiscordIdAsync(stranger.Id, default));
        await browser.LoginOkAsync(linked);
        Assert.True((await browser.GetAsync("/api/user"))["loggedIn"]!.GetValue<bool>());
    }

    // ----- settings and secrecy -----

    [Fact]
    public async Task TheCorrelationCookieIsSecureUnlessInsecureCookiesAreConfigured()
    {
        using var secure = app.WithWebHostBuilder(b => b.UseSetting("Http:InsecureCookies", "false"));
        using var browser = new DiscordBrowser(secure);

        using var start = await browser.StartAsync();

        Assert.Contains(start.Headers.GetValues("Set-Cookie"), c => c.StartsWith(".AspNetCore.Correlation.", StringComparison.Ordinal)
            && c.Contains("; secure", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void AClientIdWithoutASecretFailsAtStart()
    {
        using var bad = app.WithWebHostBuilder(b => b.UseSetting("Discord:ClientSecret", ""));

        var error = Assert.Throws<OptionsValidationException>(() => bad.CreateClient());
        Assert.Contains("ClientSecret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheOpenApiDocumentListsTheLoginRoute()
    {
        using var http = app.ApiClient();
        var doc = JsonNode.Parse(await http.GetStringAsync("/openapi/v1.json"))!;

        Assert.True(doc["paths"]!.AsObject().ContainsKey("/api/auth/discord"));
    }

    [Fact]
    public async Task NeitherTheClientSecretNorAnAccessTokenIsEverLogged()
    {
        var user = NewUser();
        var failing = NewUser(tokenFails: true);
        using var browser = new DiscordBrowser(app);
        await browser.GrantAsync();
        await browser.LoginOkAsync(user);
        using (var failed = await browser.LoginAsync(failing))
        {
            Assert.Equal(HttpStatusCode.Found, failed.StatusCode);
        }

        var lines = app.Logs.Lines;
        Assert.Contains(lines, l => l.Contains("Discord login failed", StringComparison.Ordinal));
        Assert.NotEmpty(app.Discord.AccessTokens);
        foreach (var line in lines)
        {
            Assert.DoesNotContain(app.Discord.ClientSecret, line, StringComparison.Ordinal);
            foreach (var accessToken in app.Discord.AccessTokens)
            {
                Assert.DoesNotContain(accessToken, line, StringComparison.Ordinal);
            }
        }
    }
}
