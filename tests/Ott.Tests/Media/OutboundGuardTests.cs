using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Media;

/// <summary>Test DNS: names the test owns resolve to loopback; anything else is unknown.</summary>
internal sealed class TestHosts(params string[] names) : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) =>
        names.Contains(host, StringComparer.OrdinalIgnoreCase)
            ? Task.FromResult(new[] { IPAddress.Loopback })
            : throw new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.HostNotFound);
}

// SSRF (README "Security and limits", Sync/Media/OutboundGuard.cs): a fake upstream on 127.0.0.1 is refused by
// default, for direct files (before ffprobe runs), HLS and DASH manifests, a redirect to it from an allowed host
// and a name that resolves to it; allowlisting it (a range or a host) lets the same requests through.
public sealed class OutboundGuardTests : IAsyncLifetime
{
    private const string Hls = "#EXTM3U\n#EXTINF:10.0,\ns0.ts\n#EXT-X-ENDLIST\n";
    private const string Dash = """<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S"><Period/></MPD>""";

    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _upstream.Text("/hls/a.m3u8", Hls);
        _upstream.Text("/dash/a.mpd", Dash, "application/dash+xml");
        _upstream.Text("/files/a.mp4", "not really a video", "video/mp4");
        _upstream.Map("/redirect.m3u8", ctx =>
        {
            ctx.Response.Redirect(_upstream.Url("/hls/a.m3u8"));
            return Task.CompletedTask;
        });
    }

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private string On(string host, string path) => new UriBuilder(_upstream.Url(path)) { Host = host }.Uri.ToString();

    private static async Task<OttFailure> RefusedAsync(Func<Task> action)
    {
        var failure = (await Assert.ThrowsAsync<OttException>(action)).Failure;
        Assert.Equal("UpstreamAddressRefusedException", failure.Name);
        return failure;
    }

    private static DirectResolver Direct(MediaHttp http) =>
        new(new FfprobeMediaProbe(Options.Create(new MediaOptions()), http, NullLogger<FfprobeMediaProbe>.Instance));

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("fd00::1")]
    [InlineData("fe80::1")]
    [InlineData("ff02::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("64:ff9b::a00:1")]
    [InlineData("2002:c0a8:101::1")]
    public void NonPublicAddressesAreRefused(string address) => Assert.True(OutboundGuard.IsNonPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    public void PublicAddressesAreAllowed(string address) => Assert.False(OutboundGuard.IsNonPublic(IPAddress.Parse(address)));

    [Fact]
    public async Task LoopbackIsRefusedByDefaultForDirectHlsDashARedirectAndAResolvedName()
    {
        // The default guard, with test DNS: allowed.test is allowlisted by name (its redirect leads to 127.0.0.1),
        // evil.test is not and resolves to loopback.
        using var http = new MediaHttp(TimeSpan.FromSeconds(2), new OutboundGuard(["allowed.test"], [], new TestHosts("allowed.test", "evil.test")));

        await RefusedAsync(() => Direct(http).ResolveAsync(new VideoId("direct", _upstream.Url("/files/a.mp4")), default));
        await RefusedAsync(() => new HlsResolver(http).ResolveAsync(new VideoId("hls", _upstream.Url("/hls/a.m3u8")), default));
        await RefusedAsync(() => new DashResolver(http).ResolveAsync(new VideoId("dash", _upstream.Url("/dash/a.mpd")), default));
        await RefusedAsync(() => new HlsResolver(http).ResolveAsync(new VideoId("hls", On("evil.test", "/hls/a.m3u8")), default));
        await RefusedAsync(() => Direct(http).ResolveAsync(new VideoId("direct", On("evil.test", "/files/a.mp4")), default));
        Assert.Equal(0, _upstream.Hits("/hls/a.m3u8") + _upstream.Hits("/dash/a.mpd") + _upstream.Hits("/files/a.mp4"));

        var refused = await RefusedAsync(() => new HlsResolver(http).ResolveAsync(new VideoId("hls", On("allowed.test", "/redirect.m3u8")), default));
        Assert.Contains("127.0.0.1", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, _upstream.Hits("/redirect.m3u8"));
        Assert.Equal(0, _upstream.Hits("/hls/a.m3u8"));

        // A name that does not resolve is an unavailable upstream, not a refusal.
        Assert.Equal("UpstreamUnavailableException",
            (await Assert.ThrowsAsync<OttException>(() => new HlsResolver(http).ResolveAsync(new VideoId("hls", On("nowhere.test", "/hls/a.m3u8")), default))).Failure.Name);
    }

    [Fact]
    public async Task AllowlistedRangesAndHostsAreFetched()
    {
        using var byRange = new MediaHttp(TimeSpan.FromSeconds(2), new OutboundGuard(["127.0.0.0/8"], [], new TestHosts("evil.test")));
        using var byName = new MediaHttp(TimeSpan.FromSeconds(2), new OutboundGuard(["media.lan"], [], new TestHosts("media.lan")));

        Assert.Equal(10, (await new HlsResolver(byRange).ResolveAsync(new VideoId("hls", _upstream.Url("/hls/a.m3u8")), default)).Length);
        Assert.Equal(10, (await new DashResolver(byRange).ResolveAsync(new VideoId("dash", _upstream.Url("/dash/a.mpd")), default)).Length);
        Assert.Equal(10, (await new HlsResolver(byRange).ResolveAsync(new VideoId("hls", On("evil.test", "/redirect.m3u8")), default)).Length);
        Assert.Equal(10, (await new HlsResolver(byName).ResolveAsync(new VideoId("hls", On("media.lan", "/hls/a.m3u8")), default)).Length);
        // ffprobe gets the file (it cannot measure it, so the length is unknown, but the file is fetched).
        var direct = await Direct(byRange).ResolveAsync(new VideoId("direct", _upstream.Url("/files/a.mp4")), default);
        Assert.Null(direct.Length);
        Assert.True(_upstream.Hits("/files/a.mp4") >= 1);
    }
}

// The same refusal through the REST API of an app with the default settings: a precise, named error.
public sealed class OutboundGuardRestTests(OttApplication app) : IClassFixture<OttApplication>, IAsyncLifetime
{
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _upstream.Text("/hls/a.m3u8", "#EXTM3U\n#EXTINF:10.0,\ns0.ts\n#EXT-X-ENDLIST\n");
    }

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    [Fact]
    public async Task AddingALoopbackManifestIsRefusedWithTheNamedErrorAndFetchesNothing()
    {
        var room = await app.CreateRoomAsync();
        using var api = app.ApiClient(await app.GrantAsync());

        var (status, body) = await api.SendJsonAsync(HttpMethod.Post, $"/api/room/{room}/queue",
            new JsonObject { ["url"] = _upstream.Url("/hls/a.m3u8") });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("UpstreamAddressRefusedException", body["error"]!["name"]!.GetValue<string>());
        Assert.Equal(0, _upstream.Hits("/hls/a.m3u8"));
    }
}
