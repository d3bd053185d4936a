using System.Net;
using System.Text.Json.Nodes;
using Ott.Sync.Auth;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using StackExchange.Redis;

namespace Ott.Tests.Web;

// The auth and user lines of §11 that need rooms: a rename reaches every connection of the
// token (docs/protocol.md §3.3), and an anonymous session is role 0 (§7.4).
public sealed class UserRoomTests(OttApplication app) : IClassFixture<OttApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task RenamingSendsAUserUpdateWhereverTheTokenIsConnected()
    {
        var token = await app.GrantAsync(Ct);
        var roomA = await app.CreateRoomAsync(ct: Ct);
        var roomB = await app.CreateRoomAsync(ct: Ct);
        await using var inA = await app.JoinAsync(roomA, token, Ct);
        await using var secondTabInA = await app.JoinAsync(roomA, token, Ct);
        await using var inB = await app.JoinAsync(roomB, token, Ct);
        await using var watcher = await app.JoinAsync(roomA, ct: Ct);
        using var client = app.ApiClient(token);

        using var response = await client.SendAsync(HttpMethod.Post, "/api/user", new JsonObject { ["username"] = "Renamed Person" }, Ct);

        await response.AssertSuccessAsync(Ct);
        // The two tabs' updates may arrive in either order, so look through everything received.
        foreach (var (socket, clientId) in new[] { (watcher, inA.ClientId), (watcher, secondTabInA.ClientId), (inB, inB.ClientId) })
        {
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(socket.Messages.Any(m => IsRenamed(m, clientId))),
                TimeSpan.FromSeconds(5), $"{clientId} is shown renamed");
        }
        var room = await client.GetObjectAsync($"/api/room/{roomA}", Ct);
        Assert.Equal(2, room["users"]!.AsArray().Count(u => u!["name"].Str() == "Renamed Person"));
    }

    [Fact]
    public async Task AnAnonymousSessionIsRoleZeroInARoomWithoutAnOwner()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(token: token, ct: Ct);

        await using var socket = await app.JoinAsync(name, token, Ct);

        var self = socket.Messages.Single(m => IsUserUpdate(m, socket.ClientId));
        Assert.Equal(0, self["update"]!["value"]!["role"]!.GetValue<int>());
        using var client = app.ApiClient(token);
        Assert.Equal(0, (await client.GetObjectAsync($"/api/room/{name}", Ct))["users"]![0]!["role"]!.GetValue<int>());
        // As a REST caller with no connection, the same session is still role 0: it may not set role 0's permissions.
        var other = await app.CreateRoomAsync(ct: Ct);
        using var denied = await client.SendAsync(HttpMethod.Patch, $"/api/room/{other}", new JsonObject { ["grants"] = JsonNode.Parse("[[0,1]]") }, Ct);
        await denied.AssertErrorAsync(HttpStatusCode.BadRequest, "PermissionDeniedException",
            "Permission denied: configure-room.set-permissions.for-all-unregistered-users", Ct);
    }

    [Fact]
    public async Task AuthenticatingASocketExtendsAnAnonymousTokenToFourteenDays()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(ct: Ct);
        RedisKey key = app.KeyPrefix + "auth:" + SessionStore.KeyOf(token);
        await app.Database.KeyExpireAsync(key, TimeSpan.FromDays(1));

        await using var socket = await app.JoinAsync(name, token, Ct);

        Assert.InRange((await app.Database.KeyTimeToLiveAsync(key))!.Value,
            TimeSpan.FromDays(14) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(14));
    }

    private static bool IsRenamed(JsonObject m, string clientId) =>
        IsUserUpdate(m, clientId) && m["update"]!["value"]!["name"].Str() == "Renamed Person"
        && !m["update"]!["value"]!["isLoggedIn"]!.GetValue<bool>();

    private static bool IsUserUpdate(JsonObject m, string clientId) =>
        m.Action() == "user" && m["update"]?["kind"]?.GetValue<string>() == "update"
        && m["update"]!["value"]?["id"]?.GetValue<string>() == clientId;
}
