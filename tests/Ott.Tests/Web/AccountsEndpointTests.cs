using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Ott.Sync.Endpoints;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// Protocol §3.3 over HTTP against real Redis: register, login, logout, the account routes and renames.
public sealed class AccountsEndpointTests(OttApplication app) : IClassFixture<OttApplication>
{
    private const string WeakPassword =
        "Password does not meet minimum requirements. Must be at least 8 characters long, and contain 2 of the following categories of characters: lowercase letters, uppercase letters, numbers, special characters.";

    private static void AssertError(JsonObject body, string? name, string message)
    {
        Assert.False(body["success"]!.GetValue<bool>());
        var error = body["error"]!.AsObject();
        Assert.Equal(message, error["message"]!.GetValue<string>());
        if (name is null)
        {
            Assert.Equal(["message"], error.Select(kv => kv.Key));
        }
        else
        {
            Assert.Equal(name, error["name"]!.GetValue<string>());
        }
    }

    private async Task<(HttpStatusCode, JsonObject)> RegisterRawAsync(string token, JsonObject body)
    {
        using var client = app.ApiClient(token);
        return await client.SendJsonAsync(HttpMethod.Post, "/api/user/register", body);
    }

    private async Task<(HttpStatusCode, JsonObject)> LoginRawAsync(JsonObject body, string? token = null)
    {
        using var client = app.ApiClient(token ?? await app.GrantAsync());
        return await client.SendJsonAsync(HttpMethod.Post, "/api/user/login", body);
    }

    private async Task<JsonObject> GetUserAsync(string token)
    {
        using var client = app.ApiClient(token);
        return JsonNode.Parse(await client.GetStringAsync("/api/user"))!.AsObject();
    }

    // ----- register -----

    [Fact]
    public async Task RegisterWithEmptyEmailCreatesTheAccountAndLogsTheSessionIn()
    {
        var token = await app.GrantAsync();
        var username = AccountsTestKit.NewUsername();

        var (status, body) = await RegisterRawAsync(token, new JsonObject { ["email"] = "", ["username"] = username, ["password"] = "Abcdefgh" });

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.True(body["success"]!.GetValue<bool>());
        var user = body["user"]!.AsObject();
        Assert.True(user.ContainsKey("email"));
        Assert.Null(user["email"]);
        Assert.Equal(username, user["username"]!.GetValue<string>());
        var me = await GetUserAsync(token);
        Assert.True(me["loggedIn"]!.GetValue<bool>());
        Assert.Equal(username, me["username"]!.GetValue<string>());
        Assert.False(me["discordLinked"]!.GetValue<bool>());
    }

    [Fact]
    public async Task RegisterWithATakenUsernameOrEmailNamesTheFieldInUse()
    {
        var existing = await app.RegisterAsync();

        var (byName, nameBody) = await RegisterRawAsync(await app.GrantAsync(), new JsonObject
        {
            ["username"] = existing.Username.ToUpperInvariant(),
            ["password"] = "Abcdefgh",
        });
        var (byEmail, emailBody) = await RegisterRawAsync(await app.GrantAsync(), new JsonObject
        {
            ["username"] = AccountsTestKit.NewUsername(),
            ["email"] = existing.Email,
            ["password"] = "Abcdefgh",
        });

        Assert.Equal(HttpStatusCode.BadRequest, byName);
        AssertError(nameBody, "AlreadyInUse", "Username is already in use.");
        Assert.Equal(["username"], nameBody["error"]!["fields"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.BadRequest, byEmail);
        AssertError(emailBody, "AlreadyInUse", "Email is already associated with an account.");
        Assert.Equal(["email"], emailBody["error"]!["fields"]!.AsArray().Select(f => f!.GetValue<string>()));
    }

    [Theory]
    [InlineData("abcdefgh")]
    [InlineData("Abcdef1")]
    [InlineData("12345678")]
    [InlineData("")]
    [InlineData(null)]
    public async Task RegisterWithAWeakOrMissingPasswordIsAValidationError(string? password)
    {
        var token = await app.GrantAsync();
        var body = new JsonObject { ["username"] = AccountsTestKit.NewUsername() };
        if (password is not null)
        {
            body["password"] = password;
        }

        var (status, error) = await RegisterRawAsync(token, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(error, "ValidationError", WeakPassword);
        Assert.False((await GetUserAsync(token))["loggedIn"]!.GetValue<bool>());
    }

    [Fact]
    public async Task RegisterRejectsA49CharacterUsernameAnEmptyUsernameAndABadEmail()
    {
        var (longStatus, longBody) = await RegisterRawAsync(await app.GrantAsync(),
            new JsonObject { ["username"] = new string('x', 49), ["password"] = "Abcdefgh" });
        var (emptyStatus, emptyBody) = await RegisterRawAsync(await app.GrantAsync(),
            new JsonObject { ["username"] = "", ["password"] = "Abcdefgh" });
        var (missingStatus, missingBody) = await RegisterRawAsync(await app.GrantAsync(), new JsonObject { ["password"] = "Abcdefgh" });
        var (emailStatus, emailBody) = await RegisterRawAsync(await app.GrantAsync(),
            new JsonObject { ["username"] = AccountsTestKit.NewUsername(), ["email"] = "not-an-address", ["password"] = "Abcdefgh" });

        Assert.Equal(HttpStatusCode.BadRequest, longStatus);
        AssertError(longBody, "ValidationError", "Username length must be less than or equal to 48.");
        Assert.Equal(HttpStatusCode.BadRequest, emptyStatus);
        Assert.Equal("ValidationError", emptyBody["error"]!["name"]!.GetValue<string>());
        Assert.Contains("Username", emptyBody["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, missingStatus);
        Assert.Equal("ValidationError", missingBody["error"]!["name"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, emailStatus);
        Assert.Equal("ValidationError", emailBody["error"]!["name"]!.GetValue<string>());
        Assert.Contains("Email", emailBody["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A48CharacterUsernameIsAccepted()
    {
        var username = new string('n', 36) + Guid.NewGuid().ToString("N")[..12];
        var account = await app.RegisterAsync(username);
        Assert.Equal(48, account.Username.Length);
    }

    [Fact]
    public async Task RegisterWhenDisabledByConfigurationIsForbidden()
    {
        var settings = new Dictionary<string, string?> { ["Accounts:EnableRegistration"] = "false" };
        await using var disabled = new OttApplication(app.Backend, ownsRedis: false, $"test-{Guid.NewGuid():N}:", settings);
        await disabled.InitializeAsync();
        using var client = disabled.ApiClient(await disabled.GrantAsync());

        var (status, body) = await client.SendJsonAsync(HttpMethod.Post, "/api/user/register",
            new JsonObject { ["username"] = AccountsTestKit.NewUsername(), ["password"] = "Abcdefgh" });

        Assert.Equal(HttpStatusCode.Forbidden, status);
        AssertError(body, "FeatureDisabledException", "Sorry, this feature is disabled: Disabled by administrator.");
    }

    // ----- login -----

    [Fact]
    public async Task LoginWorksByExactEmailOrByUsernameInAnyCaseUnderEveryKey()
    {
        var account = await app.RegisterAsync();
        var cases = new[]
        {
            new JsonObject { ["user"] = account.Email, ["password"] = account.Password },
            new JsonObject { ["user"] = account.Username.ToUpperInvariant(), ["password"] = account.Password },
            new JsonObject { ["email"] = account.Email, ["password"] = account.Password },
            new JsonObject { ["username"] = account.Username, ["password"] = account.Password },
        };
        foreach (var body in cases)
        {
            var token = await app.GrantAsync();
            var (status, reply) = await LoginRawAsync(body, token);

            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(reply["success"]!.GetValue<bool>());
            Assert.Equal(account.Email, reply["user"]!["email"]!.GetValue<string>());
            Assert.Equal(account.Username, reply["user"]!["username"]!.GetValue<string>());
            Assert.Equal(account.Username, (await GetUserAsync(token))["username"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task LoginFailuresAnswer401WithOnlyAMessage()
    {
        var account = await app.RegisterAsync();

        var (wrong, wrongBody) = await LoginRawAsync(new JsonObject { ["user"] = account.Username, ["password"] = "Wrong-pass1" });
        var (unknown, unknownBody) = await LoginRawAsync(new JsonObject { ["user"] = "nobody-" + account.Username, ["password"] = "x" });
        var (noPassword, noPasswordBody) = await LoginRawAsync(new JsonObject { ["user"] = account.Username });
        var (noUser, noUserBody) = await LoginRawAsync(new JsonObject { ["password"] = account.Password });
        var (emailCase, _) = await LoginRawAsync(new JsonObject { ["user"] = account.Email.ToUpperInvariant(), ["password"] = account.Password });

        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        AssertError(wrongBody, null, "Email or password is incorrect.");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown);
        AssertError(unknownBody, null, "Email or password is incorrect.");
        Assert.Equal(HttpStatusCode.Unauthorized, noPassword);
        AssertError(noPasswordBody, null, "Either the user or password was not provided.");
        Assert.Equal(HttpStatusCode.Unauthorized, noUser);
        AssertError(noUserBody, null, "Either the user or password was not provided.");
        // Emails are exact; only usernames ignore case.
        Assert.Equal(HttpStatusCode.Unauthorized, emailCase);
    }

    [Fact]
    public async Task LoggedInSessionsLive240Days()
    {
        var account = await app.RegisterAsync();
        var ttl = await app.Database.KeyTimeToLiveAsync(app.KeyPrefix + "auth:" + Ott.Sync.Auth.SessionStore.KeyOf(account.Token));
        Assert.NotNull(ttl);
        Assert.InRange(ttl!.Value, TimeSpan.FromDays(240) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(240));
    }

    // ----- logout -----

    [Fact]
    public async Task LogoutMakesTheSameTokenAnonymousWithANewNameAndASecondLogoutIsRefused()
    {
        var account = await app.RegisterAsync();
        using var client = app.ApiClient(account.Token);

        var (status, body) = await client.SendJsonAsync(HttpMethod.Post, "/api/user/logout");
        var me = await GetUserAsync(account.Token);
        var (again, againBody) = await client.SendJsonAsync(HttpMethod.Post, "/api/user/logout");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"success":true}""", body.ToJsonString());
        Assert.False(me["loggedIn"]!.GetValue<bool>());
        Assert.Matches("^[a-z]+_[a-z]+_[a-z]+$", me["username"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, again);
        AssertError(againBody, null, "Not logged in.");
    }

    [Fact]
    public async Task RegisterLoginLogoutAndRenameEachRefreshTheTokensSockets()
    {
        var room = await app.CreateRoomAsync();
        var token = await app.GrantAsync();
        await using var first = await app.JoinAsync(room, token);
        await using var second = await app.JoinAsync(room, token);
        using var client = app.ApiClient(token);
        var username = AccountsTestKit.NewUsername();

        await client.SendJsonAsync(HttpMethod.Post, "/api/user/register",
            new JsonObject { ["username"] = username, ["password"] = AccountsTestKit.Password });
        foreach (var socket in new[] { first, second })
        {
            var update = await first.SeenAsync(m => AccountsTestKit.UserUpdate(socket.ClientId)(m)
                && m["update"]!["value"]!["isLoggedIn"]!.GetValue<bool>());
            Assert.Equal(username, update["update"]!["value"]!["name"]!.GetValue<string>());
            Assert.Equal(1, update["update"]!["value"]!["role"]!.GetValue<int>());
        }

        await client.SendJsonAsync(HttpMethod.Post, "/api/user/logout");
        var loggedOut = await second.WaitForAsync(m => AccountsTestKit.UserUpdate(first.ClientId, role: 0)(m)
            && !m["update"]!["value"]!["isLoggedIn"]!.GetValue<bool>());
        Assert.NotEqual(username, loggedOut["update"]!["value"]!["name"]!.GetValue<string>());

        await client.SendJsonAsync(HttpMethod.Post, "/api/user/login", new JsonObject { ["user"] = username, ["password"] = AccountsTestKit.Password });
        await second.WaitForAsync(m => AccountsTestKit.UserUpdate(first.ClientId, role: 1)(m)
            && m["update"]!["value"]!["name"]!.GetValue<string>() == username);

        var renamed = username + "x";
        await client.SendJsonAsync(HttpMethod.Post, "/api/user", new JsonObject { ["username"] = renamed });
        await second.WaitForAsync(m => AccountsTestKit.UserUpdate(first.ClientId, role: 1)(m)
            && m["update"]!["value"]!["name"]!.GetValue<string>() == renamed);
    }

    // ----- the account -----

    [Fact]
    public async Task GetAccountDescribesTheAccountAndNeedsALogin()
    {
        var account = await app.RegisterAsync();
        using var client = app.ApiClient(account.Token);
        using var anonymous = app.ApiClient(await app.GrantAsync());

        var (status, body) = await client.SendJsonAsync(HttpMethod.Get, "/api/user/account");
        var (anonStatus, anonBody) = await anonymous.SendJsonAsync(HttpMethod.Get, "/api/user/account");
        var (ownedStatus, ownedBody) = await anonymous.SendJsonAsync(HttpMethod.Get, "/api/user/owned-rooms");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(new JsonObject
        {
            ["success"] = true,
            ["username"] = account.Username,
            ["email"] = account.Email,
            ["discordLinked"] = false,
            ["hasPassword"] = true,
        }.ToJsonString(), body.ToJsonString());
        Assert.Equal(HttpStatusCode.Unauthorized, anonStatus);
        AssertError(anonBody, "Unauthorized", "Not logged in.");
        Assert.Equal(HttpStatusCode.Unauthorized, ownedStatus);
        AssertError(ownedBody, "Unauthorized", "Not logged in.");
    }

    [Fact]
    public async Task PatchAccountRefusesEachProblemAndChangesNothing()
    {
        var account = await app.RegisterAsync();
        var other = await app.RegisterAsync();
        using var client = app.ApiClient(account.Token);

        async Task Expect(JsonObject body, string name, string? message = null)
        {
            var (status, reply) = await client.SendJsonAsync(HttpMethod.Patch, "/api/user/account", body);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal(name, reply["error"]!["name"]!.GetValue<string>());
            if (message is not null)
            {
                Assert.Equal(message, reply["error"]!["message"]!.GetValue<string>());
            }
        }

        await Expect([], "ValidationError", "At least one field must be provided");
        await Expect(new JsonObject { ["email"] = "nope" }, "ValidationError");
        await Expect(new JsonObject { ["email"] = other.Email }, "AlreadyInUse", "Email is already associated with an account.");
        await Expect(new JsonObject { ["newPassword"] = "New-Password9" }, "CurrentPasswordRequired", "Current password is required.");
        await Expect(new JsonObject { ["currentPassword"] = "Wrong-pass1", ["newPassword"] = "New-Password9" }, "InvalidPassword",
            "Current password is incorrect.");
        await Expect(new JsonObject { ["currentPassword"] = account.Password, ["newPassword"] = "weakpassword" }, "BadPasswordError", WeakPassword);
        // A valid email with an invalid password change changes neither.
        await Expect(new JsonObject { ["email"] = "fresh-" + account.Email, ["currentPassword"] = "Wrong-pass1", ["newPassword"] = "New-Password9" },
            "InvalidPassword");

        var (status, body) = await client.SendJsonAsync(HttpMethod.Get, "/api/user/account");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(account.Email, body["email"]!.GetValue<string>());
        var (login, _) = await LoginRawAsync(new JsonObject { ["user"] = account.Username, ["password"] = account.Password });
        Assert.Equal(HttpStatusCode.OK, login);
    }

    [Fact]
    public async Task PatchAccountChangesThePasswordAndEmail()
    {
        var account = await app.RegisterAsync();
        using var client = app.ApiClient(account.Token);
        var newEmail = "new-" + account.Email;

        var (status, body) = await client.SendJsonAsync(HttpMethod.Patch, "/api/user/account", new JsonObject
        {
            ["email"] = newEmail,
            ["currentPassword"] = account.Password,
            ["newPassword"] = "New-Password9",
        });

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"success":true}""", body.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, (await LoginRawAsync(new JsonObject { ["user"] = newEmail, ["password"] = "New-Password9" })).Item1);
        Assert.Equal(HttpStatusCode.OK, (await LoginRawAsync(new JsonObject { ["user"] = account.Username, ["password"] = "New-Password9" })).Item1);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginRawAsync(new JsonObject { ["user"] = account.Username, ["password"] = account.Password })).Item1);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginRawAsync(new JsonObject { ["user"] = account.Email, ["password"] = "New-Password9" })).Item1);
        // The old address is free again.
        var (reuse, _) = await RegisterRawAsync(await app.GrantAsync(),
            new JsonObject { ["username"] = AccountsTestKit.NewUsername(), ["email"] = account.Email, ["password"] = "Abcdefgh" });
        Assert.Equal(HttpStatusCode.Created, reuse);
    }

    // Protocol §4.1: OTT's account page reloads right after "save"; the browser drops the PATCH it sent,
    // and the change must be made all the same.
    [Fact]
    public async Task APasswordChangeWhoseClientWentAwayIsStillMade()
    {
        var account = await app.RegisterAsync();
        var body = new JsonObject { ["currentPassword"] = account.Password, ["newPassword"] = "New-Password9" }.ToJsonString();

        await app.Server.SendAsync(http =>
        {
            http.Request.Method = HttpMethods.Patch;
            http.Request.Path = "/api/user/account";
            http.Request.Headers.Authorization = "Bearer " + account.Token;
            http.Request.ContentType = "application/json";
            http.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body));
            http.RequestAborted = new CancellationToken(canceled: true); // the whole request arrived, then its client left
        });

        Assert.Equal(HttpStatusCode.OK, (await LoginRawAsync(new JsonObject { ["user"] = account.Username, ["password"] = "New-Password9" })).Item1);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginRawAsync(new JsonObject { ["user"] = account.Username, ["password"] = account.Password })).Item1);
    }

    // Reads still stop when their client goes away; the middlewares outside see the real token again.
    [Theory]
    [InlineData("GET", false)]
    [InlineData("HEAD", false)]
    [InlineData("OPTIONS", false)]
    [InlineData("POST", true)]
    [InlineData("PATCH", true)]
    [InlineData("DELETE", true)]
    public async Task OnlyChangesRunOnTheDrainTokenInsteadOfRequestAborted(string method, bool detached)
    {
        using var aborted = new CancellationTokenSource();
        using var drain = new CancellationTokenSource();
        var http = new DefaultHttpContext { RequestAborted = aborted.Token };
        http.Request.Method = method;
        CancellationToken seen = default;

        await CompleteChangesExtensions.RunAsync(http, h =>
        {
            seen = h.RequestAborted;
            return Task.CompletedTask;
        }, drain.Token);

        Assert.Equal(detached ? drain.Token : aborted.Token, seen);
        Assert.Equal(aborted.Token, http.RequestAborted);
    }

    [Fact]
    public async Task DiscordUnlinkAnswersNotLinked()
    {
        var account = await app.RegisterAsync();
        using var client = app.ApiClient(account.Token);

        var (status, body) = await client.SendJsonAsync(HttpMethod.Delete, "/api/user/account/discord");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "DiscordNotLinked", "This account is not linked to Discord.");
    }

    // ----- renames -----

    [Fact]
    public async Task LoggedInRenameRenamesTheAccountAndRefusesATakenName()
    {
        var account = await app.RegisterAsync();
        var other = await app.RegisterAsync();
        using var client = app.ApiClient(account.Token);

        var (taken, takenBody) = await client.SendJsonAsync(HttpMethod.Post, "/api/user",
            new JsonObject { ["username"] = other.Username.ToUpperInvariant() });
        var renamed = AccountsTestKit.NewUsername("renamed");
        var (ok, _) = await client.SendJsonAsync(HttpMethod.Post, "/api/user", new JsonObject { ["username"] = renamed });
        var (caseOnly, _) = await client.SendJsonAsync(HttpMethod.Post, "/api/user", new JsonObject { ["username"] = renamed.ToUpperInvariant() });

        Assert.Equal(HttpStatusCode.BadRequest, taken);
        Assert.Equal("UsernameTaken", takenBody["error"]!["name"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Equal(HttpStatusCode.OK, caseOnly);
        Assert.Equal(renamed.ToUpperInvariant(), (await GetUserAsync(account.Token))["username"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await LoginRawAsync(new JsonObject { ["user"] = renamed, ["password"] = account.Password })).Item1);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginRawAsync(new JsonObject { ["user"] = account.Username, ["password"] = account.Password })).Item1);
        // The old name is free for someone else.
        Assert.Equal(account.Username, (await app.RegisterAsync(account.Username)).Username);
    }

    [Fact]
    public async Task ASessionWhoseAccountHasGoneContinuesAnonymous()
    {
        var account = await app.RegisterAsync();
        await app.Database.KeyDeleteAsync(new RedisKeys(app.KeyPrefix).User(account.Id));

        var me = await GetUserAsync(account.Token);

        Assert.Equal(["loggedIn", "username"], me.Select(kv => kv.Key).Order());
        Assert.False(me["loggedIn"]!.GetValue<bool>());
        Assert.NotEqual(account.Username, me["username"]!.GetValue<string>());
    }
}
