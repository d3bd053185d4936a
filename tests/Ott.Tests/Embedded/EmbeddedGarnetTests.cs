using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;
using StackExchange.Redis;

namespace Ott.Tests.Embedded;

public sealed class EmbeddedGarnetTests : IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "ott-embedded-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _timeout.Dispose();
        GarnetFixture.DeleteDirectory(_dataDir);
    }

    [Fact]
    public async Task RoomStateSurvivesARestartOnTheSameDataDir()
    {
        await using (var first = GarnetFixture.Open(_dataDir))
        {
            var store = new RoomStore(first, new RedisKeys("ott:"));
            var token = await store.CreateAsync("Kept", "node-a", "{\"v\":1}", TimeSpan.FromMinutes(5), null, Ct);
            Assert.True(await store.FencedWriteAsync("kept", token!.Value, "{\"v\":2}", null, Ct));
        }

        await using var second = GarnetFixture.Open(_dataDir);
        var restored = new RoomStore(second, new RedisKeys("ott:"));

        Assert.Equal("{\"v\":2}", await restored.ReadStateAsync("kept", Ct));
        var acquired = Assert.IsType<AcquireResult.Acquired>(await restored.AcquireAsync("kept", "node-b", TimeSpan.FromMinutes(5), TimeSpan.FromHours(2), Ct));
        Assert.Equal(2, acquired.Token.Epoch);
    }

    [Fact]
    public async Task RestartClearsLeftoverLeasesAndMembershipButNothingElse()
    {
        var keys = new RedisKeys("ott:");
        await using (var first = GarnetFixture.Open(_dataDir))
        {
            var store = new RoomStore(first, keys);
            await store.CreateAsync("a", "node-old", "{}", TimeSpan.FromMinutes(5), null, Ct);
            await store.CreateAsync("b", "node-old", "{}", TimeSpan.FromMinutes(5), null, Ct);
            await store.HeartbeatAsync("node-old", TimeSpan.FromMinutes(5), Ct);
            await first.Database.StringSetAsync("ott:room:not-a-lease", "x");
            await first.Database.StringSetAsync("other:room:{a}:lease", "x");
        }

        await using var second = GarnetFixture.Open(_dataDir);
        await second.ConnectAsync(Ct);
        var db = second.Database;

        Assert.False(await db.KeyExistsAsync(keys.RoomLease("a")));
        Assert.False(await db.KeyExistsAsync(keys.RoomLease("b")));
        Assert.False(await db.KeyExistsAsync(keys.ClusterNodes));
        Assert.True(await db.KeyExistsAsync(keys.RoomState("a")));
        Assert.True(await db.KeyExistsAsync(keys.RoomEpoch("b")));
        Assert.True(await db.KeyExistsAsync("ott:room:not-a-lease"));
        Assert.True(await db.KeyExistsAsync("other:room:{a}:lease"));
        Assert.IsType<AcquireResult.Acquired>(await new RoomStore(second, keys).AcquireAsync("a", "node-new", TimeSpan.FromMinutes(5), TimeSpan.FromHours(2), Ct));
    }

    [Fact]
    public async Task HostWithoutConnectionStringServesRoomStoreRightAfterStart()
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Any free port: several hosts start in parallel in one test process.
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration["Storage:DataDir"] = _dataDir;
        builder.Configuration["Storage:KeyPrefix"] = "host:";
        builder.AddOttStorage();
        await using var app = builder.Build();

        await app.StartAsync(Ct);
        var store = app.Services.GetRequiredService<RoomStore>();
        var token = await store.CreateAsync("r", "node-a", "{}", TimeSpan.FromMinutes(5), null, Ct);
        var connection = app.Services.GetRequiredService<RedisConnection>();
        await app.StopAsync(Ct);

        Assert.NotNull(token);
        Assert.True(connection.IsEmbedded);
        Assert.True(builder.Configuration.UsesEmbeddedStorage());
        Assert.True(Directory.EnumerateFileSystemEntries(_dataDir).Any());
    }

    [Fact]
    public async Task HostRejectsAnInvalidKeyPrefixAtStart()
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Any free port: several hosts start in parallel in one test process.
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration["Storage:DataDir"] = _dataDir;
        builder.Configuration["Storage:KeyPrefix"] = "bad{prefix";
        builder.AddOttStorage();
        await using var app = builder.Build();

        await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync(Ct));
    }
}

public sealed class RedisHostTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task HostWithConnectionStringUsesThatRedis()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var prefix = $"t{Guid.NewGuid():N}:";
        var builder = WebApplication.CreateSlimBuilder();
        // Any free port: several hosts start in parallel in one test process.
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration["ConnectionStrings:Redis"] = redis.Endpoint;
        builder.Configuration["Storage:KeyPrefix"] = prefix;
        builder.AddOttStorage();
        await using var app = builder.Build();

        await app.StartAsync(timeout.Token);
        var connection = app.Services.GetRequiredService<RedisConnection>();
        var token = await app.Services.GetRequiredService<RoomStore>().CreateAsync("R", "node-a", "{}", TimeSpan.FromSeconds(5), null, timeout.Token);

        Assert.False(connection.IsEmbedded);
        Assert.NotNull(token);
        Assert.Equal(2000, ConfigurationOptions.Parse(connection.Multiplexer.Configuration).AsyncTimeout);
        await using var direct = await redis.ConnectAsync();
        Assert.True(await direct.GetDatabase().KeyExistsAsync($"{prefix}room:{{r}}:state"));
        await app.StopAsync(timeout.Token);
    }
}
