using Ott.Sync.Limits;

namespace Ott.Sync.Auth;

// Bound from `Accounts` (protocol §3.3, design.md §17).
internal sealed class AccountsOptions
{
    public const string Section = "Accounts";

    // False answers every registration with 403 FeatureDisabledException.
    public bool EnableRegistration { get; set; } = true;
}

internal static class AccountServiceExtensions
{
    // Accounts replace auth's account lookup (NoAccounts) with the Redis store; call after AddOttAuth.
    public static WebApplicationBuilder AddOttAccounts(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        // A bool has no range to check; validating on start still makes a value that does not
        // bind (e.g. "maybe") fail at boot rather than on the first registration.
        services.AddOptionsWithValidateOnStart<AccountsOptions>().BindConfiguration(AccountsOptions.Section);
        services.AddSingleton<AccountStore>();
        services.AddSingleton<IAccountDirectory>(sp => sp.GetRequiredService<AccountStore>());
        services.AddSingleton<LoginLimiter>();
        return builder;
    }
}
