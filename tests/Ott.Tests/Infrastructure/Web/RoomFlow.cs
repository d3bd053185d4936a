using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Ott.Sync.Media;

namespace Ott.Tests.Infrastructure.Web;

/// <summary>Small REST and socket helpers shared by the room flow tests.</summary>
internal static class RoomFlow
{
    public static string Direct(string name) => $"https://example.com/{name}.mp4";

    public static JsonObject Video(string url) => new() { ["service"] = "direct", ["id"] = url };

    public static async Task<(int Status, JsonObject Body)> SendAsync(this OttApplication app, HttpMethod method, string path,
        string token, JsonNode? body, CancellationToken ct)
    {
        using var client = app.ApiClient(token);
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = OttApplication.Json(body);
        }
        using var response = await client.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        return ((int)response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>POST /api/room/:name/queue, asserting success.</summary>
    public static async Task AddAsync(this OttApplication app, string room, string token, JsonObject body, CancellationToken ct)
    {
        var (status, response) = await app.SendAsync(HttpMethod.Post, $"/api/room/{room}/queue", token, body, ct);
        Assert.True(status == 200, $"add failed: {status} {response.ToJsonString()}");
    }

    public static Task<JsonObject> SyncAsync(this OttTestClient client, Func<JsonObject, bool> match, CancellationToken ct = default) =>
        client.WaitForAsync(m => m.Action() == "sync" && match(m), ct: ct);

    public static Task<JsonObject> EventAsync(this OttTestClient client, int type, CancellationToken ct = default) =>
        client.WaitForAsync(m => m.Action() == "event" && m["request"]?["type"]?.GetValue<int>() == type, ct: ct);

    public static string? CurrentId(this JsonObject sync) => sync["currentSource"]?["id"]?.GetValue<string>();

    public static bool Has(this JsonObject sync, string key) => sync.ContainsKey(key);

    public static double Position(this JsonObject sync) => sync["playbackPosition"]!.GetValue<double>();

    public static List<string> QueueIds(this JsonObject sync) =>
        sync["queue"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();

    public static string StateKey(this OttApplication app, string room) => $"{app.KeyPrefix}room:{{{room.ToLowerInvariant()}}}:state";

    public static async Task<JsonObject> StoredAsync(this OttApplication app, string room) =>
        JsonNode.Parse((string)(await app.Database.StringGetAsync(app.StateKey(room)))!)!.AsObject();
}

/// <summary>Measures a direct URL as 1 s long when its file name starts with <c>short</c>; others stay unmeasured.</summary>
internal sealed class FakeProbe : IMediaProbe
{
    public Task<ProbedMedia?> ProbeAsync(Uri url, CancellationToken ct) =>
        Task.FromResult(url.AbsolutePath.StartsWith("/short", StringComparison.Ordinal) ? new ProbedMedia(1, null) : null);
}

/// <summary>The app with <see cref="FakeProbe"/>, so some items have a length.</summary>
public class ProbedApplication : OttApplication
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.Replace(ServiceDescriptor.Singleton<IMediaProbe, FakeProbe>()));
    }
}
