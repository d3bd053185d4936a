namespace Ott.Tests.Infrastructure.Media;

/// <summary>
/// The app with every resolver pointed at one loopback fake (YouTube with a fake API key, Vimeo's
/// oEmbed, and a file server holding a real 3-second clip).
/// </summary>
public sealed class MediaApplication : OttApplication
{
    private readonly MediaClip _clip = new();

    public FakeUpstream Upstream { get; private set; } = null!;

    public YouTubeFake YouTube { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await _clip.InitializeAsync();
        Upstream = await FakeUpstream.StartAsync();
        Upstream.File("/files/clip.mp4", _clip.Path, "video/mp4");
        YouTube = new YouTubeFake(Upstream);
        Settings["Media:YouTube:ApiKey"] = YouTubeFake.Key;
        Settings["Media:YouTube:BaseUrl"] = Upstream.Url("/yt");
        Settings["Media:Vimeo:OEmbedUrl"] = Upstream.Url("/vimeo/oembed.json");
        Settings["Media:Ffprobe:Path"] = "ffprobe";
        // The fake's files and manifests are user URLs on loopback, which media fetching refuses unless allowlisted.
        Settings["Media:OutboundAllowlist:0"] = "127.0.0.0/8";
        await base.InitializeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Upstream is not null)
        {
            await Upstream.DisposeAsync();
        }
        await _clip.DisposeAsync();
    }
}
