using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Tests.Media;

public sealed class MediaParsingTests
{
    [Theory]
    [InlineData("PT3M33S", 213)]
    [InlineData("PT1H2M3S", 3723)]
    [InlineData("P1DT1S", 86401)]
    [InlineData("PT0H1M30.50S", 90.5)]
    [InlineData("P0D", 0)]
    [InlineData("P1W", 604800)]
    public void Iso8601DurationsParseToSeconds(string text, double seconds)
    {
        Assert.True(Iso8601Duration.TryParse(text, out var parsed));
        Assert.Equal(seconds, parsed, 3);
    }

    [Theory]
    [InlineData("")]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("3M")]
    [InlineData("PT1M2")]
    [InlineData("PT-1S")]
    public void MalformedIso8601DurationsAreRejected(string text) => Assert.False(Iso8601Duration.TryParse(text, out _));

    [Theory]
    [InlineData("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ")]
    [InlineData("https://youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42", "dQw4w9WgXcQ")]
    [InlineData("https://m.youtube.com/watch?v=dQw4w9WgXcQ", "dQw4w9WgXcQ")]
    [InlineData("https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVM", "dQw4w9WgXcQ")]
    [InlineData("https://youtu.be/dQw4w9WgXcQ?si=abc", "dQw4w9WgXcQ")]
    [InlineData("https://www.youtube.com/shorts/dQw4w9WgXcQ", "dQw4w9WgXcQ")]
    [InlineData("https://www.youtube.com/embed/dQw4w9WgXcQ?start=3", "dQw4w9WgXcQ")]
    [InlineData("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "dQw4w9WgXcQ")]
    [InlineData("https://www.youtube.com/live/dQw4w9WgXcQ", "dQw4w9WgXcQ")]
    public void YouTubeVideoUrlsInTheirUsualFormsAreRecognised(string url, string id) =>
        Assert.Equal(id, YouTubeResolver.VideoIdOf(new Uri(url)));

    [Theory]
    [InlineData("https://www.youtube.com/playlist?list=PLabc")]
    [InlineData("https://www.youtube.com/watch")]
    [InlineData("https://www.youtube.com/watch?v=bad!id")]
    [InlineData("https://www.youtube.com/channel/UC123")]
    [InlineData("https://notyoutube.com/watch?v=dQw4w9WgXcQ")]
    [InlineData("ftp://youtu.be/dQw4w9WgXcQ")]
    public void UrlsThatNameNoYouTubeVideoAreNotMatched(string url) => Assert.Null(YouTubeResolver.VideoIdOf(new Uri(url)));

    [Theory]
    [InlineData("https://www.youtube.com/playlist?list=PLabc", "PLabc", null)]
    [InlineData("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PLabc", "PLabc", "dQw4w9WgXcQ")]
    public void YouTubePlaylistUrlsAreCollections(string url, string list, string? highlight)
    {
        var resolver = new YouTubeResolver(new MediaHttp(TimeSpan.FromSeconds(1)), Microsoft.Extensions.Options.Options.Create(new MediaOptions()));
        Assert.Equal(new MediaCollection(list, highlight), resolver.CollectionOf(new Uri(url)));
    }

    [Theory]
    [InlineData("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=WL")]
    [InlineData("https://www.youtube.com/watch?v=dQw4w9WgXcQ")]
    public void PrivateListsAndPlainVideosAreNotCollections(string url)
    {
        var resolver = new YouTubeResolver(new MediaHttp(TimeSpan.FromSeconds(1)), Microsoft.Extensions.Options.Options.Create(new MediaOptions()));
        Assert.Null(resolver.CollectionOf(new Uri(url)));
    }

    [Theory]
    [InlineData("https://vimeo.com/76979871", "76979871")]
    [InlineData("https://www.vimeo.com/76979871", "76979871")]
    [InlineData("https://player.vimeo.com/video/76979871?h=abc", "76979871")]
    [InlineData("https://vimeo.com/channels/staffpicks", null)]
    [InlineData("https://vimeo.com/abc", null)]
    public void VimeoUrlsAreRecognised(string url, string? id)
    {
        var resolver = new VimeoResolver(new MediaHttp(TimeSpan.FromSeconds(1)), Microsoft.Extensions.Options.Options.Create(new MediaOptions()));
        Assert.Equal(id is null ? null : new VideoId("vimeo", id), resolver.Match(new Uri(url)));
    }

    [Fact]
    public void HlsMediaPlaylistLengthIsTheSumOfItsSegments()
    {
        var playlist = HlsPlaylist.Parse("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:9.5,\na.ts\n#EXTINF:10,title\nb.ts\n#EXTINF:0.5,\nc.ts\n#EXT-X-ENDLIST\n");
        Assert.Null(playlist.FirstVariant);
        Assert.Equal(3, playlist.Segments);
        Assert.Equal(20.0, playlist.Duration, 6);
        Assert.True(playlist.Ended);
    }

    [Fact]
    public void HlsMasterPlaylistNamesItsFirstVariant()
    {
        var playlist = HlsPlaylist.Parse("#EXTM3U\r\n#EXT-X-STREAM-INF:BANDWIDTH=800000\r\nlow/index.m3u8\r\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\r\nhigh/index.m3u8\r\n");
        Assert.Equal("low/index.m3u8", playlist.FirstVariant);
    }

    [Theory]
    [InlineData("<html>not a playlist</html>")]
    [InlineData("#EXTM3U\n#EXTINF:abc,\na.ts\n")]
    public void MalformedHlsIsAnM3u8ParseError(string text)
    {
        var e = Assert.Throws<OttException>(() => HlsPlaylist.Parse(text));
        Assert.Equal("M3u8ParseError", e.Failure.Name);
    }

    [Fact]
    public void DashLengthComesFromMediaPresentationDuration()
    {
        var manifest = DashManifest.Parse("""
            <?xml version="1.0"?>
            <MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT0H1M30.50S">
              <ProgramInformation><Title>Big Buck</Title></ProgramInformation>
              <Period id="0"/>
            </MPD>
            """);
        Assert.Equal(90.5, manifest.Length!.Value, 6);
        Assert.Equal("Big Buck", manifest.Title);
    }

    [Fact]
    public void DashWithoutTotalSumsPeriodsAndLiveHasNoLength()
    {
        Assert.Equal(30, DashManifest.Parse("<MPD><Period duration=\"PT10S\"/><Period duration=\"PT20S\"/></MPD>").Length);
        Assert.Null(DashManifest.Parse("<MPD type=\"dynamic\" mediaPresentationDuration=\"PT10S\"/>").Length);
    }

    [Theory]
    [InlineData("not xml")]
    [InlineData("<html/>")]
    [InlineData("<MPD mediaPresentationDuration=\"ten minutes\"/>")]
    [InlineData("<!DOCTYPE MPD [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><MPD>&x;</MPD>")]
    public void MalformedDashIsAnMpdParseError(string text)
    {
        var e = Assert.Throws<OttException>(() => DashManifest.Parse(text));
        Assert.Equal("MpdParseError", e.Failure.Name);
    }

    [Theory]
    [InlineData("""{"format":{"duration":"3.000000"}}""", 3.0)]
    [InlineData("""{"format":{"duration":"N/A"}}""", null)]
    [InlineData("""{}""", null)]
    [InlineData("garbage", null)]
    // The first video stream's duration wins over the container's, as OTT reads it.
    [InlineData("""{"streams":[{"codec_type":"audio","duration":"61.5"},{"codec_type":"video","duration":"60.008000"}],"format":{"duration":"61.500000"}}""", 60.008)]
    // No video: the first audio stream's.
    [InlineData("""{"streams":[{"codec_type":"audio","duration":"30.2"}],"format":{"duration":"31"}}""", 30.2)]
    // A stream without a duration falls back to the container's.
    [InlineData("""{"streams":[{"codec_type":"video"}],"format":{"duration":"12.25"}}""", 12.25)]
    public void FfprobeOutputIsReadForTheDuration(string json, double? seconds) =>
        Assert.Equal(seconds, FfprobeMediaProbe.Parse(json)?.Length);

    [Fact]
    public void FfprobeTitleTagIsTheTitle()
    {
        Assert.Equal("My film", FfprobeMediaProbe.Parse("""{"format":{"duration":"3","tags":{"title":"My film"}}}""")?.Title);
        Assert.Null(FfprobeMediaProbe.Parse("""{"format":{"duration":"3","tags":{"title":"  "}}}""")?.Title);
        Assert.Null(FfprobeMediaProbe.Parse("""{"format":{"duration":"3","tags":{"encoder":"Lavf"}}}""")?.Title);
    }

    [Theory]
    [InlineData(60.008, 61.0)]
    [InlineData(60.0, 60.0)]
    [InlineData(0.2, 1.0)]
    [InlineData(null, null)]
    public void DirectLengthsAreRoundedUpToWholeSeconds(double? seconds, double? expected) =>
        Assert.Equal(expected, DirectResolver.RoundLength(seconds));
}

public sealed class MediaOptionsTests
{
    [Fact]
    public void DefaultMediaOptionsAreValid()
    {
        var options = new MediaOptions();
        Assert.True(new MediaOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(MediaOptionsChecks.Valid(options));
    }

    [Fact]
    public void BadMediaOptionsAreRejected()
    {
        Assert.False(new MediaOptionsValidator().Validate(null, new MediaOptions { SearchMinLength = 0 }).Succeeded);
        Assert.False(new MediaOptionsValidator().Validate(null, new MediaOptions { YouTube = new YouTubeOptions { SearchResults = 51 } }).Succeeded);
        Assert.False(MediaOptionsChecks.Valid(new MediaOptions { YouTube = new YouTubeOptions { BaseUrl = "not a url" } }));
        Assert.False(MediaOptionsChecks.Valid(new MediaOptions { Vimeo = new VimeoOptions { OEmbedUrl = "file:///etc/passwd" } }));
        Assert.False(MediaOptionsChecks.Valid(new MediaOptions { Ffprobe = new FfprobeOptions { Timeout = TimeSpan.FromMinutes(1) } }));
    }
}
