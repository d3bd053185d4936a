using System.Diagnostics;
using System.Text.Json.Nodes;
using Ott.Sync.Protocol;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

public sealed class SlowOwnerApplication : OttApplication
{
    public SlowOwnerApplication()
    {
        // A forward without a reply is retried only after 5 s, so a request held back until its
        // predecessor's retry is told apart from one let go after the 1 s bound; and the fake owner
        // stays live through any hiccup of the test's own heartbeat loop.
        Settings["Cluster:RequestTimeout"] = "00:00:05";
        Settings["Cluster:NodeTimeout"] = "00:00:05";
    }
}

/// <summary>
/// A socket's requests and a late or lost reply (docs/architecture.md §9.4, "Pipelining only past a late
/// answer"). The room is owned by a <see cref="FakeOwnerNode"/>, so the app forwards every request over Redis
/// and a reply can really be withheld; the app's socket, router and bus are the real ones.
/// </summary>
public sealed class SocketPipeliningTests(SlowOwnerApplication app) : IClassFixture<SlowOwnerApplication>
{
    // Two different refusals, so the client can tell which answer is which.
    private static readonly OttFailure FirstAnswer = OttFailure.VideoNotFound();
    private static readonly OttFailure SecondAnswer = OttFailure.PermissionDenied("playback.seek");

    private static JsonObject Seek(int value) => new() { ["type"] = 4, ["value"] = value };

    private async Task<OttTestClient> JoinAsync(FakeOwnerNode owner, CancellationToken ct)
    {
        var client = await app.ConnectAsync(owner.Room, ct: ct);
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = await app.GrantAsync(ct) }, ct);
        await owner.WaitForAsync(c => c.Kind == "join", "the join reaches the owner");
        return client;
    }

    [Fact]
    public async Task ALostReplyHoldsTheSocketsNextRequestBackForAboutASecondOnly()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = cts.Token;
        await using var owner = await FakeOwnerNode.StartAsync(app, ct);
        // The reply to request 1 is lost; request 2 is answered at once.
        owner.Policy = c => c.Kind != "req" ? FakeOwnerNode.Reply.Ok : c.Seq == 2 ? new FakeOwnerNode.Reply(SecondAnswer) : null;
        await using var client = await JoinAsync(owner, ct);

        var sent = Stopwatch.GetTimestamp();
        await client.RequestAsync(Seek(1), ct);
        await client.RequestAsync(Seek(2), ct);

        var first = await owner.WaitForAsync(c => c.Seq == 1, "request 1 reaches the owner");
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(owner.Received.Any(c => c.Seq == 2) || owner.Received.Count(c => c.Seq == 1) > 1),
            TimeSpan.FromSeconds(10), "request 2, or a retry of request 1, reaches the owner");
        Assert.True(owner.Received.Count(c => c.Seq == 1) == 1 && owner.Received.Any(c => c.Seq == 2),
            $"request 2 was held back until request 1 was retried after its lost reply: {string.Join(", ", owner.Log)}");

        var second = await client.ErrorAsync(ct);
        var waited = Stopwatch.GetElapsedTime(sent);
        Assert.Equal(SecondAnswer.Name, second["name"]!.GetValue<string>());
        // Held back for the 1 s bound first: a reply that came within it would still have come first.
        Assert.True(waited >= TimeSpan.FromMilliseconds(950), $"request 2 was answered {waited.TotalMilliseconds:F0} ms after request 1 was sent");

        // Request 1's answer comes late, after request 2's, and still reaches the client.
        await owner.AnswerAsync(first, new FakeOwnerNode.Reply(FirstAnswer));
        Assert.Equal(FirstAnswer.Name, (await client.ErrorAsync(ct))["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnAnswerWithinTheBoundStillPrecedesTheSocketsNextRequest()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = cts.Token;
        await using var owner = await FakeOwnerNode.StartAsync(app, ct);
        // Request 1 is answered by the test below; request 2 at once.
        owner.Policy = c => c.Kind != "req" ? FakeOwnerNode.Reply.Ok : c.Seq == 2 ? new FakeOwnerNode.Reply(SecondAnswer) : null;
        await using var client = await JoinAsync(owner, ct);

        await client.RequestAsync(Seek(1), ct);
        await client.RequestAsync(Seek(2), ct);
        var first = await owner.WaitForAsync(c => c.Seq == 1, "request 1 reaches the owner");
        // The owner takes 100 ms over request 1 (the scenario, not a wait for something): slow, but well
        // within the 1 s bound, and long after request 2 would have arrived had the socket not waited.
        await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
        await owner.AnswerAsync(first, new FakeOwnerNode.Reply(FirstAnswer));

        var answers = new[] { await client.ErrorAsync(ct), await client.ErrorAsync(ct) }.Select(e => e["name"]!.GetValue<string>());
        Assert.Equal([FirstAnswer.Name, SecondAnswer.Name], answers);
        // OTT's order: request 2 reached the owner only after request 1 was answered, so nothing it caused
        // (its events, its error) can overtake request 1's answer.
        Assert.Equal(["received req #1", "answered req #1", "received req #2", "answered req #2"],
            owner.Log.Where(line => line.Contains(" req ", StringComparison.Ordinal)));
    }
}
