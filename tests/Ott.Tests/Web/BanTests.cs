using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

/// <summary>IP bans on (<c>Rooms:IpBans</c>), so a ban's <c>byIp</c> is honoured.</summary>
public sealed class IpBansApplication : OttApplication
{
    public IpBansApplication()
    {
        Settings["Rooms:IpBans"] = "true";
    }
}

// Bans (docs/protocol.md §10): type 20/21 and /api/room/:name/bans, over real sockets against real Redis. A banned
// client is closed with 4005 "banned" on every connection and cannot come back under a new session of the same
// account (or, with IP bans on, from the same address) until the ban expires or is lifted.
public sealed class BanTests(IpBansApplication app) : IClassFixture<IpBansApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static JsonObject Ban(JsonObject fields)
    {
        fields["type"] = 20;
        return fields;
    }

    // An owner-created permanent room plus a logged-in socket for the owner.
    private async Task<(string Room, TestAccount Owner, OttTestClient OwnerSocket)> OwnedRoomAsync()
    {
        var owner = await app.RegisterAsync();
        var room = await app.CreateRoomAsync(permanent: true, token: owner.Token);
        return (room, owner, await app.JoinAsync(room, owner.Token));
    }

    /// <summary>Connects (from <paramref name="ip"/> when given) and authenticates: the joined client, or the close code and reason.</summary>
    private async Task<(OttTestClient? Joined, int? Code, string? Reason)> TryJoinAsync(string room, string token, string? ip = null)
    {
        var ws = app.Server.CreateWebSocketClient();
        if (ip is not null)
        {
            ws.ConfigureRequest = r => r.HttpContext.Connection.RemoteIpAddress = IPAddress.Parse(ip);
        }
        var socket = await ws.ConnectAsync(new Uri(app.Server.BaseAddress, $"/api/room/{room}").ToWs(), Ct);
        var client = new OttTestClient(socket) { Token = token };
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, Ct);
        // Judged by the outcome of the wait for `you`, never by which of it and the close finished first:
        // `you` arrives (let in) or the wait fails at once because the socket closed first (refused).
        try
        {
            var you = await client.WaitForAsync(m => m.Action() == "you", ct: Ct);
            client.ClientId = you["info"]!["id"]!.GetValue<string>();
            return (client, null, null);
        }
        catch (InvalidOperationException) when (client.Closed.IsCompleted)
        {
        }
        var code = (int?)await client.Closed;
        var reason = client.CloseDescription;
        await client.DisposeAsync();
        return (null, code, reason);
    }

    private static async Task AssertBannedAsync(Task<(OttTestClient? Joined, int? Code, string? Reason)> attempt)
    {
        var (joined, code, reason) = await attempt;
        if (joined is not null)
        {
            await joined.DisposeAsync();
        }
        Assert.Null(joined);
        Assert.Equal(4005, code);
        Assert.Equal("banned", reason);
    }

    [Fact]
    public async Task ABanClosesEveryConnectionOfTheAccountAndANewSessionCannotRejoinUntilUnbanned()
    {
        var (room, owner, ownerSocket) = await OwnedRoomAsync();
        await using var _ = ownerSocket;
        var victim = await app.RegisterAsync();
        await using var first = await app.JoinAsync(room, victim.Token);
        await using var second = await app.JoinAsync(room, await app.LoginAsync(victim));
        await using var bystander = await app.JoinAsync(room);

        await ownerSocket.RequestAsync(Ban(new JsonObject { ["clientId"] = first.ClientId, ["reason"] = "spam" }), Ct);

        Assert.Equal(4005, await first.CloseCodeAsync(Ct));
        Assert.Equal("banned", first.CloseDescription);
        Assert.Equal(4005, await second.CloseCodeAsync(Ct));
        Assert.False(bystander.Closed.IsCompleted);
        // A new session of the same account is refused at auth; anyone else still joins.
        await AssertBannedAsync(TryJoinAsync(room, await app.LoginAsync(victim)));
        await using (var other = await app.JoinAsync(room, ct: Ct))
        {
        }

        using var api = app.ApiClient(owner.Token);
        var (status, list) = await api.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}/bans");
        Assert.Equal(HttpStatusCode.OK, status);
        var ban = Assert.Single(list["bans"]!.AsArray())!.AsObject();
        Assert.Equal(["by", "createdAt", "expiresAt", "id", "reason", "target"], ban.Select(kv => kv.Key).Order());
        Assert.Equal(victim.Username, ban["target"]!["user"]!.GetValue<string>());
        Assert.True(ban["target"]!["session"]!.GetValue<bool>());
        Assert.False(ban["target"]!["ip"]!.GetValue<bool>());
        Assert.Null(ban["expiresAt"]);
        Assert.Equal("spam", ban["reason"]!.GetValue<string>());
        Assert.Equal(owner.Username, ban["by"]!.GetValue<string>());

        var (unbanned, body) = await api.SendJsonAsync(HttpMethod.Delete, $"/api/room/{room}/bans/{ban["id"]!.GetValue<string>()}");
        Assert.Equal(HttpStatusCode.OK, unbanned);
        Assert.Equal("""{"success":true}""", body.ToJsonString());
        var (back, _, _) = await TryJoinAsync(room, await app.LoginAsync(victim));
        Assert.NotNull(back);
        await back.DisposeAsync();
        var (again, missing) = await api.SendJsonAsync(HttpMethod.Delete, $"/api/room/{room}/bans/{ban["id"]!.GetValue<string>()}");
        Assert.Equal(HttpStatusCode.NotFound, again);
        Assert.Equal("BanNotFoundException", missing["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task ABanByUsernameOverRestKeepsTheAccountOutUntilItExpires()
    {
        var (room, owner, ownerSocket) = await OwnedRoomAsync();
        await using var _ = ownerSocket;
        var victim = await app.RegisterAsync();
        using var api = app.ApiClient(owner.Token);

        var (status, body) = await api.SendJsonAsync(HttpMethod.Post, $"/api/room/{room}/bans",
            new JsonObject { ["user"] = victim.Username.ToUpperInvariant(), ["duration"] = 1 });

        Assert.Equal(HttpStatusCode.OK, status);
        var ban = body["ban"]!.AsObject();
        Assert.Equal(victim.Username, ban["target"]!["user"]!.GetValue<string>());
        Assert.False(ban["target"]!["session"]!.GetValue<bool>());
        Assert.Equal(1000, ban["expiresAt"]!.GetValue<long>() - ban["createdAt"]!.GetValue<long>());
        await AssertBannedAsync(TryJoinAsync(room, victim.Token));
        // Let in again once the second has passed.
        OttTestClient? joined = null;
        await WaitUntil.WaitUntilAsync(async () =>
        {
            joined = (await TryJoinAsync(room, await app.LoginAsync(victim))).Joined;
            return joined is not null;
        }, TimeSpan.FromSeconds(10), "the banned account joins after its ban expired");
        await joined!.DisposeAsync();
        var (_, list) = await api.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}/bans");
        Assert.Empty(list["bans"]!.AsArray());

        var (unknown, error) = await api.SendJsonAsync(HttpMethod.Post, $"/api/room/{room}/bans", new JsonObject { ["user"] = "no-such-user-" + Guid.NewGuid().ToString("N") });
        Assert.Equal(HttpStatusCode.BadRequest, unknown);
        Assert.Equal("user", error["error"]!["arg"]!.GetValue<string>());
        var (both, bad) = await api.SendJsonAsync(HttpMethod.Post, $"/api/room/{room}/bans", new JsonObject { ["user"] = victim.Username, ["clientId"] = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, both);
        Assert.Equal("BadApiArgumentException", bad["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnIpBanKeepsOutANewAnonymousSessionFromTheSameAddressAndStoresNoAddress()
    {
        var (room, owner, ownerSocket) = await OwnedRoomAsync();
        await using var _ = ownerSocket;
        var (victim, _, _) = await TryJoinAsync(room, await app.GrantAsync(), "203.0.113.7");
        await using var __ = victim!;

        await ownerSocket.RequestAsync(Ban(new JsonObject { ["clientId"] = victim!.ClientId, ["byIp"] = true }), Ct);

        Assert.Equal(4005, await victim.CloseCodeAsync(Ct));
        await AssertBannedAsync(TryJoinAsync(room, await app.GrantAsync(), "203.0.113.7"));
        var (elsewhere, _, _) = await TryJoinAsync(room, await app.GrantAsync(), "203.0.113.8");
        Assert.NotNull(elsewhere);
        await elsewhere.DisposeAsync();
        using var api = app.ApiClient(owner.Token);
        var (_, list) = await api.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}/bans");
        Assert.True(list["bans"]![0]!["target"]!["ip"]!.GetValue<bool>());
        Assert.DoesNotContain("203.0.113.7", list.ToJsonString(), StringComparison.Ordinal);
        var stored = (string)(await app.Database.StringGetAsync(app.StateKey(room)))!;
        Assert.Contains("ipHash", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("203.0.113.7", stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrantsAndTheRoleRuleGateBansOverTheSocketAndRest()
    {
        var (room, owner, ownerSocket) = await OwnedRoomAsync();
        await using var _ = ownerSocket;
        var moderator = await app.RegisterAsync();
        var registered = await app.RegisterAsync();
        await using var modSocket = await app.JoinAsync(room, moderator.Token);
        await using var regSocket = await app.JoinAsync(room, registered.Token);
        await ownerSocket.RequestAsync(AccountsTestKit.Promote(modSocket.ClientId, 3), Ct);
        await ownerSocket.WaitForAsync(AccountsTestKit.UserUpdate(modSocket.ClientId, 3), ct: Ct);

        // A Registered user holds neither bit by default: refused over the socket and over REST (403).
        await regSocket.RequestAsync(Ban(new JsonObject { ["clientId"] = modSocket.ClientId }), Ct);
        Assert.Equal("Permission denied: manage-users.ban", (await regSocket.ErrorAsync(Ct))["error"]!.GetValue<string>());
        await regSocket.RequestAsync(new JsonObject { ["type"] = 21, ["banId"] = "any" }, Ct);
        Assert.Equal("Permission denied: manage-users.ban", (await regSocket.ErrorAsync(Ct))["error"]!.GetValue<string>());
        using var regApi = app.ApiClient(registered.Token);
        foreach (var (method, path, body) in new (HttpMethod, string, JsonObject?)[]
        {
            (HttpMethod.Get, "bans", null), (HttpMethod.Post, "bans", new JsonObject { ["clientId"] = modSocket.ClientId }),
            (HttpMethod.Delete, "bans/any", null), (HttpMethod.Get, "audit", null),
        })
        {
            var (status, error) = await regApi.SendJsonAsync(method, $"/api/room/{room}/{path}", body);
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.Equal("PermissionDeniedException", error["error"]!["name"]!.GetValue<string>());
        }

        // A Moderator may ban (by default) but not read the audit log, and not ban the Owner.
        await modSocket.RequestAsync(Ban(new JsonObject { ["clientId"] = ownerSocket.ClientId }), Ct);
        Assert.Equal("Permission denied: manage-users.ban", (await modSocket.ErrorAsync(Ct))["error"]!.GetValue<string>());
        Assert.False(ownerSocket.Closed.IsCompleted);
        using var modApi = app.ApiClient(moderator.Token);
        var (auditStatus, _) = await modApi.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}/audit");
        Assert.Equal(HttpStatusCode.Forbidden, auditStatus);
        var (banned, made) = await modApi.SendJsonAsync(HttpMethod.Post, $"/api/room/{room}/bans", new JsonObject { ["clientId"] = regSocket.ClientId });
        Assert.Equal(HttpStatusCode.OK, banned);
        Assert.Equal(4005, await regSocket.CloseCodeAsync(Ct));
        Assert.Equal(moderator.Username, made["ban"]!["by"]!.GetValue<string>());

        // The Owner may take the ban bit away from Moderators.
        using var ownerApi = app.ApiClient(owner.Token);
        var (patched, _) = await ownerApi.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}",
            new JsonObject { ["grants"] = new JsonArray(new JsonArray(3, 133173247)) });
        Assert.Equal(HttpStatusCode.OK, patched);
        var (denied, _) = await modApi.SendJsonAsync(HttpMethod.Delete, $"/api/room/{room}/bans/{made["ban"]!["id"]!.GetValue<string>()}");
        Assert.Equal(HttpStatusCode.Forbidden, denied);
        var (ownerList, bans) = await ownerApi.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}/bans");
        Assert.Equal(HttpStatusCode.OK, ownerList);
        Assert.Single(bans["bans"]!.AsArray());
    }

    [Fact]
    public async Task MalformedBansAreInvalidMessagesAndChangeNothing()
    {
        var (room, owner, ownerSocket) = await OwnedRoomAsync();
        await using var _ = ownerSocket;

        await ownerSocket.RequestAsync(Ban(new JsonObject()), Ct);
        Assert.Equal("InvalidMessage", (await ownerSocket.ErrorAsync(Ct))["name"]!.GetValue<string>());
        await ownerSocket.RequestAsync(Ban(new JsonObject { ["user"] = "x", ["duration"] = -1 }), Ct);
        Assert.Equal("InvalidMessage", (await ownerSocket.ErrorAsync(Ct))["name"]!.GetValue<string>());
        await ownerSocket.RequestAsync(Ban(new JsonObject { ["clientId"] = "nobody" }), Ct);
        Assert.Equal("ClientNotFoundInRoomException", (await ownerSocket.ErrorAsync(Ct))["name"]!.GetValue<string>());

        using var api = app.ApiClient(owner.Token);
        var (_, list) = await api.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}/bans");
        Assert.Empty(list["bans"]!.AsArray());
        Assert.Equal(WebSocketState.Open, ownerSocket.Socket.State);
    }
}
