using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Connections;
using Ott.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Ott.Tests.Hostile;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoakCollection
{
    // Memory and handle counts are process-wide: nothing else may run beside the soak.
    public const string Name = "Soak";
}

/// <summary>
/// A test-sized version of OTT's "average load": users join rooms, act and leave, over and over. The
/// server must end where it started: no sockets, no users, and memory and handles flat. Set
/// OTT_SOAK_SECONDS for a longer run (bench/soak.sh runs 10 minutes).
/// </summary>
[Collection(SoakCollection.Name)]
public sealed class SoakTests(FuzzApplication app, ITestOutputHelper output) : IClassFixture<FuzzApplication>
{
    [Fact]
    public async Task UsersJoiningActingAndLeavingForAWhileLeaveMemoryHandlesAndPresenceFlat()
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("OTT_SOAK_SECONDS"), CultureInfo.InvariantCulture, out var s) ? s : 12;
        var rooms = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            rooms.Add(await app.CreateRoomAsync(permanent: true));
        }
        var tokens = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            tokens.Add(await app.GrantAsync());
        }

        // Warm up one full cycle, then take the baseline.
        await RunUsersAsync(rooms, tokens, TimeSpan.FromSeconds(2), seed: 1);
        await WaitForNoSocketsAsync();
        var (memoryBefore, handlesBefore) = Measure();

        var actions = await RunUsersAsync(rooms, tokens, TimeSpan.FromSeconds(seconds), seed: 2);
        await WaitForNoSocketsAsync();
        var (memoryAfter, handlesAfter) = Measure();
        output.WriteLine($"{actions} actions; managed heap {memoryBefore / 1024} → {memoryAfter / 1024} KiB; handles {handlesBefore} → {handlesAfter}");

        Assert.True(actions > 100, $"the soak made only {actions} requests");
        foreach (var room in rooms)
        {
            var actor = app.Rooms.Loaded(room);
            Assert.True(actor is null || actor.State.Users.IsEmpty, $"{room} still lists users");
        }
        // Flat means bounded by the working set of one cycle, not growing with the run's length.
        Assert.True(memoryAfter < memoryBefore * 2 + (16 << 20), $"managed heap grew from {memoryBefore} to {memoryAfter}");
        Assert.True(handlesAfter < handlesBefore + 64, $"handles grew from {handlesBefore} to {handlesAfter}");
    }

    private async Task WaitForNoSocketsAsync()
    {
        var clients = app.Services.GetRequiredService<ConnectionRegistry>();
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(clients.Count == 0), TimeSpan.FromSeconds(10), "every socket is gone");
        await WaitUntil.WaitUntilAsync(
            () => Task.FromResult(app.Rooms.Actors.All(a => a.State.Users.IsEmpty)), TimeSpan.FromSeconds(10), "every room user has left");
    }

    private static (long Memory, int Handles) Measure()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), process.HandleCount);
    }

    /// <summary>Each user loops: join a random room, do a few random actions, leave.</summary>
    private async Task<int> RunUsersAsync(List<string> rooms, List<string> tokens, TimeSpan length, int seed)
    {
        var until = DateTime.UtcNow + length;
        var actions = 0;
        await Task.WhenAll(tokens.Select(async (token, index) =>
        {
            var random = new Random(seed * 1000 + index);
            while (DateTime.UtcNow < until)
            {
                await using var client = await app.JoinAsync(rooms[random.Next(rooms.Count)], token);
                for (var n = random.Next(3, 8); n > 0; n--)
                {
                    var request = random.Next(5) switch
                    {
                        0 => new JsonObject { ["type"] = 2, ["state"] = random.Next(2) == 0 },
                        1 => new JsonObject { ["type"] = 4, ["value"] = random.Next(600) },
                        2 => new JsonObject { ["type"] = 11, ["text"] = "soak" },
                        3 => new JsonObject { ["type"] = 5, ["url"] = $"https://example.com/soak/{random.Next(20)}.mp4" },
                        _ => new JsonObject { ["type"] = 3 },
                    };
                    await client.RequestAsync(request);
                    Interlocked.Increment(ref actions);
                }
                // The last request has been handled once a marker chat comes back.
                var marker = Guid.NewGuid().ToString();
                await client.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = marker });
                await client.WaitForAsync(m => m.Action() == "chat" && m["text"]!.GetValue<string>() == marker);
            }
        }));
        return actions;
    }
}
