using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

public sealed class QuickGiveUpApplication : OttApplication
{
    public QuickGiveUpApplication()
    {
        // Each forward waits 1 s for its reply; a request gives up Lease:Ttl (2 s) + 1 s after its first
        // route. The fake owner stays live through any hiccup of the test's own heartbeat loop.
        Settings["Cluster:RequestTimeout"] = "00:00:01";
        Settings["Cluster:NodeTimeout"] = "00:00:05";
    }
}

/// <summary>
/// A forwarded request whose give-up time passed while this node itself was stalled gets one more try
/// instead of answering <c>RoomUnavailable</c> (docs/architecture.md §9.3 step 5, §12 "Stall grace"): its
/// owner may well have applied it, and recognises the retry (§9.4). The stall is recorded in the app's own
/// <see cref="StallWatch"/>, whose grace is app-wide, so this class has its app to itself and one test.
/// </summary>
public sealed class StalledGatewayRetryTests(QuickGiveUpApplication app) : IClassFixture<QuickGiveUpApplication>
{
    [Fact]
    public async Task ARequestWhoseGiveUpTimePassedInTheNodesOwnStallGetsOneMoreTry()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = cts.Token;
        await using var owner = await FakeOwnerNode.StartAsync(app, ct);
        // The owner refused the request, and its first three replies are lost; the fourth copy gets the
        // remembered refusal (as a real owner answers a retry, §9.4).
        var remembered = OttFailure.VideoNotFound();
        owner.Policy = c => c.Kind != "req" ? FakeOwnerNode.Reply.Ok
            : owner.Received.Count(r => r.Seq == c.Seq) > 3 ? new FakeOwnerNode.Reply(remembered) : null;
        await using var client = await app.ConnectAsync(owner.Room, ct: ct);
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = await app.GrantAsync(ct) }, ct);
        await owner.WaitForAsync(c => c.Kind == "join", "the join reaches the owner");

        await client.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 1 }, ct);
        // The third copy is the last within the give-up time. The node stalls while it waits: its give-up
        // time passes during the stall, as StallWatch then records.
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(owner.Received.Count(c => c.Seq == 1) >= 3), TimeSpan.FromSeconds(10),
            "the third copy of the request reaches the owner");
        app.Services.GetRequiredService<StallWatch>().Stalled(TimeSpan.FromSeconds(3));

        var answer = await client.ErrorAsync(ct);
        Assert.Equal(remembered.Name, answer["name"]!.GetValue<string>());
        var copies = owner.Received.Where(c => c.Kind == "req").ToList();
        Assert.Equal(4, copies.Count);
        Assert.Single(copies.Select(c => c.Id).Distinct()); // every try carried the request's one id
    }
}
