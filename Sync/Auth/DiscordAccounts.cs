using Microsoft.Extensions.Options;

namespace Ott.Sync.Auth;

// What Discord's user endpoint says about the user who consented: the id names the Discord user for good; the
// names only suggest a username for a new account.
internal sealed record DiscordProfile(string Id, string Username, string? GlobalName, string? Discriminator)
{
    // Discord's unique usernames (discriminator "0", or none) show the global display name when there is one;
    // a legacy account is `name#1234` (docs/protocol.md §3.3).
    public string SuggestedUsername => Discriminator is null or "" or "0"
        ? string.IsNullOrEmpty(GlobalName) ? Username : GlobalName
        : $"{Username}#{Discriminator}";

    public override string ToString() => $"Discord user {Id}";
}

internal enum DiscordOutcome
{
    // The Discord user's account; the session is to be logged in to it.
    LoggedIn,

    // The logged-in account is now linked to the Discord user.
    Linked,

    // A new Discord-only account.
    Registered,

    // The logged-in account cannot be linked: the Discord user belongs to another account.
    LinkedElsewhere,

    // No account has the Discord user, and registration is off.
    RegistrationDisabled,
}

internal sealed record DiscordSignIn(DiscordOutcome Outcome, AccountRecord? Account);

// Discord login's account rules (docs/protocol.md §3.3): a logged-in session links its account; otherwise the
// Discord user's account is found, or a Discord-only one is made.
internal sealed partial class DiscordAccounts(AccountStore accounts, IOptionsMonitor<AccountsOptions> options, ILogger<DiscordAccounts> logger)
{
    private const int MaxRegisterAttempts = 8;

    public async Task<DiscordSignIn> SignInAsync(Session session, DiscordProfile profile, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(profile);
        if (session is { IsLoggedIn: true, UserId: { } userId })
        {
            switch (await accounts.SetDiscordIdAsync(userId, profile.Id, ct))
            {
                case AccountChange.Done when await accounts.FindAsync(userId, ct) is { } linked:
                    Log.Linked(logger, linked.Id, profile.Id);
                    return new DiscordSignIn(DiscordOutcome.Linked, linked);
                case AccountChange.Taken:
                    return new DiscordSignIn(DiscordOutcome.LinkedElsewhere, null);
            }
            // The account went away meanwhile: go on as an anonymous session would.
        }
        if (await accounts.FindByDiscordIdAsync(profile.Id, ct) is { } existing)
        {
            return new DiscordSignIn(DiscordOutcome.LoggedIn, existing);
        }
        if (!options.CurrentValue.EnableRegistration)
        {
            return new DiscordSignIn(DiscordOutcome.RegistrationDisabled, null);
        }
        var username = profile.SuggestedUsername;
        for (var attempt = 0; attempt < MaxRegisterAttempts; attempt++)
        {
            // A name that is too long, or taken (ignoring case), gives way to a generated one.
            if (username.Length is 0 or > AccountStore.MaxUsernameLength || await accounts.UsernameTakenAsync(username, ct))
            {
                username = NameGenerator.Generate();
                continue;
            }
            var registration = await accounts.RegisterSocialAsync(username, profile.Id, ct);
            if (registration.Account is { } created)
            {
                Log.Registered(logger, created.Id, profile.Id);
                return new DiscordSignIn(DiscordOutcome.Registered, created);
            }
            if (registration.TakenField == "discordId" && await accounts.FindByDiscordIdAsync(profile.Id, ct) is { } raced)
            {
                // The same Discord user's other login made the account first.
                return new DiscordSignIn(DiscordOutcome.LoggedIn, raced);
            }
            username = NameGenerator.Generate();
        }
        throw new InvalidOperationException($"No free username for {profile} after {MaxRegisterAttempts} attempts.");
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Account {AccountId} linked to Discord user {DiscordId}")]
        public static partial void Linked(ILogger logger, long accountId, string discordId);

        [LoggerMessage(2, LogLevel.Information, "Discord-only account {AccountId} made for Discord user {DiscordId}")]
        public static partial void Registered(ILogger logger, long accountId, string discordId);
    }
}
