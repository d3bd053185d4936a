using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Media;

namespace Ott.Tests.Media;

/// <summary>The direct service with the real ffprobe (docs/protocol.md §2), files served from a loopback fake.</summary>
public sealed class FfprobeTests(MediaClip clip) : IClassFixture<MediaClip>, IAsyncLifetime, IDisposable
{
    private FakeUpstream _upstream = null!;
    private readonly MediaHttp _http = new(TimeSpan.FromSeconds(2), FakeUpstream.LoopbackAllowed);

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    public void Dispose() => _http.Dispose();

    private DirectResolver Direct() =>
        new(new FfprobeMediaProbe(Options.Create(new MediaOptions()), _http, NullLogger<FfprobeMediaProbe>.Instance));

    [Fact]
    public async Task DirectFileServedFromLoopbackGetsItsRealDurationAndOttsDescription()
    {
        _upstream.File("/files/My%20Clip.mp4", clip.Path, "video/mp4");
        _upstream.File("/files/My Clip.mp4", clip.Path, "video/mp4");
        var url = _upstream.Url("/files/My%20Clip.mp4");
        var item = await Direct().ResolveAsync(new VideoId("direct", url), default);
        Assert.Equal("My Clip", item.Title);
        Assert.Equal("video/mp4", item.Mime);
        Assert.Equal("Full Link: " + url, item.Description);
        // The clip is 3.000 s long; lengths are whole seconds.
        Assert.Equal(3, item.Length);
    }

    [Fact]
    public async Task MissingFileIsVideoNotFound()
    {
        var failure = (await Assert.ThrowsAsync<OttException>(() =>
            Direct().ResolveAsync(new VideoId("direct", _upstream.Url("/files/missing.webm")), default))).Failure;
        Assert.Equal("VideoNotFoundException", failure.Name);
    }

    [Fact]
    public async Task RefusedConnectionIsUpstreamUnavailable()
    {
        // Port 9 (discard) refuses at once on loopback.
        var failure = (await Assert.ThrowsAsync<OttException>(() =>
            Direct().ResolveAsync(new VideoId("direct", "http://127.0.0.1:9/clip.mp4"), default))).Failure;
        Assert.Equal("UpstreamUnavailableException", failure.Name);
        Assert.Equal("Could not get video info from 127.0.0.1: the service is unavailable. Try again later.", failure.Message);
    }

    [Fact]
    public async Task ServerErrorStatusIsAnError()
    {
        _upstream.Text("/files/forbidden.mp4", "no", status: 403);
        var failure = (await Assert.ThrowsAsync<OttException>(() =>
            Direct().ResolveAsync(new VideoId("direct", _upstream.Url("/files/forbidden.mp4")), default))).Failure;
        Assert.Equal("UpstreamRejectedException", failure.Name);
    }

    [Fact]
    public async Task FileThatCanBeFetchedButNotMeasuredIsAcceptedWithoutLength()
    {
        _upstream.Text("/files/notmedia.mp4", "this is not a video", "video/mp4");
        var url = _upstream.Url("/files/notmedia.mp4");
        var item = await Direct().ResolveAsync(new VideoId("direct", url), default);
        Assert.Null(item.Length);
        Assert.Equal("notmedia", item.Title);
        Assert.Equal("Full Link: " + url, item.Description);
    }
}
