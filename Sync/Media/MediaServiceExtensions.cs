using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Media;

internal static class MediaServiceExtensions
{
    // The resolvers, ffprobe, the metadata cache and MediaService, which rooms resolve media through.
    public static WebApplicationBuilder AddOttMedia(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<MediaOptions>().BindConfiguration(MediaOptions.SectionName)
            .Validate(MediaOptionsChecks.Valid, MediaOptionsChecks.Message);
        services.AddSingleton<IValidateOptions<MediaOptions>, MediaOptionsValidator>();
        services.TryAddSingleton<IHostResolver, SystemHostResolver>();
        services.AddSingleton<MediaHttp>();
        services.AddSingleton<MediaCache>();
        services.AddSingleton<IMediaProbe, FfprobeMediaProbe>();
        services.AddSingleton<IMediaResolver, HlsResolver>();
        services.AddSingleton<IMediaResolver, DashResolver>();
        services.AddSingleton<YouTubeResolver>();
        services.AddSingleton<IMediaResolver>(sp => sp.GetRequiredService<YouTubeResolver>());
        services.AddSingleton<IMediaSearch>(sp => sp.GetRequiredService<YouTubeResolver>());
        services.AddSingleton<IMediaResolver, VimeoResolver>();
        services.AddSingleton<IMediaResolver, DirectResolver>();
        // The core ships no segment source (docs/protocol.md §6.11); one registered earlier stays.
        services.TryAddSingleton<ISegmentSource, NoSegments>();
        services.AddSingleton<MediaService>();
        return builder;
    }
}
