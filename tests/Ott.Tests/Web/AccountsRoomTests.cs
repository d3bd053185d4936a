using System.Net;
using System.Text.Json.Nodes;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// Accounts in rooms (protocol §4.3 claim and delete, §7.4–§7.6): roles, claim, promotion, kicks,
// grant edits and permanent deletes, over real sockets against real Redis.
public sealed class AccountsRoomTests(OttApplication app) : IClassFixture<OttApplication>
{
    private static int RoleIn(JsonObject userUpdate) => userUpdate["update"]!["value"]!["role"]!.GetValue<int>();

    private static Task<JsonObject> ErrorNamedAsync(OttTestClient client, string name) =>
        client.WaitForAsync(m => m.Action() == "error" && m["name"]?.GetValue<string>() == name);

    // An owner-created permanent room plus a logged-in socket for the owner.
    private async Task<(string Room, TestAccount Owner, OttTestClient OwnerSocket)> OwnedRoomAsync()
    {
        var owner = await app.RegisterAsync();
        var room = await app.CreateRoomAsync(permanent: true, token: owner.Token);
        return (room, owner, await app.JoinAsync(room, owner.Token));
    }

    // ----- joining -----

    [Fact]
    public async Task ALoggedInJoinCarriesUserIdAndIsRegisteredInAnOwnerlessRoom()
    {
        var room = await app.CreateRoomAsync();
        var account = await app.RegisterAsync();

        await using var client = await app.JoinAsync(room, account.Token);

        var join = client.Messages.First(m => m.Action() == "event");
        var info = join["request"]!["info"]!.AsObject();
        Assert.Equal(["id", "user_id"], info.Select(kv => kv.Key).Order());
        Assert.Equal(client.ClientId, info["id"]!.GetValue<string>());
        Assert.Equal(account.Id, info["user_id"]!.GetValue<long>());
        var self = client.Messages.First(AccountsTestKit.UserUpdate(client.ClientId));
        Assert.Equal(1, RoleIn(self));
        Assert.True(self["update"]!["value"]!["isLoggedIn"]!.GetValue<bool>());
        Assert.Equal(account.Username, self["update"]!["value"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task ALoggedInCreateStoresTheOwnerAsIdAndUsernameOnly()
    {
        var (room, owner, socket) = await OwnedRoomAsync();
        await using var _ = socket;

        var stored = JsonNode.Parse((string)(await app.Database.StringGetAsync(app.KeyPrefix + "room:{" + room.ToLowerInvariant() + "}:state"))!)!;
        var storedOwner = stored["owner"]!.AsObject();

        Assert.Equal(["id", "username"], storedOwner.Select(kv => kv.Key).Order());
        Assert.Equal(owner.Id, storedOwner["id"]!.GetValue<long>());
        Assert.Equal(owner.Username, storedOwner["username"]!.GetValue<string>());
        Assert.Equal(-1, RoleIn(socket.Messages.First(AccountsTestKit.UserUpdate(socket.ClientId))));
    }

    // ----- claim -----

    [Fact]
    public async Task ClaimMakesTheClaimerOwnerOnEveryConnectionOfTheAccount()
    {
        var room = await app.CreateRoomAsync(permanent: true);
        var account = await app.RegisterAsync();
        var secondToken = await app.LoginAsync(account);
        await using var a1 = await app.JoinAsync(room, account.Token);
        await using var a2 = await app.JoinAsync(room, account.Token);
        await using var a3 = await app.JoinAsync(room, secondToken);
        await using var watcher = await app.JoinAsync(room);
        using var client = app.ApiClient(account.Token);

        var (noop, _) = await client.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", new JsonObject { ["claim"] = false });
        var (status, body) = await client.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", new JsonObject { ["claim"] = true, ["title"] = "ignored" });

        Assert.Equal(HttpStatusCode.OK, noop);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body["success"]!.GetValue<bool>());
        await watcher.SeenAsync(m => m.Action() == "sync" && m["hasOwner"]?.GetValue<bool>() == true);
        foreach (var socket in new[] { a1, a2, a3 })
        {
            await watcher.SeenAsync(AccountsTestKit.UserUpdate(socket.ClientId, role: -1));
            await socket.SeenAsync(AccountsTestKit.UserUpdate(socket.ClientId, role: -1));
        }
        using var get = app.ApiClient(await app.GrantAsync());
        var (_, roomBody) = await get.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}");
        Assert.True(roomBody["hasOwner"]!.GetValue<bool>());
        Assert.Equal("", roomBody["title"]!.GetValue<string>());
        // The claimed permanent room is the account's.
        var (_, owned) = await client.SendJsonAsync(HttpMethod.Get, "/api/user/owned-rooms");
        Assert.Contains(owned["data"]!.AsArray(), r => r!["name"]!.GetValue<string>() == room);
    }

    [Fact]
    public async Task ClaimIsRefusedForAnAnonymousCallerAndForAnOwnedRoom()
    {
        var ownerless = await app.CreateRoomAsync();
        var (owned, _, socket) = await OwnedRoomAsync();
        await using var _ = socket;
        var other = await app.RegisterAsync();
        using var anonymous = app.ApiClient(await app.GrantAsync());
        using var registered = app.ApiClient(other.Token);

        var (anonStatus, anonBody) = await anonymous.SendJsonAsync(HttpMethod.Patch, $"/api/room/{ownerless}", new JsonObject { ["claim"] = true });
        var (takenStatus, takenBody) = await registered.SendJsonAsync(HttpMethod.Patch, $"/api/room/{owned}", new JsonObject { ["claim"] = true });

        Assert.Equal(HttpStatusCode.Unauthorized, anonStatus);
        Assert.Equal("""{"success":false,"error":{"message":"Must be logged in to claim room ownership."}}""", anonBody.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, takenStatus);
        Assert.Equal("BadApiArgumentException", takenBody["error"]!["name"]!.GetValue<string>());
        Assert.Equal("claim", takenBody["error"]!["arg"]!.GetValue<string>());
        Assert.Equal("Room already has owner.", takenBody["error"]!["reason"]!.GetValue<string>());
        // The refused claimer's owned rooms do not list it.
        var (_, list) = await registered.SendJsonAsync(HttpMethod.Get, "/api/user/owned-rooms");
        Assert.DoesNotContain(list["data"]!.AsArray(), r => r!["name"]!.GetValue<string>() == owned);
    }

    // ----- promote (§7.5) -----

    [Fact]
    public async Task PromotionUpdatesEveryConnectionOfTheAccountAndSurvivesARestart()
    {
        var backend = app.Backend;
        var prefix = $"test-{Guid.NewGuid():N}:";
        var first = new OttApplication(backend, ownsRedis: false, prefix);
        await first.InitializeAsync();
        var owner = await first.RegisterAsync();
        var member = await first.RegisterAsync();
        var room = await first.CreateRoomAsync(permanent: true, token: owner.Token);
        var ownerSocket = await first.JoinAsync(room, owner.Token);
        var m1 = await first.JoinAsync(room, member.Token);
        var m2 = await first.JoinAsync(room, await first.LoginAsync(member));

        await ownerSocket.RequestAsync(AccountsTestKit.Promote(m1.ClientId, 3));

        await ownerSocket.WaitForAsync(AccountsTestKit.UserUpdate(m1.ClientId, role: 3));
        await ownerSocket.WaitForAsync(AccountsTestKit.UserUpdate(m2.ClientId, role: 3));
        await m2.WaitForAsync(AccountsTestKit.UserUpdate(m2.ClientId, role: 3));
        await ownerSocket.DisposeAsync();
        await m1.DisposeAsync();
        await m2.DisposeAsync();
        await first.DisposeAsync();

        await using var second = new OttApplication(backend, ownsRedis: false, prefix);
        await second.InitializeAsync();
        await using var again = await second.JoinAsync(room, member.Token);
        Assert.Equal(3, RoleIn(again.Messages.First(AccountsTestKit.UserUpdate(again.ClientId))));
    }

    [Fact]
    public async Task PromotionAndDemotionFollowThePermissionBitsAndRefuseImpossibleOnes()
    {
        var (room, owner, ownerSocket) = await OwnedRoomAsync();
        await using var _ = ownerSocket;
        var a = await app.RegisterAsync();
        var b = await app.RegisterAsync();
        await using var sa = await app.JoinAsync(room, a.Token);
        await using var sb = await app.JoinAsync(room, b.Token);
        await using var anon = await app.JoinAsync(room);
        await using var anon2 = await app.JoinAsync(room);

        // Role 0 cannot promote to Trusted: the permission is checked first, even for an anonymous target.
        await anon.RequestAsync(AccountsTestKit.Promote(anon2.ClientId, 2));
        Assert.Equal("Permission denied: manage-users.promote-trusted-user", (await ErrorNamedAsync(anon, "PermissionDeniedException"))["error"]!.GetValue<string>());
        // Role 1 needs no permission, so an anonymous target is the refusal.
        await anon.RequestAsync(AccountsTestKit.Promote(anon2.ClientId, 1));
        Assert.Equal("Can't promote/demote unregistered user", (await ErrorNamedAsync(anon, "ImpossiblePromotionException"))["error"]!.GetValue<string>());
        // Even the owner cannot promote an anonymous user.
        await ownerSocket.RequestAsync(AccountsTestKit.Promote(anon.ClientId, 2));
        await ErrorNamedAsync(ownerSocket, "ImpossiblePromotionException");
        // Demoting a Registered user has no demote permission: impossible.
        await ownerSocket.RequestAsync(AccountsTestKit.Promote(sb.ClientId, 0));
        await ErrorNamedAsync(ownerSocket, "ImpossiblePromotionException");
        // Nor can the owner be demoted.
        await ownerSocket.RequestAsync(AccountsTestKit.Promote(ownerSocket.ClientId, 1));
        await ErrorNamedAsync(ownerSocket, "ImpossiblePromotionException");
        // An unknown target.
        await ownerSocket.RequestAsync(AccountsTestKit.Promote("no-such-client", 2));
        await ErrorNamedAsync(ownerSocket, "ClientNotFoundInRoomException");

        // The owner makes A a Moderator.
        await ownerSocket.RequestAsync(AccountsTestKit.Promote(sa.ClientId, 3));
        await sb.WaitForAsync(AccountsTestKit.UserUpdate(sa.ClientId, role: 3));
        // A Moderator may promote and demote Trusted users by default...
        await sa.RequestAsync(AccountsTestKit.Promote(sb.ClientId, 2));
        await sb.WaitForAsync(AccountsTestKit.UserUpdate(sb.ClientId, role: 2));
        await sa.RequestAsync(AccountsTestKit.Promote(sb.ClientId, 1));
        await sb.WaitForAsync(AccountsTestKit.UserUpdate(sb.ClientId, role: 1));
        // ...but not make Moderators or Administrators.
        await sa.RequestAsync(AccountsTestKit.Promote(sb.ClientId, 4));
        Assert.Equal("Permission denied: manage-users.promote-admin", (await ErrorNamedAsync(sa, "PermissionDeniedException"))["error"]!.GetValue<string>());
        await sa.RequestAsync(AccountsTestKit.Promote(sb.ClientId, 3));
        Assert.Equal("Permission denied: manage-users.promote-moderator", (await ErrorNamedAsync(sa, "PermissionDeniedException"))["error"]!.GetValue<string>());
        // A Registered user cannot demote the Moderator: demote-moderator, chosen by the current role.
        await sb.RequestAsync(AccountsTestKit.Promote(sa.ClientId, 1));
        Assert.Equal("Permission denied: manage-users.demote-moderator", (await ErrorNamedAsync(sb, "PermissionDeniedException"))["error"]!.GetValue<string>());
        // The owner demotes the Moderator to Registered.
        await ownerSocket.RequestAsync(AccountsTestKit.Promote(sa.ClientId, 1));
        await sb.WaitForAsync(AccountsTestKit.UserUpdate(sa.ClientId, role: 1));

        using var get = app.ApiClient(owner.Token);
        var (_, roomBody) = await get.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}");
        var roles = roomBody["users"]!.AsArray().ToDictionary(u => u!["id"]!.GetValue<string>(), u => u!["role"]!.GetValue<int>());
        Assert.Equal(-1, roles[ownerSocket.ClientId]);
        Assert.Equal(1, roles[sa.ClientId]);
        Assert.Equal(1, roles[sb.ClientId]);
        Assert.Equal(0, roles[anon.ClientId]);
    }

    // ----- kick (§7.6) -----

    private async Task<(string Room, Dictionary<string, OttTestClient> Sockets)> StaffedRoomAsync()
    {
        var (room, _, ownerSocket) = await OwnedRoomAsync();
        var sockets = new Dictionary<string, OttTestClient> { ["owner"] = ownerSocket };
        foreach (var (who, role) in new[] { ("admin1", 4), ("admin2", 4), ("moderator", 3), ("trusted", 2) })
        {
            var account = await app.RegisterAsync();
            var socket = await app.JoinAsync(room, account.Token);
            sockets[who] = socket;
            await ownerSocket.RequestAsync(AccountsTestKit.Promote(socket.ClientId, role));
            await ownerSocket.WaitForAsync(AccountsTestKit.UserUpdate(socket.ClientId, role));
        }
        sockets["anonymous"] = await app.JoinAsync(room);
        return (room, sockets);
    }

    [Theory]
    [InlineData("owner", "admin1", true)]
    [InlineData("admin1", "owner", false)]
    [InlineData("admin1", "admin2", false)]
    [InlineData("admin1", "moderator", true)]
    [InlineData("moderator", "trusted", true)]
    [InlineData("trusted", "anonymous", true)]
    [InlineData("anonymous", "admin1", false)]
    [InlineData("trusted", "moderator", false)]
    public async Task KicksFollowTheRoleOrderAndTheKickPermission(string actor, string target, bool allowed)
    {
        var (room, sockets) = await StaffedRoomAsync();
        try
        {
            if (actor is "trusted")
            {
                // Trusted users get the kick bit (role 0 cannot hold it, §7.2), so only the role order decides.
                using var ownerApi = app.ApiClient(sockets["owner"].Token);
                var (status, _) = await ownerApi.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}",
                    new JsonObject { ["grants"] = new JsonArray(new JsonArray(2, 113250303 | 16777216)) });
                Assert.Equal(HttpStatusCode.OK, status);
            }
            var victim = sockets[target];
            var witness = sockets[target == "owner" ? "admin2" : "owner"];
            witness.SkipReceived();

            await sockets[actor].RequestAsync(AccountsTestKit.Kick(victim.ClientId));

            if (allowed)
            {
                Assert.Equal(4005, await victim.CloseCodeAsync());
                var leave = await witness.WaitForAsync(m => m.Action() == "event" && m["request"]!["type"]!.GetValue<int>() == 1);
                Assert.Equal(victim.ClientId, leave["user"]!["id"]!.GetValue<string>());
                await witness.WaitForAsync(m => m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "remove"
                    && m["update"]!["value"]!.GetValue<string>() == victim.ClientId);
            }
            else
            {
                var error = await ErrorNamedAsync(sockets[actor], "PermissionDeniedException");
                Assert.Equal("Permission denied: manage-users.kick", error["error"]!.GetValue<string>());
                using var get = app.ApiClient(sockets["owner"].Token);
                var (_, roomBody) = await get.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}");
                Assert.Contains(roomBody["users"]!.AsArray(), u => u!["id"]!.GetValue<string>() == victim.ClientId);
                Assert.False(victim.Closed.IsCompleted);
            }
        }
        finally
        {
            foreach (var socket in sockets.Values)
            {
                await socket.DisposeAsync();
            }
        }
    }

    // ----- grant edits (§6.6, §7.2) -----

    [Fact]
    public async Task ChangingARolesMaskNeedsTheMatchingSetPermissionsBit()
    {
        var (room, owner, ownerSocket) = await OwnedRoomAsync();
        await using var _ = ownerSocket;
        var moderator = await app.RegisterAsync();
        var registered = await app.RegisterAsync();
        await using var moderatorSocket = await app.JoinAsync(room, moderator.Token);
        await ownerSocket.RequestAsync(AccountsTestKit.Promote(moderatorSocket.ClientId, 3));
        await ownerSocket.WaitForAsync(AccountsTestKit.UserUpdate(moderatorSocket.ClientId, 3));
        using var ownerApi = app.ApiClient(owner.Token);
        using var moderatorApi = app.ApiClient(moderator.Token);
        using var registeredApi = app.ApiClient(registered.Token);
        static JsonObject Grants(int role, int mask) => new() { ["grants"] = new JsonArray(new JsonArray(role, mask)) };

        // A Registered caller (REST, judged from the session) may not change role 0.
        var (r1, b1) = await registeredApi.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", Grants(0, 1));
        Assert.Equal(HttpStatusCode.BadRequest, r1);
        Assert.Equal("Permission denied: configure-room.set-permissions.for-all-unregistered-users", b1["error"]!["message"]!.GetValue<string>());
        // Nor may a default Moderator change role 2.
        var (r2, b2) = await moderatorApi.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", Grants(2, 113250303 | 8192));
        Assert.Equal(HttpStatusCode.BadRequest, r2);
        Assert.Equal("Permission denied: configure-room.set-permissions.for-trusted-users", b2["error"]!["message"]!.GetValue<string>());

        // The owner gives Moderators set-permissions.for-trusted-users (bit 13)...
        var (r3, _) = await ownerApi.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", Grants(3, 133173247 | 8192));
        Assert.Equal(HttpStatusCode.OK, r3);
        // ...so the Moderator may now change role 2, but still not role 0 or role 3 (for-moderator needs role 4).
        var (r4, _) = await moderatorApi.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", Grants(2, 113250303 | 1048576));
        Assert.Equal(HttpStatusCode.OK, r4);
        var (r5, b5) = await moderatorApi.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", Grants(0, 1));
        Assert.Equal(HttpStatusCode.BadRequest, r5);
        Assert.Equal("Permission denied: configure-room.set-permissions.for-all-unregistered-users", b5["error"]!["message"]!.GetValue<string>());
        var (r6, b6) = await moderatorApi.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", Grants(3, 134217727));
        Assert.Equal(HttpStatusCode.BadRequest, r6);
        Assert.Equal("Permission denied: configure-room.set-permissions.for-moderator", b6["error"]!["message"]!.GetValue<string>());

        // The same rule over the socket (type 13).
        await moderatorSocket.RequestAsync(new JsonObject { ["type"] = 13, ["settings"] = Grants(1, 1) });
        Assert.Equal("Permission denied: configure-room.set-permissions.for-all-registered-users",
            (await ErrorNamedAsync(moderatorSocket, "PermissionDeniedException"))["error"]!.GetValue<string>());

        using var get = app.ApiClient(owner.Token);
        var (_, roomBody) = await get.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}");
        var grants = roomBody["grants"]!.AsArray().ToDictionary(p => p![0]!.GetValue<int>(), p => p![1]!.GetValue<int>());
        Assert.Equal(113250303, grants[0]);
        Assert.Equal(113250303 | 1048576, grants[2]);
        Assert.Equal(133173247 | 8192, grants[3]);
    }

    // ----- permanent delete -----

    [Fact]
    public async Task PermanentDeleteIsRefusedToAnonymousForTemporaryRoomsAndToNonOwners()
    {
        var owner = await app.RegisterAsync();
        var other = await app.RegisterAsync();
        var permanent = await app.CreateRoomAsync(permanent: true, token: owner.Token);
        var temporary = await app.CreateRoomAsync(permanent: false, token: owner.Token);
        using var anonymous = app.ApiClient(await app.GrantAsync());
        using var otherApi = app.ApiClient(other.Token);
        using var ownerApi = app.ApiClient(owner.Token);

        var (s1, b1) = await anonymous.SendJsonAsync(HttpMethod.Delete, $"/api/room/{permanent}?permanent=true");
        var (s2, b2) = await ownerApi.SendJsonAsync(HttpMethod.Delete, $"/api/room/{temporary}?permanent=true");
        var (s3, b3) = await otherApi.SendJsonAsync(HttpMethod.Delete, $"/api/room/{permanent}?permanent=true");
        var (s4, b4) = await ownerApi.SendJsonAsync(HttpMethod.Delete, $"/api/room/missing{Guid.NewGuid():N}?permanent=true");

        Assert.Equal(HttpStatusCode.Unauthorized, s1);
        Assert.Equal("""{"success":false,"error":{"name":"Unauthorized","message":"Must be logged in to permanently delete a room."}}""", b1.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, s2);
        Assert.Equal("""{"success":false,"error":{"name":"BadApiArgumentException","message":"Temporary rooms cannot be permanently deleted."}}""", b2.ToJsonString());
        Assert.Equal(HttpStatusCode.Forbidden, s3);
        Assert.Equal("""{"success":false,"error":{"name":"PermissionDeniedException","message":"Only the owner can permanently delete this room."}}""", b3.ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, s4);
        Assert.Equal("RoomNotFoundException", b4["error"]!["name"]!.GetValue<string>());
        Assert.True(await app.Database.KeyExistsAsync(app.KeyPrefix + "room:{" + permanent.ToLowerInvariant() + "}:state"));
    }

    [Fact]
    public async Task PermanentDeleteByTheOwnerClosesTheSocketsAndRemovesTheRoom()
    {
        var (room, owner, ownerSocket) = await OwnedRoomAsync();
        await using var _ = ownerSocket;
        await using var guest = await app.JoinAsync(room);
        using var ownerApi = app.ApiClient(owner.Token);

        var (status, body) = await ownerApi.SendJsonAsync(HttpMethod.Delete, $"/api/room/{room}?permanent=true");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"success":true}""", body.ToJsonString());
        Assert.Equal(4003, await ownerSocket.CloseCodeAsync());
        Assert.Equal(4003, await guest.CloseCodeAsync());
        var (getStatus, _) = await ownerApi.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}");
        Assert.Equal(HttpStatusCode.NotFound, getStatus);
        var (_, owned) = await ownerApi.SendJsonAsync(HttpMethod.Get, "/api/user/owned-rooms");
        Assert.Empty(owned["data"]!.AsArray());
        Assert.False(await app.Database.SetContainsAsync(new RedisKeys(app.KeyPrefix).UserRooms(owner.Id), room.ToLowerInvariant()));
    }

    // ----- owned rooms -----

    [Fact]
    public async Task OwnedRoomsListsThePermanentRoomsOfTheAccountLoadedOrNotAndDropsStaleNames()
    {
        var owner = await app.RegisterAsync();
        var other = await app.RegisterAsync();
        var loaded = await app.CreateRoomAsync(permanent: true, token: owner.Token,
            extra: new JsonObject { ["title"] = "Loaded", ["description"] = "d1", ["visibility"] = "public" });
        var unloaded = await app.CreateRoomAsync(permanent: true, token: owner.Token, extra: new JsonObject { ["title"] = "Resting" });
        var temporary = await app.CreateRoomAsync(permanent: false, token: owner.Token);
        var someoneElses = await app.CreateRoomAsync(permanent: true, token: other.Token);
        await using var socket = await app.JoinAsync(loaded, owner.Token);
        using var admin = app.AdminClient();
        Assert.Equal(HttpStatusCode.OK, (await admin.SendJsonAsync(HttpMethod.Delete, $"/api/room/{unloaded}")).Status);
        // Stale members: a vanished room, another account's room, a temporary room.
        var set = new RedisKeys(app.KeyPrefix).UserRooms(owner.Id);
        await app.Database.SetAddAsync(set, ["gone-" + Guid.NewGuid().ToString("N")[..8], someoneElses.ToLowerInvariant(), temporary.ToLowerInvariant()]);
        using var ownerApi = app.ApiClient(owner.Token);

        var (status, body) = await ownerApi.SendJsonAsync(HttpMethod.Get, "/api/user/owned-rooms");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body["success"]!.GetValue<bool>());
        var items = body["data"]!.AsArray().Select(i => i!.AsObject()).OrderBy(i => i["title"]!.GetValue<string>()).ToList();
        Assert.Equal(["Loaded", "Resting"], items.Select(i => i["title"]!.GetValue<string>()));
        var first = items[0];
        Assert.Equal(["currentSource", "description", "isTemporary", "name", "queueMode", "title", "users", "visibility"],
            first.Select(kv => kv.Key).Order());
        Assert.Equal(loaded, first["name"]!.GetValue<string>());
        Assert.Equal("d1", first["description"]!.GetValue<string>());
        Assert.Equal("public", first["visibility"]!.GetValue<string>());
        Assert.False(first["isTemporary"]!.GetValue<bool>());
        Assert.Equal(0, first["users"]!.GetValue<int>());
        Assert.Null(first["currentSource"]);
        Assert.Equal(unloaded, items[1]["name"]!.GetValue<string>());
        var members = (await app.Database.SetMembersAsync(set)).Select(v => (string)v!).Order();
        Assert.Equal(new[] { loaded.ToLowerInvariant(), unloaded.ToLowerInvariant() }.Order(), members);
    }
}
