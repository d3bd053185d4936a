using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Auth;

internal static class AuthServiceExtensions
{
    // Sessions, /api authentication and their options, on the storage layer's connection.
    public static WebApplicationBuilder AddOttAuth(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<ApiOptions>().BindConfiguration(ApiOptions.Section);
        services.AddOptionsWithValidateOnStart<HttpOptions>().BindConfiguration(HttpOptions.Section);
        services.AddSingleton<IValidateOptions<HttpOptions>, HttpOptionsValidator>();

        services.AddSingleton<SessionStorage>();
        services.AddSingleton<SessionStore>();
        services.AddSingleton<ApiAuthenticator>();
        // Later components (RoomManager, AccountStore) register the real ones; these keep auth
        // usable on its own.
        services.TryAddSingleton<ISessionChangeListener, NoSessionChangeListener>();
        services.TryAddSingleton<IAccountDirectory, NoAccounts>();
        return builder;
    }
}
