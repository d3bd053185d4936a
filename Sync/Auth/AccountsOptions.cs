namespace Ott.Sync.Auth;

// Bound from `Accounts` (protocol §3.3, docs/architecture.md §20).
internal sealed class AccountsOptions
{
    public const string Section = "Accounts";

    // False answers every registration with 403 FeatureDisabledException.
    public bool EnableRegistration { get; set; } = true;
}
