using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Ott.Tests.Hostile;

/// <summary>
/// Seeded bad REST traffic against every room and user endpoint: each answer is an OTT error JSON with
/// a 4xx status (never a 5xx), and the target room's stored record is byte-for-byte unchanged.
/// </summary>
public sealed class RestAbuseTests(OttApplication app, ITestOutputHelper output) : IClassFixture<OttApplication>
{
    private static readonly HttpStatusCode[] Allowed =
    [
        HttpStatusCode.BadRequest, HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.NotFound,
        HttpStatusCode.RequestEntityTooLarge,
    ];

    private static readonly string[] ContentTypes = ["application/json", "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"];

    [Theory]
    [InlineData(1)]
    [InlineData(99)]
    public async Task BadRequestsGetOttErrorJsonNever5xxAndChangeNothing(int seed)
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var owner = await app.GrantAsync();
        var room = await app.CreateRoomAsync(permanent: true, token: owner);
        await using var socket = await app.JoinAsync(room, owner);
        using (var setup = app.ApiClient(owner))
        {
            using var add = await setup.PostAsync($"/api/room/{room}/queue", OttApplication.Json(new JsonObject { ["service"] = "direct", ["id"] = "https://example.com/one.mp4" }));
            Assert.Equal(HttpStatusCode.OK, add.StatusCode);
        }
        var before = await app.Store.ReadStateAsync(room, CancellationToken.None);

        for (var i = 0; i < 300; i++)
        {
            var (method, path, body, contentType, token) = BadRequest(random, room, owner);
            using var request = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8);
                request.Content.Headers.Remove("Content-Type");
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
            if (token is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
            }
            using var http = app.ApiClient();
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(Allowed.Contains(response.StatusCode), $"{method} {path} {body?[..Math.Min(body.Length, 200)]} → {(int)response.StatusCode} {text}");
            var error = JsonNode.Parse(text)!;
            Assert.Equal("object", JsonValueKind(error["error"]));
            Assert.IsType<string>(error["error"]!["message"]!.GetValue<string>());
            Assert.DoesNotContain("\"type\":\"https://tools.ietf.org", text, StringComparison.Ordinal); // never ProblemDetails
        }

        Assert.Equal(before, await app.Store.ReadStateAsync(room, CancellationToken.None));
        await socket.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "alive" });
        await socket.WaitForAsync(m => m.Action() == "chat");
    }

    private static string JsonValueKind(JsonNode? node) => node?.GetValueKind().ToString().ToLowerInvariant() ?? "null";

    // (%2e%2e is left out: HttpClient itself folds the dot segments before sending.)
    private static readonly string[] Traversal = ["..%2F..", "a.b", "x%20y", "%3Cscript%3E", "room%2Fqueue"];

    /// <summary>A request that must be refused: a forged or missing token, a bad name, or a body no schema accepts.</summary>
    private static (HttpMethod, string, string?, string, string?) BadRequest(Random random, string room, string token)
    {
        string Junk() => random.Next(9) switch
        {
            0 => "null",
            1 => "123",
            2 => "\"str\"",
            3 => "[1,2]",
            4 => "{\"a\":{\"b\":[]}}",
            5 => new string('[', 200) + new string(']', 200),
            6 => "{\"title\":" + new string('9', 400) + "}",
            7 => "{not json",
            _ => "true",
        };
        var forged = Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return random.Next(16) switch
        {
            0 => (HttpMethod.Get, $"/api/room/{room}", null, "application/json", forged), // forged token → 401
            1 => (HttpMethod.Patch, $"/api/room/{room}", "{\"title\":\"x\"}", "application/json", null), // no token → 400
            2 => (HttpMethod.Get, $"/api/room/{Traversal[random.Next(Traversal.Length)]}", null, "application/json", token),
            3 => (HttpMethod.Patch, $"/api/room/{room}", "{\"title\":" + (Junk() is var t && t.StartsWith('"') ? "5" : t) + "}", "application/json", token),
            4 => (HttpMethod.Patch, $"/api/room/{room}", "{\"title\":\"" + new string('t', 255 + random.Next(100)) + "\"}", "application/json", token),
            5 => (HttpMethod.Patch, $"/api/room/{room}", "{\"visibility\":\"" + Guid.NewGuid() + "\"}", "application/json", token),
            6 => (HttpMethod.Patch, $"/api/room/{room}", "{\"grants\":" + Junk() + "}", "application/json", token),
            7 => (HttpMethod.Post, $"/api/room/{room}/queue", Junk(), "application/json", token),
            8 => (HttpMethod.Post, $"/api/room/{room}/queue", "{\"service\":\"nope\",\"id\":\"x\"}", ContentTypes[random.Next(2)], token),
            9 => (HttpMethod.Patch, $"/api/room/{room}/queue", "{\"service\":\"direct\",\"id\":\"https://example.com/one.mp4\",\"subtitleUrl\":" + (random.Next(2) == 0 ? "5" : "\"x.srt\"") + "}", "application/json", token),
            10 => (HttpMethod.Delete, $"/api/room/{room}/queue", "{\"service\":\"direct\",\"id\":\"https://example.com/absent.mp4\"}", "application/json", token),
            11 => (HttpMethod.Post, $"/api/room/{room}/undo", "{\"data\":{\"event\":{\"id\":\"" + Guid.NewGuid() + "\"}}}", "application/json", token),
            12 => (HttpMethod.Post, $"/api/room/{room}/vote", "{\"service\":" + Junk() + "}", "application/json", token),
            13 => (HttpMethod.Delete, $"/api/room/{room}", null, "application/json", token), // no apikey
            14 => (HttpMethod.Post, "/api/room/create", "{\"name\":\"" + room.ToUpperInvariant() + "\"}", ContentTypes[0], token), // taken
            _ => (HttpMethod.Post, "/api/user", "{\"username\":\"" + new string('u', 49 + random.Next(10)) + "\"}", "application/json", token),
        };
    }
}

/// <summary>A token only acts as itself, a socket only touches its own room, and nothing secret is ever sent.</summary>
public sealed class IsolationTests(OttApplication app) : IClassFixture<OttApplication>
{
    [Fact]
    public async Task ARestCallActsAsItsOwnTokensConnectionNeverAnothers()
    {
        var room = await app.CreateRoomAsync();
        var alice = await app.GrantAsync();
        var bob = await app.GrantAsync();
        await using var aliceSocket = await app.JoinAsync(room, alice);
        await using var bobSocket = await app.JoinAsync(room, bob);

        using var http = app.ApiClient(bob);
        using var add = await http.PostAsync($"/api/room/{room}/queue", OttApplication.Json(new JsonObject { ["url"] = "https://example.com/bob.mp4" }));
        Assert.Equal(HttpStatusCode.OK, add.StatusCode);

        var @event = await aliceSocket.WaitForAsync(m => m.Action() == "event" && m["request"]!["type"]!.GetValue<int>() == 5);
        Assert.Equal(bobSocket.ClientId, @event["user"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task ASocketJoinedToOneRoomNeverAffectsAnother()
    {
        var x = await app.CreateRoomAsync();
        var y = await app.CreateRoomAsync();
        await using var inX = await app.JoinAsync(x);
        await using var inY = await app.JoinAsync(y);
        inY.SkipReceived();
        var yBefore = await app.Store.ReadStateAsync(y, CancellationToken.None);

        await inX.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 99 });
        await inX.RequestAsync(new JsonObject { ["type"] = 5, ["url"] = "https://example.com/x.mp4" });
        await inX.RequestAsync(new JsonObject { ["type"] = 18, ["clientId"] = inY.ClientId });
        await inX.ErrorAsync();
        await inX.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "only x" });
        await inX.WaitForAsync(m => m.Action() == "chat");

        Assert.Equal(yBefore, await app.Store.ReadStateAsync(y, CancellationToken.None));
        await inY.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "y marker" });
        var next = await inY.WaitForAsync(_ => true);
        Assert.Equal("y marker", next["text"]?.GetValue<string>());
    }

    [Fact]
    public async Task NoFrameOrResponseEverCarriesATokenOrSessionKey()
    {
        var room = await app.CreateRoomAsync();
        var alice = await app.GrantAsync();
        var bob = await app.GrantAsync();
        await using var a = await app.JoinAsync(room, alice);
        await using var b = await app.JoinAsync(room, bob);
        using var http = app.ApiClient(alice);
        await a.RequestAsync(new JsonObject { ["type"] = 5, ["url"] = "https://example.com/s.mp4" });
        await a.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "hi" });
        using (await http.PostAsync("/api/user", OttApplication.Json(new JsonObject { ["username"] = "alice" }))) { }
        await b.WaitForAsync(m => m.Action() == "user" && m["update"]!["value"]!["name"]?.GetValue<string>() == "alice");
        var responses = new[]
        {
            await http.GetStringAsync($"/api/room/{room}"),
            await http.GetStringAsync("/api/room/list"),
            await http.GetStringAsync("/api/user"),
        };
        var everything = string.Join("\n", responses) + a.Dump() + b.Dump();
        foreach (var secret in new[] { alice, bob, Ott.Sync.Auth.SessionStore.KeyOf(alice), Ott.Sync.Auth.SessionStore.KeyOf(bob) })
        {
            Assert.DoesNotContain(secret, everything, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("userRoles", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("\"owner\"", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("\"votes\"", everything, StringComparison.Ordinal);
    }
}
