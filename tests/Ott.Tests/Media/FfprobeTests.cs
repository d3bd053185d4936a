using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Media;

namespace Ott.Tests.Media;

public sealed class FfprobeTests(MediaClip clip) : IClassFixture<MediaClip>, IAsyncLifetime
{
    private FakeUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await FakeUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    [Fact]
    public async Task DirectFileServedFromLoopbackGetsItsRealDuration()
    {
        _upstream.File("/files/My%20Clip.mp4", clip.Path, "video/mp4");
        _upstream.File("/files/My Clip.mp4", clip.Path, "video/mp4");
        var probe = new FfprobeMediaProbe(Options.Create(new MediaOptions()), NullLogger<FfprobeMediaProbe>.Instance);
        var item = await new DirectResolver(probe).ResolveAsync(new VideoId("direct", _upstream.Url("/files/My%20Clip.mp4")), default);
        Assert.Equal("My Clip", item.Title);
        Assert.Equal("video/mp4", item.Mime);
        Assert.NotNull(item.Length);
        Assert.InRange(item.Length!.Value, 2.9, 3.1);
    }

    [Fact]
    public async Task UnreachableFileHasNoLengthButIsAccepted()
    {
        var probe = new FfprobeMediaProbe(Options.Create(new MediaOptions()), NullLogger<FfprobeMediaProbe>.Instance);
        var item = await new DirectResolver(probe).ResolveAsync(new VideoId("direct", _upstream.Url("/files/missing.webm")), default);
        Assert.Null(item.Length);
        Assert.Equal("video/webm", item.Mime);
    }
}
