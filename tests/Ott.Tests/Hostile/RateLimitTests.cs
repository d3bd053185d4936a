using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Hostile;

public sealed class RateLimitedApplication : OttApplication
{
    public RateLimitedApplication() => Settings["RateLimit:Enabled"] = "true";
}

/// <summary>The §9 points budget: headers and the cost of each endpoint (one IP per factory).</summary>
public sealed class RateLimitCostTests(RateLimitedApplication app) : IClassFixture<RateLimitedApplication>
{
    private static int Remaining(HttpResponseMessage response) =>
        int.Parse(response.Headers.GetValues("X-RateLimit-Remaining").Single(), CultureInfo.InvariantCulture);

    [Fact]
    public async Task RateLimitedEndpointsSendLimitRemainingAndResetHeadersAndEachCostsItsPoints()
    {
        var token = await app.GrantAsync();
        using var http = app.ApiClient(token);

        using var temporary = await http.PostAsync("/api/room/create", OttApplication.Json(new JsonObject { ["name"] = OttApplication.NewRoomName() }));
        Assert.Equal(HttpStatusCode.Created, temporary.StatusCode);
        Assert.Equal("1000", temporary.Headers.GetValues("X-RateLimit-Limit").Single());
        var reset = DateTimeOffset.ParseExact(temporary.Headers.GetValues("X-RateLimit-Reset").Single(), "R", CultureInfo.InvariantCulture);
        Assert.InRange(reset - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));
        var before = Remaining(temporary);

        var room = OttApplication.NewRoomName();
        using var permanent = await http.PostAsync("/api/room/create", OttApplication.Json(new JsonObject { ["name"] = room, ["isTemporary"] = false }));
        Assert.Equal(before - 200, Remaining(permanent));

        using var generate = await http.PostAsync("/api/room/generate", OttApplication.Json(new JsonObject()));
        Assert.Equal(before - 250, Remaining(generate));

        using var add = await http.PostAsync($"/api/room/{room}/queue", OttApplication.Json(new JsonObject { ["service"] = "direct", ["id"] = "https://example.com/a.mp4" }));
        Assert.Equal(HttpStatusCode.OK, add.StatusCode);
        Assert.Equal(before - 255, Remaining(add));

        var videos = new JsonArray([.. Enumerable.Range(0, 3).Select(i => (JsonNode?)new JsonObject { ["service"] = "direct", ["id"] = $"https://example.com/l{i}.mp4" })]);
        using var list = await http.PostAsync($"/api/room/{room}/queue", OttApplication.Json(new JsonObject { ["videos"] = videos }));
        Assert.Equal(before - 264, Remaining(list));

        using var edit = await http.SendAsync(new HttpRequestMessage(HttpMethod.Patch, $"/api/room/{room}/queue")
        {
            Content = OttApplication.Json(new JsonObject { ["service"] = "direct", ["id"] = "https://example.com/l1.mp4", ["subtitleUrl"] = "https://example.com/s.vtt" }),
        });
        Assert.Equal(before - 269, Remaining(edit));

        using var remove = await http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/api/room/{room}/queue")
        {
            Content = OttApplication.Json(new JsonObject { ["service"] = "direct", ["id"] = "https://example.com/l1.mp4" }),
        });
        Assert.Equal(before - 274, Remaining(remove));

        using var search = await http.GetAsync("/api/data/previewAdd?input=ab");
        Assert.Equal(HttpStatusCode.BadRequest, search.StatusCode);
        Assert.Equal(before - 349, Remaining(search));

        using var get = await http.GetAsync($"/api/room/{room}");
        Assert.False(get.Headers.Contains("X-RateLimit-Remaining"), "room GET is not rate-limited");
    }
}

public sealed class SmallBudgetApplication : OttApplication
{
    public SmallBudgetApplication()
    {
        Settings["RateLimit:Enabled"] = "true";
        Settings["RateLimit:Points"] = "100";
    }
}

public sealed class SessionCapApplication : OttApplication
{
    public SessionCapApplication()
    {
        Settings["RateLimit:Enabled"] = "true";
        Settings["RateLimit:NewSessionsPerHour"] = "5";
    }
}

public sealed class RateLimitExhaustionTests(SmallBudgetApplication app) : IClassFixture<SmallBudgetApplication>
{
    [Fact]
    public async Task PastTheBudgetAnswers429WithRetryAfterAndBlocksTheIpFor120Seconds()
    {
        using var http = app.ApiClient(await app.GrantAsync());
        for (var i = 0; i < 2; i++)
        {
            using var ok = await http.PostAsync("/api/room/generate", OttApplication.Json(new JsonObject()));
            Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        }

        using var over = await http.PostAsync("/api/room/generate", OttApplication.Json(new JsonObject()));
        Assert.Equal(HttpStatusCode.TooManyRequests, over.StatusCode);
        var body = JsonNode.Parse(await over.Content.ReadAsStringAsync())!;
        Assert.False(body["success"]!.GetValue<bool>());
        Assert.Equal("TooManyRequests", body["error"]!["name"]!.GetValue<string>());
        Assert.Equal("Too many requests.", body["error"]!["message"]!.GetValue<string>());
        Assert.InRange(over.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 110, 120);

        // Blocked: even the cheapest charged request is refused while the block lasts.
        using var blocked = await http.PostAsync("/api/room/create", OttApplication.Json(new JsonObject { ["name"] = OttApplication.NewRoomName() }));
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.NotNull(blocked.Headers.RetryAfter);
    }

}

public sealed class NewSessionCapTests(SessionCapApplication app) : IClassFixture<SessionCapApplication>
{
    [Fact]
    public async Task NewSessionsPastTheHourlyCapAre429ButALiveTokenIsStillGranted()
    {
        using var http = app.ApiClient();
        string? first = null;
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 10 && refused is null; i++)
        {
            var response = await http.GetAsync("/api/auth/grant");
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
                break;
            }
            first ??= JsonNode.Parse(await response.Content.ReadAsStringAsync())!["token"]!.GetValue<string>();
            response.Dispose();
        }
        Assert.NotNull(refused);
        using (refused)
        {
            Assert.Equal("TooManyRequests", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!["name"]!.GetValue<string>());
            Assert.NotNull(refused.Headers.RetryAfter);
        }

        using var again = app.ApiClient(first);
        using var live = await again.GetAsync("/api/auth/grant");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(first, JsonNode.Parse(await live.Content.ReadAsStringAsync())!["token"]!.GetValue<string>());
    }
}

public sealed class FewSocketsApplication : OttApplication
{
    public FewSocketsApplication()
    {
        Settings["Connections:MaxPerIp"] = "3";
        Settings["Connections:MessagesPerSecond"] = "5";
        Settings["Connections:MessageBurst"] = "10";
    }
}

public sealed class SocketLimitTests(FewSocketsApplication app) : IClassFixture<FewSocketsApplication>
{
    [Fact]
    public async Task AnUpgradePastTheOpenSocketsPerIpIsRefusedWith429BeforeTheUpgrade()
    {
        var room = await app.CreateRoomAsync();
        var open = new List<OttTestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                open.Add(await app.ConnectAsync(room));
            }
            var refused = await Assert.ThrowsAnyAsync<Exception>(() => app.ConnectAsync(room));
            Assert.Contains("429", refused.Message, StringComparison.Ordinal);

            // Closing one frees a permit.
            await open[0].DisposeAsync();
            open.RemoveAt(0);
            await WaitUntil.WaitUntilAsync(async () =>
            {
                try
                {
                    open.Add(await app.ConnectAsync(room));
                    return true;
                }
                catch (InvalidOperationException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(10), "a permit is free again");
        }
        finally
        {
            foreach (var client in open)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task AFloodingSocketGetsTooManyRequestsThen1008WhileItsRoomKeepsServingOthers()
    {
        var room = await app.CreateRoomAsync();
        await using var flooder = await app.JoinAsync(room);
        await using var other = await app.JoinAsync(room);
        for (var i = 0; i < 40; i++)
        {
            await flooder.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = $"spam {i}" });
        }
        var error = await flooder.WaitForAsync(m => m.Action() == "error" && m["name"]!.GetValue<string>() == "TooManyRequests");
        Assert.Equal("Too many requests.", error["error"]!.GetValue<string>());
        Assert.Equal(1008, await flooder.CloseCodeAsync());

        await other.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "still here" });
        await other.WaitForAsync(m => m.Action() == "chat" && m["text"]!.GetValue<string>() == "still here");
        Assert.True(flooder.Messages.Count(m => m.Action() == "chat") <= 10, "only the burst got through");
    }
}

public sealed class BodyRulesTests(OttApplication app) : IClassFixture<OttApplication>
{
    [Fact]
    public async Task ABodyOverOneMebibyteIs413PayloadTooLarge()
    {
        using var http = app.ApiClient(await app.GrantAsync());
        var huge = "{\"name\":\"" + new string('a', 1024 * 1024 + 10) + "\"}";
        using var response = await http.PostAsync("/api/room/create", new StringContent(huge, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.False(error["success"]!.GetValue<bool>());
        Assert.Equal("PayloadTooLarge", error["error"]!["name"]!.GetValue<string>());
        Assert.Equal("Request body too large.", error["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task ABodyThatIsNeitherJsonNorAFormIsReadAsAnEmptyObject()
    {
        using var http = app.ApiClient(await app.GrantAsync());
        using var response = await http.PostAsync("/api/room/create", new StringContent("{\"name\":\"plaintext\"}", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("ZodValidationError", error["name"]!.GetValue<string>());
        Assert.Equal("Validation error: Required at \"name\"", error["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("..%2F..")]
    [InlineData("a.b")]
    [InlineData("%3Cscript%3E")]
    public async Task ARestRoomNameOutsideTheAlphabetIs404WithoutALookup(string name)
    {
        using var http = app.ApiClient(await app.GrantAsync());
        foreach (var path in new[] { $"/api/room/{name}", $"/api/room/{name}/queue" })
        {
            using var response = path.EndsWith("/queue", StringComparison.Ordinal)
                ? await http.PostAsync(path, OttApplication.Json(new JsonObject { ["url"] = "https://example.com/a.mp4" }))
                : await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
            Assert.Equal("RoomNotFoundException", error["name"]!.GetValue<string>());
        }
    }
}
