using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Storage;

internal static class StorageServiceExtensions
{
    public static WebApplicationBuilder AddOttStorage(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<StorageOptions>().BindConfiguration(StorageOptions.SectionName);
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();
        services.AddSingleton(sp => new RedisKeys(sp.GetRequiredService<IOptions<StorageOptions>>().Value.KeyPrefix,
            shardedChannels: !RedisConnection.UsesEmbedded(sp.GetRequiredService<IConfiguration>())));
        services.AddSingleton(sp => new RedisConnection(
            sp.GetRequiredService<IConfiguration>().GetConnectionString("Redis"),
            sp.GetRequiredService<IOptions<StorageOptions>>().Value,
            sp.GetRequiredService<IHostEnvironment>().ContentRootPath,
            sp.GetRequiredService<RedisKeys>(),
            sp.GetRequiredService<ILoggerFactory>()));
        // IHostedLifecycleService.StartingAsync runs before any hosted service's StartAsync, so
        // the store is connected (and embedded leftovers cleared) before anything else starts.
        services.AddHostedService(sp => sp.GetRequiredService<RedisConnection>());
        services.AddSingleton<RoomStore>();
        return builder;
    }

    // Data protection with its key ring in the store, for whatever protects data that another node may read back
    // (Discord login's OAuth state and correlation cookie). One application name for every node, whatever its
    // content root, so they share the protectors too.
    public static IServiceCollection AddOttKeyRing(this IServiceCollection services)
    {
        services.AddDataProtection().SetApplicationName("Ott");
        services.AddOptions<KeyManagementOptions>().Configure<RedisConnection, RedisKeys>(
            (o, connection, keys) => o.XmlRepository = new RedisXmlRepository(connection, keys));
        return services;
    }

    // Embedded mode picks its own lease and settle defaults (docs/architecture.md §6.2); an explicit
    // configuration value still wins over them.
    public static bool UsesEmbeddedStorage(this IConfiguration configuration) => RedisConnection.UsesEmbedded(configuration);
}
