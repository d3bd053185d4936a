using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Ott.Sync.Auth;

internal static class AuthServiceExtensions
{
    // Sessions, /api authentication and their options, on the storage layer's connection.
    public static WebApplicationBuilder AddOttAuth(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<ApiOptions>().BindConfiguration(ApiOptions.Section);

        services.AddSingleton<AdminApiKey>();
        services.AddSingleton<SessionStorage>();
        services.AddSingleton<SessionStore>();
        services.AddSingleton<ApiAuthenticator>();
        // Later components (RoomManager, AccountStore) register the real ones; these keep auth
        // usable on its own.
        services.TryAddSingleton<ISessionChangeListener, NoSessionChangeListener>();
        services.TryAddSingleton<IAccountDirectory, NoAccounts>();
        return builder;
    }

    // Accounts replace auth's account lookup (NoAccounts) with the Redis store. Either order with
    // AddOttAuth works: its default is only a TryAdd.
    public static WebApplicationBuilder AddOttAccounts(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        // A bool has no range to check; validating on start still makes a value that does not
        // bind (e.g. "maybe") fail at boot rather than on the first registration.
        services.AddOptionsWithValidateOnStart<AccountsOptions>().BindConfiguration(AccountsOptions.Section);
        services.AddSingleton<AccountStore>();
        services.AddSingleton<IAccountDirectory>(sp => sp.GetRequiredService<AccountStore>());
        services.AddSingleton<DiscordAccounts>();
        return builder;
    }
}
