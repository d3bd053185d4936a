using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Cluster;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Web;

public sealed class TightBudgetApplication : OttApplication
{
    public TightBudgetApplication()
    {
        Settings["Connections:MessagesPerSecond"] = "1";
        Settings["Connections:MessageBurst"] = "5";
    }
}

/// <summary>
/// A node's own stall is not its clients' misbehaviour (docs/architecture.md §12, "Stall grace"): what a client
/// sent while the node was stopped arrives as one burst, which the per-socket budget must not charge. The stall
/// is recorded in the app's own <see cref="StallWatch"/>, as its timer does when it fires late; the grace it
/// starts is app-wide, so this class has its app to itself and one test.
/// </summary>
public sealed class StallGraceSocketTests(TightBudgetApplication app) : IClassFixture<TightBudgetApplication>
{
    private const int Burst = 40;

    private static async Task SendBurstAsync(OttTestClient client, string tag, CancellationToken ct)
    {
        for (var i = 0; i < Burst; i++)
        {
            await client.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = $"{tag}-{i}" }, ct);
        }
    }

    [Fact]
    public async Task ABurstReadAfterTheNodesOwnStallIsNotChargedToTheClient()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = cts.Token;
        var room = await app.CreateRoomAsync(ct: ct);

        // Without a stall, a burst like this is over budget (5, then 1/s): TooManyRequests, then 1008.
        await using (var before = await app.JoinAsync(room, ct: ct))
        {
            await SendBurstAsync(before, "before", ct);
            await before.WaitForAsync(m => m.Action() == "error" && m["name"]!.GetValue<string>() == "TooManyRequests", ct: ct);
            Assert.Equal(1008, await before.CloseCodeAsync(ct));
        }

        // The node was stopped for 30 s; its clients' messages queued up meanwhile and are read now, at once.
        app.Services.GetRequiredService<StallWatch>().Stalled(TimeSpan.FromSeconds(30));
        await using var after = await app.JoinAsync(room, ct: ct);
        await SendBurstAsync(after, "after", ct);

        var last = await after.WaitForAsync(m => m.Action() == "error" || (m.Action() == "chat" && m["text"]!.GetValue<string>() == $"after-{Burst - 1}"), ct: ct);
        Assert.True(last.Action() == "chat", $"a message of the burst was refused: {last.ToJsonString()}");
        Assert.Equal(Enumerable.Range(0, Burst).Select(i => $"after-{i}"),
            after.Messages.Where(m => m.Action() == "chat").Select(m => m["text"]!.GetValue<string>()).Where(t => t.StartsWith("after-", StringComparison.Ordinal)));
        Assert.DoesNotContain(after.Messages, m => m.Action() == "error");
        Assert.Equal(WebSocketState.Open, after.Socket.State);
    }
}
