using Ott.Sync.Auth;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>
/// What the entry node (socket or REST) adds to a ban before it goes to the owner, which does no I/O
/// (docs/architecture.md §5.4): the ban's id, and for a ban by username the account it names.
/// </summary>
internal static class BanEntry
{
    public static async Task<RoomRequest> PrepareAsync(RoomRequest request, IAccountDirectory accounts, CancellationToken ct)
    {
        if (request is not BanRequest ban)
        {
            return request;
        }
        ban = ban with { BanId = Guid.NewGuid().ToString("N") };
        if (ban.User is { } username)
        {
            // An unknown name goes on without an account, and the owner refuses it (BadApiArgument "user").
            var account = username.Length == 0 ? null : await accounts.FindByUsernameAsync(username, ct);
            ban = ban with { TargetAccountId = account?.Id, User = account?.Username ?? username };
        }
        return ban;
    }
}
