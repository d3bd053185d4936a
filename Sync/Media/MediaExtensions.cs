using Microsoft.Extensions.Options;

namespace Ott.Sync.Media;

internal static class MediaExtensions
{
    // The real resolvers, ffprobe and the metadata cache. Runs before AddOttRooms, whose TryAdd
    // defaults (no probe, no segments) then leave these in place; AddOttRooms adds `direct`.
    public static WebApplicationBuilder AddOttMedia(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<MediaOptions>().BindConfiguration(MediaOptions.SectionName)
            .Validate(MediaOptionsChecks.Valid, MediaOptionsChecks.Message);
        services.AddSingleton<IValidateOptions<MediaOptions>, MediaOptionsValidator>();
        services.AddSingleton<MediaHttp>();
        services.AddSingleton<MediaCache>();
        services.AddSingleton<IMediaProbe, FfprobeMediaProbe>();
        services.AddSingleton<IMediaResolver, HlsResolver>();
        services.AddSingleton<IMediaResolver, DashResolver>();
        services.AddSingleton<YouTubeResolver>();
        services.AddSingleton<IMediaResolver>(sp => sp.GetRequiredService<YouTubeResolver>());
        services.AddSingleton<IMediaSearch>(sp => sp.GetRequiredService<YouTubeResolver>());
        services.AddSingleton<IMediaResolver, VimeoResolver>();
        return builder;
    }
}
