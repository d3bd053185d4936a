using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using static Ott.Tests.Infrastructure.Web.RoomFlow;

namespace Ott.Tests.Web;

// docs/protocol.md §8.3: a node restores the rooms that were loaded when it stopped, without a request.
public sealed class RestartTests(RedisServer redis) : IClassFixture<RedisServer>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task AfterARestartTheRoomsThatWereLoadedLoadAgainWithoutAnyClientRequest()
    {
        var prefix = $"restart-{Guid.NewGuid():N}:";
        string loaded, atRest;
        await using (var first = new OttApplication(redis, ownsRedis: false, prefix))
        {
            await first.InitializeAsync();
            loaded = await first.CreateRoomAsync(permanent: true, ct: Ct);
            atRest = await first.CreateRoomAsync(permanent: true, ct: Ct);
            await using (var a = await first.JoinAsync(loaded, ct: Ct))
            {
                await first.AddAsync(loaded, a.Token!, new JsonObject { ["url"] = Direct("kept") }, Ct);
                await a.SyncAsync(s => s.CurrentId() == Direct("kept"), Ct);
            }
            using var admin = first.AdminClient();
            using var unload = await admin.DeleteAsync($"/api/room/{atRest}", Ct);
            Assert.Equal(200, (int)unload.StatusCode);
        }

        await using var second = new OttApplication(redis, ownsRedis: false, prefix);
        await second.InitializeAsync();

        await WaitUntil.WaitUntilAsync(() => Task.FromResult(second.Rooms.Loaded(loaded) is not null), TimeSpan.FromSeconds(5),
            $"{loaded} is restored");
        Assert.Equal(Direct("kept"), second.Rooms.Loaded(loaded)!.State.CurrentSource?.Id);
        Assert.True(await second.Database.KeyExistsAsync($"{prefix}room:{{{loaded.ToLowerInvariant()}}}:lease"));
        // A room at rest is not touched until someone asks for it.
        Assert.Null(second.Rooms.Loaded(atRest));
    }
}
