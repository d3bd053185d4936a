using System.Net;
using System.Text.Json.Nodes;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using StackExchange.Redis;

namespace Ott.Tests.Web;

// Issue 3, done-when: no password material in Redis outside the account record, nor in any socket
// frame. A whole account life runs in rooms; then every key of the prefix and every frame is read.
public sealed class AccountsSecrecyTests(OttApplication app) : IClassFixture<OttApplication>
{
    [Fact]
    public async Task NoPasswordMaterialReachesRoomStateOtherKeysOrSocketFrames()
    {
        const string password = "Sup3r-Secret-Pw!";
        const string newPassword = "An0ther-Secret-Pw!";
        var sockets = new List<OttTestClient>();
        try
        {
            var owner = await app.RegisterAsync(password: password);
            var member = await app.RegisterAsync(password: password);
            var permanent = await app.CreateRoomAsync(permanent: true, token: owner.Token);
            var ownerless = await app.CreateRoomAsync(permanent: true);
            foreach (var room in new[] { permanent, ownerless })
            {
                sockets.Add(await app.JoinAsync(room, owner.Token));
                sockets.Add(await app.JoinAsync(room, member.Token));
                sockets.Add(await app.JoinAsync(room));
            }
            using var ownerApi = app.ApiClient(owner.Token);
            using var memberApi = app.ApiClient(member.Token);
            Assert.Equal(HttpStatusCode.OK, (await memberApi.SendJsonAsync(HttpMethod.Patch, $"/api/room/{ownerless}", new JsonObject { ["claim"] = true })).Status);
            await sockets[0].RequestAsync(AccountsTestKit.Promote(sockets[1].ClientId, 4));
            await sockets[0].WaitForAsync(AccountsTestKit.UserUpdate(sockets[1].ClientId, 4));
            await sockets[0].RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "hello" });
            await sockets[1].WaitForAsync(m => m.Action() == "chat");
            Assert.Equal(HttpStatusCode.OK, (await ownerApi.SendJsonAsync(HttpMethod.Patch, "/api/user/account",
                new JsonObject { ["currentPassword"] = password, ["newPassword"] = newPassword })).Status);
            Assert.Equal(HttpStatusCode.OK, (await ownerApi.SendJsonAsync(HttpMethod.Post, "/api/user", new JsonObject { ["username"] = owner.Username + "2" })).Status);
            await sockets[1].SeenAsync(m => AccountsTestKit.UserUpdate(sockets[0].ClientId)(m)
                && m["update"]!["value"]!["name"]!.GetValue<string>() == owner.Username + "2");
            Assert.Equal(HttpStatusCode.OK, (await memberApi.SendJsonAsync(HttpMethod.Post, "/api/user/logout")).Status);
            Assert.Equal(HttpStatusCode.OK, (await memberApi.SendJsonAsync(HttpMethod.Post, "/api/user/login",
                new JsonObject { ["user"] = member.Username, ["password"] = password })).Status);
            await sockets[4].SeenAsync(m => AccountsTestKit.UserUpdate(sockets[4].ClientId, role: -1)(m));

            // The hashes as stored, so the scan can look for them elsewhere.
            var hashes = new List<string>();
            foreach (var id in new[] { owner.Id, member.Id })
            {
                var record = JsonNode.Parse((string)(await app.Database.StringGetAsync(new RedisKeys(app.KeyPrefix).User(id)))!)!;
                var hash = record["passwordHash"]!.GetValue<string>();
                Assert.True(hash.Length > 40);
                Assert.DoesNotContain(password, record.ToJsonString(), StringComparison.Ordinal);
                hashes.Add(hash);
            }
            var forbidden = new[] { password, newPassword }.Concat(hashes).ToList();

            var server = app.Database.Multiplexer.GetServers()[0];
            var roomStates = 0;
            await foreach (var key in server.KeysAsync(pattern: app.KeyPrefix + "*"))
            {
                var name = key.ToString();
                var values = await ValuesOfAsync(app.Database, key);
                var isAccountRecord = System.Text.RegularExpressions.Regex.IsMatch(name[app.KeyPrefix.Length..], @"^\{users\}:[0-9]+$");
                roomStates += name.EndsWith(":state", StringComparison.Ordinal) ? 1 : 0;
                foreach (var value in values)
                {
                    Assert.DoesNotContain(password, value, StringComparison.Ordinal);
                    Assert.DoesNotContain(newPassword, value, StringComparison.Ordinal);
                    if (!isAccountRecord)
                    {
                        foreach (var secret in forbidden)
                        {
                            Assert.DoesNotContain(secret, value, StringComparison.Ordinal);
                        }
                        Assert.DoesNotContain("password", value, StringComparison.OrdinalIgnoreCase);
                    }
                }
            }
            Assert.Equal(2, roomStates);

            var frames = sockets.SelectMany(s => s.Messages).Select(m => m.ToJsonString()).ToList();
            Assert.True(frames.Count > 30);
            foreach (var frame in frames)
            {
                foreach (var secret in forbidden)
                {
                    Assert.DoesNotContain(secret, frame, StringComparison.Ordinal);
                }
                Assert.DoesNotContain("password", frame, StringComparison.OrdinalIgnoreCase);
            }
        }
        finally
        {
            foreach (var socket in sockets)
            {
                await socket.DisposeAsync();
            }
        }
    }

    private static async Task<List<string>> ValuesOfAsync(IDatabase db, RedisKey key)
    {
        var type = await db.KeyTypeAsync(key);
        return type switch
        {
            RedisType.String => [(string?)await db.StringGetAsync(key) ?? ""],
            RedisType.Set => [.. (await db.SetMembersAsync(key)).Select(v => (string)v!)],
            RedisType.SortedSet => [.. (await db.SortedSetRangeByRankAsync(key)).Select(v => (string)v!)],
            RedisType.Hash => [.. (await db.HashGetAllAsync(key)).SelectMany(e => new[] { (string)e.Name!, (string)e.Value! })],
            RedisType.List => [.. (await db.ListRangeAsync(key)).Select(v => (string)v!)],
            _ => [],
        };
    }
}
