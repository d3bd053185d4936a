using System.Net;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// The audit log (docs/protocol.md §10): every moderation and permission change leaves an entry, written with the
// change, and admins page through it over REST, newest first.
public sealed class AuditLogTests(OttApplication app) : IClassFixture<OttApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static async Task<JsonObject> PageAsync(HttpClient api, string room, string query)
    {
        var (status, body) = await api.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}/audit{query}");
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        return body;
    }

    [Fact]
    public async Task EveryModerationActionHasAnEntryNewestFirstAndPagesChainToTheEnd()
    {
        var room = await app.CreateRoomAsync(permanent: true, ct: Ct);
        var owner = await app.RegisterAsync();
        var member = await app.RegisterAsync();
        using var api = app.ApiClient(owner.Token);
        var (claimed, _) = await api.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", new JsonObject { ["claim"] = true });
        Assert.Equal(HttpStatusCode.OK, claimed);
        await using var ownerSocket = await app.JoinAsync(room, owner.Token, Ct);
        await using var memberSocket = await app.JoinAsync(room, member.Token, Ct);
        await using var guest = await app.JoinAsync(room, ct: Ct);

        await ownerSocket.RequestAsync(AccountsTestKit.Promote(memberSocket.ClientId, 3), Ct);
        await ownerSocket.WaitForAsync(AccountsTestKit.UserUpdate(memberSocket.ClientId, 3), ct: Ct);
        await ownerSocket.RequestAsync(AccountsTestKit.Promote(memberSocket.ClientId, 2), Ct);
        await ownerSocket.WaitForAsync(AccountsTestKit.UserUpdate(memberSocket.ClientId, 2), ct: Ct);
        var (titled, _) = await api.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}", new JsonObject { ["title"] = "audited" });
        Assert.Equal(HttpStatusCode.OK, titled);
        var (granted, _) = await api.SendJsonAsync(HttpMethod.Patch, $"/api/room/{room}",
            new JsonObject { ["grants"] = new JsonArray(new JsonArray(0, 113250303 & ~128)) });
        Assert.Equal(HttpStatusCode.OK, granted);
        await ownerSocket.RequestAsync(AccountsTestKit.Kick(guest.ClientId), Ct);
        Assert.Equal(4005, await guest.CloseCodeAsync(Ct));
        var (banned, ban) = await api.SendJsonAsync(HttpMethod.Post, $"/api/room/{room}/bans", new JsonObject { ["clientId"] = memberSocket.ClientId });
        Assert.Equal(HttpStatusCode.OK, banned);
        var (unbanned, _) = await api.SendJsonAsync(HttpMethod.Delete, $"/api/room/{room}/bans/{ban["ban"]!["id"]!.GetValue<string>()}");
        Assert.Equal(HttpStatusCode.OK, unbanned);

        // Each action was acknowledged, so its entry is already there: read three at a time.
        var entries = new List<JsonObject>();
        var query = "?limit=3";
        var pages = 0;
        while (true)
        {
            var page = await PageAsync(api, room, query);
            pages++;
            entries.AddRange(page["entries"]!.AsArray().Select(e => e!.AsObject()));
            if (page["next"] is not { } next)
            {
                break;
            }
            query = $"?limit=3&before={next.GetValue<string>()}";
        }

        Assert.Equal(3, pages);
        Assert.Equal(["unban", "ban", "kick", "permissions", "settings", "demote", "promote", "claim"],
            entries.Select(e => e["action"]!.GetValue<string>()));
        Assert.Equal(entries.Count, entries.Select(e => e["id"]!.GetValue<string>()).Distinct().Count());
        Assert.True(entries.Zip(entries.Skip(1)).All(p => p.First["at"]!.GetValue<long>() >= p.Second["at"]!.GetValue<long>()));
        var claim = entries[^1];
        Assert.Equal(owner.Username, claim["actor"]!["user"]!.GetValue<string>());
        Assert.Equal(1, claim["actor"]!["role"]!.GetValue<int>()); // Registered when it claimed
        var kick = entries[2];
        Assert.Equal(["action", "actor", "at", "id", "target"], kick.Select(kv => kv.Key).Order());
        Assert.Equal(-1, kick["actor"]!["role"]!.GetValue<int>());
        Assert.False(kick["target"]!.AsObject().ContainsKey("user")); // the guest has no account
        var promote = entries[^2];
        Assert.Equal(member.Username, promote["target"]!["user"]!.GetValue<string>());
        Assert.Equal(3, promote["details"]!["to"]!.GetValue<int>());
        Assert.Equal("audited", entries[4]["details"]!["title"]!.GetValue<string>());
        Assert.Equal("[[0,113250175]]", entries[3]["details"]!["grants"]!.ToJsonString());
        Assert.Equal(ban["ban"]!["id"]!.GetValue<string>(), entries[0]["details"]!["banId"]!.GetValue<string>());
    }

    [Fact]
    public async Task BadPagingArgumentsAreRefusedAndARefusedActionLeavesNoEntry()
    {
        var room = await app.CreateRoomAsync(ct: Ct);
        await using var guest = await app.JoinAsync(room, ct: Ct);
        await using var other = await app.JoinAsync(room, ct: Ct);
        using var admin = app.AdminClient();

        foreach (var query in new[] { "?limit=0", "?limit=101", "?limit=x", "?before=0", "?before=abc" })
        {
            var (status, body) = await admin.SendJsonAsync(HttpMethod.Get, $"/api/room/{room}/audit{query}");
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("BadApiArgumentException", body["error"]!["name"]!.GetValue<string>());
        }
        // An anonymous user may not kick by default: refused, and nothing is logged.
        await guest.RequestAsync(AccountsTestKit.Kick(other.ClientId), Ct);
        await guest.WaitForAsync(m => m.Action() == "error", ct: Ct);
        var page = await PageAsync(admin, room, "");
        Assert.Empty(page["entries"]!.AsArray());
        Assert.Null(page["next"]);
    }
}
