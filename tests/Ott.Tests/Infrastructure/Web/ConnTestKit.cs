using System.Text.Json.Nodes;

namespace Ott.Tests.Infrastructure.Web;

// Small shared steps for the connection and message tests (docs/protocol.md §1).
internal static class ConnTestKit
{
    public const string VideoUrl = "https://media.example.com/clips/first.mp4";
    public const string OtherUrl = "https://media.example.com/clips/second.mp4";

    public static JsonObject Direct(string url) => new() { ["service"] = "direct", ["id"] = url };

    /// <summary>The next frame after everything already consumed.</summary>
    public static Task<JsonObject> NextAsync(this OttTestClient client, CancellationToken ct = default) =>
        client.WaitForAsync(_ => true, ct: ct);

    public static bool IsEvent(this JsonObject m, int type) =>
        m.Action() == "event" && m["request"]?["type"]?.GetValue<int>() == type;

    /// <summary>The room's stored record exactly as Redis holds it: every applied change is written before it is released.</summary>
    public static async Task<string?> StoredTextAsync(this OttApplication app, string room) =>
        await app.Store.ReadStateAsync(room, CancellationToken.None);

    public static async Task<JsonObject> StoredJsonAsync(this OttApplication app, string room) =>
        JsonNode.Parse((await app.StoredTextAsync(room))!)!.AsObject();

    /// <summary>
    /// Sends a chat from <paramref name="sender"/> and asserts that it is the very next frame each of
    /// <paramref name="receivers"/> gets: nothing else reached them in between.
    /// </summary>
    public static async Task ChatIsNextAsync(OttTestClient sender, CancellationToken ct, params OttTestClient[] receivers)
    {
        var text = "marker-" + Guid.NewGuid().ToString("N");
        await sender.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = text }, ct);
        foreach (var receiver in receivers)
        {
            var next = await receiver.NextAsync(ct);
            Assert.True(next.Action() == "chat" && next["text"]?.GetValue<string>() == text,
                $"expected the marker chat next, got {next.ToJsonString()}");
        }
    }

    public static async Task AddAsync(OttTestClient client, string url, CancellationToken ct)
    {
        await client.RequestAsync(new JsonObject { ["type"] = 5, ["video"] = Direct(url) }, ct);
        await client.WaitForAsync(m => m.IsEvent(5) && m["request"]!["video"]!["id"]!.GetValue<string>() == url, ct: ct);
    }
}
