using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Web;

// OpenTelemetry's meter listener takes every meter named "Ott" in the process, so while other test apps run beside
// this one its up-down counters (open sockets, loaded rooms) also sum their opens and closes, and can read 0 with
// this test's socket open. Production has one app per process; here the metrics tests run with no other test app.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "Metrics";
}

[Collection(MetricsCollection.Name)]
public sealed class OperationsTests(OttApplication app) : IClassFixture<OttApplication>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task MetricsEndpointServesOttSeriesThatCountKnownTraffic()
    {
        var room = await app.CreateRoomAsync();
        await using var client = await app.JoinAsync(room);
        await client.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true });
        await client.WaitForAsync(m => m.Action() == "sync" && m.ContainsKey("isPlaying"));
        await client.RequestAsync(new JsonObject { ["type"] = 7, ["fromIdx"] = 3, ["toIdx"] = 0 });
        await client.ErrorAsync();

        using var http = app.ApiClient();
        string text = "";
        await WaitUntil.WaitUntilAsync(async () =>
        {
            text = await http.GetStringAsync("/api/status/metrics");
            return Value(text, "ott_room_requests_total", "type=\"Playback\"", "outcome=\"ok\"") >= 1
                && Value(text, "ott_errors_total", "kind=\"domain\"", "name=\"BadApiArgumentException\"") >= 1;
        }, Timeout, "the metrics show the play and the rejected order");

        Assert.True(Value(text, "ott_sockets_connected") >= 1, text);
        Assert.True(Value(text, "ott_rooms_loaded") >= 1, text);
        Assert.True(Value(text, "ott_redis_fenced_write_duration_seconds_count") >= 1, text);
        Assert.True(Value(text, "ott_frames_sent_total") >= 6, text);
        Assert.True(Value(text, "ott_lease_acquisitions_total") >= 1, text);
        Assert.Contains("http_server_request_duration_seconds", text); // ASP.NET Core instrumentation
        Assert.Contains("dotnet_gc_collections_total", text); // runtime instrumentation
    }

    [Fact]
    public async Task LivenessIsAlwaysOkAndReadinessTurnsOkOnceSettledAndRestored()
    {
        using var http = app.ApiClient();
        using var live = await http.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        await WaitUntil.WaitUntilAsync(async () =>
        {
            using var ready = await http.GetAsync("/health/ready");
            return ready.StatusCode == HttpStatusCode.OK;
        }, Timeout, "the node is ready");
    }

    [Fact]
    public async Task OpenApiDocumentDescribesEveryRestEndpoint()
    {
        using var http = app.ApiClient();
        var doc = JsonNode.Parse(await http.GetStringAsync("/openapi/v1.json"))!;
        var paths = doc["paths"]!.AsObject();
        string[] expected =
        [
            "/api/status", "/api/auth/grant", "/api/user", "/api/room/list", "/api/room/generate",
            "/api/room/create", "/api/room/{name}", "/api/room/{name}/undo", "/api/room/{name}/vote",
            "/api/room/{name}/queue", "/api/announce", "/api/data/previewAdd", "/api/user/register", "/api/user/login",
            "/api/user/logout", "/api/user/account", "/api/user/account/discord", "/api/user/owned-rooms",
        ];
        foreach (var path in expected)
        {
            Assert.True(paths.ContainsKey(path), $"{path} missing from the OpenAPI document");
        }
        var queue = paths["/api/room/{name}/queue"]!.AsObject();
        Assert.True(queue.ContainsKey("post") && queue.ContainsKey("patch") && queue.ContainsKey("delete"));
        Assert.NotNull(queue["post"]!["responses"]!["400"]);
    }

    [Fact]
    public async Task AnnouncementWithApiKeyReachesEveryConnectionJoinedOrNot()
    {
        var room = await app.CreateRoomAsync();
        await using var joined = await app.JoinAsync(room);
        await using var unauthenticated = await app.ConnectAsync(room);
        using var admin = app.AdminClient();

        using var response = await admin.PostAsync("/api/announce", OttApplication.Json(new JsonObject { ["text"] = "maintenance at noon" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{\"success\":true}", await response.Content.ReadAsStringAsync());
        foreach (var client in new[] { joined, unauthenticated })
        {
            var message = await client.WaitForAsync(m => m.Action() == "announcement");
            Assert.Equal("maintenance at noon", message["text"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task AnnouncementWithoutApiKeyIsRefused()
    {
        using var http = app.ApiClient(await app.GrantAsync());
        using var response = await http.PostAsync("/api/announce", OttApplication.Json(new JsonObject { ["text"] = "hi" }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("Unauthorized", error["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task DebugOwnershipViewListsOwnedRoomsWithTokenAndEpoch()
    {
        var room = await app.CreateRoomAsync();
        using var http = app.ApiClient();
        var view = JsonNode.Parse(await http.GetStringAsync("/debug/ownership"))!;
        var entry = view["rooms"]!.AsArray().Single(r => string.Equals(r!["room"]!.GetValue<string>(), room, StringComparison.OrdinalIgnoreCase))!;
        Assert.StartsWith(view["nodeId"]!.GetValue<string>() + "|", entry["token"]!.GetValue<string>());
        Assert.True(entry["epoch"]!.GetValue<long>() >= 1);
        Assert.True(entry["deadlineValid"]!.GetValue<bool>());
    }

    /// <summary>The value of the first sample of <paramref name="series"/> whose labels contain all of <paramref name="labels"/>.</summary>
    private static double Value(string text, string series, params string[] labels)
    {
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(series, StringComparison.Ordinal) || (line.Length > series.Length && line[series.Length] is not ('{' or ' ')))
            {
                continue;
            }
            if (labels.All(l => line.Contains(l, StringComparison.Ordinal)))
            {
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return double.NaN;
    }
}

public sealed class DrainReadinessTests(OttApplication app) : IClassFixture<OttApplication>
{
    [Fact]
    public async Task ReadinessFailsFromTheFirstMomentOfADrain()
    {
        using var http = app.ApiClient();
        await WaitUntil.WaitUntilAsync(async () =>
        {
            using var ready = await http.GetAsync("/health/ready");
            return ready.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(10), "the node is ready");

        await app.Rooms.ReleaseAllAsync(CancellationToken.None);

        using var response = await http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }
}

public sealed class ConfigurationValidationTests
{
    [Theory]
    [InlineData("Rooms:MailboxCapacity", "0", "MailboxCapacity")]
    [InlineData("Node:Name", "bad name!", "Node:Name")]
    [InlineData("Storage:KeyPrefix", "{bad}", "KeyPrefix")]
    [InlineData("Lease:RenewInterval", "00:00:03", "RenewInterval")]
    [InlineData("Cluster:NodeTimeout", "00:00:00.100", "NodeTimeout")]
    public async Task ABadValueStopsStartWithAMessageNamingTheKey(string key, string value, string named)
    {
        var redis = new RedisServer();
        await redis.InitializeAsync();
        try
        {
            await using var app = new OttApplication(redis, ownsRedis: false, $"test-{Guid.NewGuid():N}:", new Dictionary<string, string?> { [key] = value });
            var error = Assert.Throws<OptionsValidationException>(() => app.Server);
            Assert.Contains(named, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }
}
