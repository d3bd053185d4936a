namespace Ott.Sync.Auth;

// Told after a session's name or login state changed, so the room engine can refresh every
// connection authenticated with that session (protocol §3.3: a `user` update in each room).
internal interface ISessionChangeListener
{
    Task SessionChangedAsync(string sessionKey, CancellationToken ct);
}

internal sealed class NoSessionChangeListener : ISessionChangeListener
{
    public Task SessionChangedAsync(string sessionKey, CancellationToken ct) => Task.CompletedTask;
}

// The account lookup auth needs before accounts exist: the username of an account id, or null
// when the account is gone. AccountStore replaces the default, which knows no accounts.
internal interface IAccountDirectory
{
    Task<string?> FindUsernameAsync(long userId, CancellationToken ct);

    // The whole account (GET /api/user also says whether it is linked to Discord), or null.
    Task<AccountRecord?> FindAsync(long userId, CancellationToken ct);

    // A username, ignoring case (a ban by username, docs/protocol.md §10); none without accounts.
    Task<AccountRecord?> FindByUsernameAsync(string username, CancellationToken ct) => Task.FromResult<AccountRecord?>(null);
}

internal sealed class NoAccounts : IAccountDirectory
{
    public Task<string?> FindUsernameAsync(long userId, CancellationToken ct) => Task.FromResult<string?>(null);

    public Task<AccountRecord?> FindAsync(long userId, CancellationToken ct) => Task.FromResult<AccountRecord?>(null);
}
