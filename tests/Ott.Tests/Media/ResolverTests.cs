using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Media;

namespace Ott.Tests.Media;

/// <summary>Each resolver against a loopback fake: recorded-shape answers and every failure mode.</summary>
public sealed class ResolverTests : IAsyncLifetime, IDisposable
{
    private FakeUpstream _upstream = null!;
    private YouTubeFake _youtube = null!;
    private MediaHttp _http = null!;
    private MediaOptions _options = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync();
        _youtube = new YouTubeFake(_upstream);
        _http = new MediaHttp(TimeSpan.FromSeconds(2), FakeUpstream.LoopbackAllowed);
        _options = new MediaOptions
        {
            YouTube = new YouTubeOptions { ApiKey = YouTubeFake.Key, BaseUrl = _upstream.Url("/yt") },
            Vimeo = new VimeoOptions { OEmbedUrl = _upstream.Url("/vimeo/oembed.json") },
        };
    }

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    public void Dispose() => _http?.Dispose();

    private YouTubeResolver YouTube(MediaOptions? options = null) => new(_http, Options.Create(options ?? _options));

    private VimeoResolver Vimeo() => new(_http, Options.Create(_options));

    private static async Task<OttFailure> FailsAsync(Func<Task> action) => (await Assert.ThrowsAsync<OttException>(action)).Failure;

    // ----- YouTube -----

    [Fact]
    public async Task YouTubeVideoGetsTitleThumbnailAndIsoLength()
    {
        _youtube.Video("yt_video_01", "Never", "PT3M33S");
        var item = await YouTube().ResolveAsync(new VideoId("youtube", "yt_video_01"), default);
        Assert.Equal("Never", item.Title);
        Assert.Equal(213, item.Length);
        Assert.Equal("https://i.ytimg.com/vi/yt_video_01/mqdefault.jpg", item.Thumbnail);
        Assert.Contains(_upstream.Requests, r => r.StartsWith("/yt/videos?part=snippet%2CcontentDetails&id=yt_video_01&key=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task YouTubeWithoutApiKeyIsNotConfiguredAndCallsNothing()
    {
        var resolver = YouTube(new MediaOptions { YouTube = new YouTubeOptions { BaseUrl = _upstream.Url("/yt") } });
        Assert.NotNull(resolver.Match(new Uri("https://youtu.be/dQw4w9WgXcQ")));
        Assert.False(resolver.IsEnabled);
        var failure = await FailsAsync(() => resolver.ResolveAsync(new VideoId("youtube", "dQw4w9WgXcQ"), default));
        Assert.Equal("ServiceNotConfiguredException", failure.Name);
        Assert.Equal("The YouTube service is not configured on this server.", failure.Message);
        Assert.Equal(0, _upstream.Hits("/yt/videos"));
    }

    [Fact]
    public async Task YouTubeUnknownVideoIsVideoNotFound() =>
        Assert.Equal("VideoNotFoundException", (await FailsAsync(() => YouTube().ResolveAsync(new VideoId("youtube", "nonexistent"), default))).Name);

    [Fact]
    public async Task YouTubeInvalidIdIsRejectedWithoutACall()
    {
        var failure = await FailsAsync(() => YouTube().ResolveAsync(new VideoId("youtube", "../etc"), default));
        Assert.Equal("InvalidVideoIdException", failure.Name);
        Assert.Equal(0, _upstream.Hits("/yt/videos"));
    }

    [Fact]
    public async Task YouTubeLivestreamIsUnsupported()
    {
        _youtube.Video("yt_live_001", "Live", "P0D", live: "live");
        Assert.Equal("UnsupportedVideoType", (await FailsAsync(() => YouTube().ResolveAsync(new VideoId("youtube", "yt_live_001"), default))).Name);
    }

    [Fact]
    public async Task YouTubeQuotaExhaustionIsOutOfQuota()
    {
        _upstream.Json("/quota/videos", YouTubeFake.Error(403, "quotaExceeded").ToJsonString(), status: 403);
        var failure = await FailsAsync(() => YouTube(WithYouTubeBase("/quota")).ResolveAsync(new VideoId("youtube", "abc"), default));
        Assert.Equal("OutOfQuotaException", failure.Name);
    }

    [Fact]
    public async Task YouTubeWrongKeyIsRejected()
    {
        var options = WithYouTubeBase("/yt");
        options.YouTube.ApiKey = "wrong";
        var failure = await FailsAsync(() => YouTube(options).ResolveAsync(new VideoId("youtube", "abc"), default));
        Assert.Equal("UpstreamRejectedException", failure.Name);
        Assert.Contains("HTTP 400", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task YouTubeServerErrorIsUnavailable()
    {
        _upstream.Text("/boom/videos", "oops", status: 503);
        Assert.Equal("UpstreamUnavailableException", (await FailsAsync(() => YouTube(WithYouTubeBase("/boom")).ResolveAsync(new VideoId("youtube", "abc"), default))).Name);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("""{"kind":"youtube#videoListResponse"}""")]
    [InlineData("""{"items":[{"id":"abc","snippet":{"title":"x","liveBroadcastContent":"none"},"contentDetails":{"duration":"three minutes"}}]}""")]
    public async Task YouTubeMalformedAnswerIsMalformed(string body)
    {
        var prefix = "/bad" + Guid.NewGuid().ToString("N")[..6];
        _upstream.Json(prefix + "/videos", body);
        Assert.Equal("UpstreamMalformedResponseException", (await FailsAsync(() => YouTube(WithYouTubeBase(prefix)).ResolveAsync(new VideoId("youtube", "abc"), default))).Name);
    }

    [Fact]
    public async Task YouTubeTimeoutIsUpstreamTimeout()
    {
        _upstream.Json("/slow/videos", "{}", delay: TimeSpan.FromSeconds(5));
        Assert.Equal("UpstreamTimeoutException", (await FailsAsync(() => YouTube(WithYouTubeBase("/slow")).ResolveAsync(new VideoId("youtube", "abc"), default))).Name);
    }

    [Fact]
    public async Task UnreachableUpstreamIsUnavailable()
    {
        var options = WithYouTubeBase("/yt");
        options.YouTube.BaseUrl = "http://127.0.0.1:1/yt";
        Assert.Equal("UpstreamUnavailableException", (await FailsAsync(() => YouTube(options).ResolveAsync(new VideoId("youtube", "abc"), default))).Name);
    }

    [Fact]
    public async Task YouTubePlaylistItemsAllCarryLengthsAndSkipPrivateOnes()
    {
        _youtube.Video("pl_item_001", "One", "PT1M");
        _youtube.Video("pl_item_002", "Two", "PT2M");
        _youtube.Playlist("PLresolver", "pl_item_001", "private_001", "pl_item_002");
        var items = await YouTube().ResolveCollectionAsync("PLresolver", default);
        Assert.Equal(["pl_item_001", "pl_item_002"], items.Select(i => i.Id));
        Assert.Equal([60.0, 120.0], items.Select(i => i.Length!.Value));
    }

    [Fact]
    public async Task YouTubeMissingPlaylistIsPlaylistNotFound() =>
        Assert.Equal("PlaylistNotFoundException", (await FailsAsync(() => YouTube().ResolveCollectionAsync("PLmissing", default))).Name);

    private MediaOptions WithYouTubeBase(string prefix) => new()
    {
        YouTube = new YouTubeOptions { ApiKey = YouTubeFake.Key, BaseUrl = _upstream.Url(prefix) },
    };

    // ----- Vimeo -----

    [Fact]
    public async Task VimeoOEmbedGivesTitleThumbnailAndDuration()
    {
        _upstream.Map("/vimeo/oembed.json", async ctx =>
        {
            Assert.Equal("https://vimeo.com/76979871", ctx.Request.Query["url"]);
            ctx.Response.ContentType = "application/json";
            await Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(ctx.Response,
                """{"type":"video","version":"1.0","provider_name":"Vimeo","title":"The New Vimeo Player","description":"d","thumbnail_url":"https://i.vimeocdn.com/video/452001751-x.jpg","duration":62,"video_id":76979871}""");
        });
        var item = await Vimeo().ResolveAsync(new VideoId("vimeo", "76979871"), default);
        Assert.Equal("The New Vimeo Player", item.Title);
        Assert.Equal("https://i.vimeocdn.com/video/452001751-x.jpg", item.Thumbnail);
        Assert.Equal(62, item.Length);
    }

    [Theory]
    [InlineData(404, "VideoNotFoundException")]
    [InlineData(403, "UpstreamRejectedException")]
    [InlineData(500, "UpstreamUnavailableException")]
    [InlineData(200, "UpstreamMalformedResponseException")]
    public async Task VimeoFailuresMapToProtocolErrors(int status, string name)
    {
        _upstream.Text("/vimeo/oembed.json", status == 200 ? "<html>" : "", "text/html", status);
        Assert.Equal(name, (await FailsAsync(() => Vimeo().ResolveAsync(new VideoId("vimeo", "1234"), default))).Name);
    }

    [Fact]
    public async Task VimeoNonNumericIdIsInvalid() =>
        Assert.Equal("InvalidVideoIdException", (await FailsAsync(() => Vimeo().ResolveAsync(new VideoId("vimeo", "abc"), default))).Name);

    // ----- HLS and DASH -----

    [Fact]
    public async Task HlsMasterPlaylistIsMeasuredThroughItsFirstVariant()
    {
        _upstream.Text("/hls/master.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nhigh/index.m3u8\n");
        _upstream.Text("/hls/low/index.m3u8", "#EXTM3U\n#EXTINF:10.0,\ns0.ts\n#EXTINF:10.0,\ns1.ts\n#EXTINF:4.5,\ns2.ts\n#EXT-X-ENDLIST\n");
        var url = _upstream.Url("/hls/master.m3u8");
        var resolver = new HlsResolver(_http);
        var id = resolver.Match(new Uri(url))!.Value;
        var item = await resolver.ResolveAsync(id, default);
        Assert.Equal(24.5, item.Length);
        Assert.Equal(url, item.HlsUrl);
        Assert.Equal("application/x-mpegURL", item.Mime);
        Assert.Equal(0, _upstream.Hits("/hls/high/index.m3u8"));
    }

    [Fact]
    public async Task LiveHlsHasNoLength()
    {
        _upstream.Text("/hls/live.m3u8", "#EXTM3U\n#EXTINF:6,\na.ts\n#EXTINF:6,\nb.ts\n");
        var item = await new HlsResolver(_http).ResolveAsync(new VideoId("hls", _upstream.Url("/hls/live.m3u8")), default);
        Assert.Null(item.Length);
    }

    [Theory]
    [InlineData("/hls/missing.m3u8", "VideoNotFoundException")]
    [InlineData("/hls/html.m3u8", "M3u8ParseError")]
    [InlineData("/hls/empty.m3u8", "M3u8ParseError")]
    public async Task HlsFailuresMapToProtocolErrors(string path, string name)
    {
        _upstream.Text("/hls/html.m3u8", "<html></html>");
        _upstream.Text("/hls/empty.m3u8", "#EXTM3U\n#EXT-X-ENDLIST\n");
        Assert.Equal(name, (await FailsAsync(() => new HlsResolver(_http).ResolveAsync(new VideoId("hls", _upstream.Url(path)), default))).Name);
    }

    [Fact]
    public async Task DashManifestIsMeasuredFromMediaPresentationDuration()
    {
        _upstream.Text("/dash/film.mpd", """<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT1H0M0.5S"><Period/></MPD>""", "application/dash+xml");
        var url = _upstream.Url("/dash/film.mpd");
        var resolver = new DashResolver(_http);
        var item = await resolver.ResolveAsync(resolver.Match(new Uri(url))!.Value, default);
        Assert.Equal(3600.5, item.Length);
        Assert.Equal(url, item.DashUrl);
        Assert.Equal("application/dash+xml", item.Mime);
        Assert.Equal("film.mpd", item.Title);
    }

    [Fact]
    public async Task OversizedManifestIsMalformed()
    {
        _upstream.Text("/dash/huge.mpd", new string(' ', ManifestUrls.MaxManifestBytes + 10));
        Assert.Equal("UpstreamMalformedResponseException",
            (await FailsAsync(() => new DashResolver(_http).ResolveAsync(new VideoId("dash", _upstream.Url("/dash/huge.mpd")), default))).Name);
    }

    // ----- direct, with ffprobe -----

    [Fact]
    public async Task ProbeWithAbsentBinaryMeansUnknownLength()
    {
        var probe = new FfprobeMediaProbe(Options.Create(new MediaOptions { Ffprobe = new FfprobeOptions { Path = "/nonexistent/ffprobe" } }),
            _http, NullLogger<FfprobeMediaProbe>.Instance);
        var url = _upstream.Url("/files/a.mp4");
        var item = await new DirectResolver(probe).ResolveAsync(new VideoId("direct", url), default);
        Assert.Null(item.Length);
        Assert.Equal("video/mp4", item.Mime);
        Assert.Equal("Full Link: " + url, item.Description);
    }

    [Fact]
    public async Task ProbeOfAStalledServerTimesOutToUnknownLength()
    {
        _upstream.Map("/files/stalled.mp4", ctx => Task.Delay(TimeSpan.FromSeconds(10), ctx.RequestAborted));
        var probe = new FfprobeMediaProbe(Options.Create(new MediaOptions { Ffprobe = new FfprobeOptions { Timeout = TimeSpan.FromMilliseconds(500) } }),
            _http, NullLogger<FfprobeMediaProbe>.Instance);
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Null(await probe.ProbeAsync(new Uri(_upstream.Url("/files/stalled.mp4")), default));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"took {started.Elapsed}");
    }
}
