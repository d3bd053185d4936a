using System.Net;
using Microsoft.Playwright;
using Ott.Testing;

namespace Ott.Tests.Infrastructure.Browser;

/// <summary>The app on real Kestrel, on a port that survives a restart, so a page can reconnect to it.</summary>
internal sealed class KestrelOttApplication(RedisServer redis, string keyPrefix, int port)
    : OttApplication(redis, ownsRedis: false, keyPrefix)
{
    public string BaseUrl { get; } = $"http://127.0.0.1:{port}";

    // The pages play real clips from the media server: probe them for their lengths.
    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Media:Ffprobe:Path", "ffprobe");
        // The media server is on loopback, which media fetching refuses unless allowlisted (README "Security").
        builder.UseSetting("Media:OutboundAllowlist:0", "127.0.0.0/8");
    }

    public override Task InitializeAsync()
    {
        UseKestrel(o => o.Listen(IPAddress.Loopback, port));
        StartServer();
        return Task.CompletedTask;
    }
}

/// <summary>
/// One Redis, one Ott on Kestrel, one media server and one Debian chromium driven by Playwright for
/// the whole class. Playwright's own browser download cannot happen here, so the browser is the
/// system one (installed by .ci/run); the package's bundled Node driver is all Playwright needs.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string Chromium = "/usr/bin/chromium";
    public const int ClipSeconds = 60;

    private readonly RedisServer _redis = new();
    private readonly string _keyPrefix = $"test-{Guid.NewGuid():N}:";
    private readonly int _port = LoopbackPort.Free();
    private KestrelOttApplication? _app;
    private IPlaywright? _playwright;

    public string BaseUrl => App.BaseUrl;

    internal KestrelOttApplication App => _app ?? throw new InvalidOperationException("not started");

    public MediaServer Media { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException($"{Chromium} was not found: apt-get install chromium (or run bash .ci/run)");
        }
        await _redis.InitializeAsync();
        await StartAppAsync();
        Media = await MediaServer.StartAsync(ClipSeconds, "clip-a.mp4", "clip-b.mp4", "clip-c.mp4", "clip-d.mp4");
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Args =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                // Two pages play at once without a click on each; a person clicks "Start playback".
                "--autoplay-policy=no-user-gesture-required",
                "--mute-audio",
            ],
        });
    }

    /// <summary>Stops the app as a deploy would (graceful: sockets get 1001) and starts it again on the same port.</summary>
    public async Task RestartAsync()
    {
        await App.DisposeAsync();
        _app = null;
        await StartAppAsync();
    }

    /// <summary>A fresh browser context (its own storage, so its own token and name) with one page.</summary>
    public async Task<IPage> NewPageAsync(int width = 1280, int height = 860)
    {
        var context = await Browser.NewContextAsync(new() { ViewportSize = new() { Width = width, Height = height } });
        // Generous: CI runs the browser tests on 2 cores right after the rest of the suite.
        context.SetDefaultTimeout(30_000);
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        _playwright?.Dispose();
        if (Media is not null)
        {
            await Media.DisposeAsync();
        }
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
        await _redis.DisposeAsync();
    }

    private async Task StartAppAsync()
    {
        var app = new KestrelOttApplication(_redis, _keyPrefix, _port);
        await app.InitializeAsync();
        _app = app;
    }
}
