using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Identity;
using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Sync.Auth;

// Stored at {p}{users}:<id>. The password is only ever here, and only as a PasswordHasher (PBKDF2,
// salted) hash; room state keeps an owner as {id, username} and never sees this record.
// An account has a password, a Discord link, or both (as OTT's do, docs/protocol.md §3.3): a
// social-only account has no PasswordHash and cannot log in with a password until it sets one.
internal sealed record AccountRecord(
    long Id,
    string Username,
    string? Email,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PasswordHash)
{
    // The linked Discord account's user id, unique among accounts ({p}{users}:bydiscord:<id> names its
    // account). Written by the test-only API today; Discord login and linking use the same field.
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DiscordId { get; init; }

    [JsonIgnore]
    public bool HasPassword => PasswordHash is not null;

    // A record's generated ToString prints every member; keep the hash out of any log line.
    public override string ToString() => $"Account {Id} ({Username})";
}

internal enum AccountChange
{
    Done,
    Taken,
    NotFound,
}

// The outcome of a registration: the new account, or which field is already in use
// (`username`, `email` or `discordId`).
internal sealed record Registration(AccountRecord? Account, string? TakenField);

// Accounts in Redis (docs/architecture.md §6.3). Uniqueness of the case-insensitive username and the exact
// email is decided inside one script per write, so two racing registrations or renames can
// never both win a name.
internal sealed class AccountStore(RedisConnection connection, RedisKeys keys, RoomStore rooms) : IAccountDirectory
{
    // Usernames have 1-48 characters (docs/protocol.md §3.3).
    public const int MaxUsernameLength = 48;

    private const int MaxUpdateAttempts = 8;

    private static readonly PasswordHasher<AccountRecord> Hasher = new();

    // Verified against when the account is unknown, so a wrong username costs as much time as a
    // wrong password and login timing does not tell which accounts exist.
    private static readonly Lazy<string> DummyHash = new(() => Hasher.HashPassword(null!, "not a password of anyone"));

    private IDatabase Db => connection.Database;

    // ----- reads -----

    public async Task<AccountRecord?> FindAsync(long id, CancellationToken ct) =>
        Parse(await Db.StringGetAsync(keys.User(id)).WaitAsync(ct));

    public async Task<string?> FindUsernameAsync(long userId, CancellationToken ct) =>
        (await FindAsync(userId, ct))?.Username;

    // An email names its account exactly; otherwise the identifier is a username, ignoring case.
    public async Task<AccountRecord?> FindByIdentifierAsync(string identifier, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        var byEmail = await Db.StringGetAsync(keys.UserByEmail(identifier)).WaitAsync(ct);
        var id = byEmail.IsNullOrEmpty ? await Db.StringGetAsync(keys.UserByName(identifier)).WaitAsync(ct) : byEmail;
        return IdOf(id) is { } accountId ? await FindAsync(accountId, ct) : null;
    }

    // A username only, ignoring case (never an email).
    public async Task<AccountRecord?> FindByUsernameAsync(string username, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(username);
        return IdOf(await Db.StringGetAsync(keys.UserByName(username)).WaitAsync(ct)) is { } id ? await FindAsync(id, ct) : null;
    }

    // The account a Discord user is linked to: what Discord login looks an account up by.
    public async Task<AccountRecord?> FindByDiscordIdAsync(string discordId, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(discordId);
        return IdOf(await Db.StringGetAsync(keys.UserByDiscord(discordId)).WaitAsync(ct)) is { } id ? await FindAsync(id, ct) : null;
    }

    public async Task<bool> UsernameTakenAsync(string username, CancellationToken ct) =>
        await Db.KeyExistsAsync(keys.UserByName(username)).WaitAsync(ct);

    public async Task<long?> EmailOwnerAsync(string email, CancellationToken ct) =>
        IdOf(await Db.StringGetAsync(keys.UserByEmail(email)).WaitAsync(ct));

    // RedisValue.TryParse reads a missing value as 0, so absence is checked first.
    private static long? IdOf(RedisValue value) => !value.IsNullOrEmpty && value.TryParse(out long id) ? id : null;

    // ----- passwords -----

    // An account without a password never matches one (the dummy hash keeps the timing alike).
    public static bool VerifyPassword(AccountRecord account, string password)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (account.PasswordHash is not { } hash)
        {
            _ = Hasher.VerifyHashedPassword(null!, DummyHash.Value, password);
            return false;
        }
        return Hasher.VerifyHashedPassword(account, hash, password) != PasswordVerificationResult.Failed;
    }

    // The account the credentials name, or null for an unknown account or a wrong password.
    // A hash made with older parameters is upgraded on the way (best effort).
    public async Task<AccountRecord?> VerifyCredentialsAsync(string identifier, string password, CancellationToken ct)
    {
        var account = await FindByIdentifierAsync(identifier, ct);
        if (account?.PasswordHash is not { } hash)
        {
            // An unknown account, or a social-only one: no password can match.
            _ = Hasher.VerifyHashedPassword(null!, DummyHash.Value, password);
            return null;
        }
        var result = Hasher.VerifyHashedPassword(account, hash, password);
        if (result == PasswordVerificationResult.Failed)
        {
            return null;
        }
        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            var rehashed = Hasher.HashPassword(account, password);
            await ChangeAsync(account.Id, a => a with { PasswordHash = rehashed }, (_, _) => null, ct);
        }
        return account;
    }

    // ----- writes -----

    // KEYS: user, byname[, other unique indexes (byemail, bydiscord)]. ARGV: id, accountJson.
    // Each index is checked in order, so the username comes before the email, as protocol §3.3
    // orders the two AlreadyInUse answers; -i names the first taken index, KEYS[i + 1].
    public static readonly RoomScript RegisterScript = new("ACCOUNT_REGISTER", """
        for i = 2, #KEYS do
          if redis.call('EXISTS', KEYS[i]) == 1 then
            return -(i - 1)
          end
        end
        for i = 2, #KEYS do
          redis.call('SET', KEYS[i], ARGV[1])
        end
        redis.call('SET', KEYS[1], ARGV[2])
        return 1
        """);

    // KEYS: user[, claimIndex, releaseIndex] or user, releaseIndex. ARGV: expectedJson, newJson, id.
    // Compare-and-set on the whole record (0: it changed meanwhile, read again). With an index
    // pair, the claimed index must be free or already ours (-1: taken); the released one is
    // deleted only while it still points at us. claim == release is a case-only rename. With one
    // index it is only released (a Discord link cleared).
    public static readonly RoomScript UpdateScript = new("ACCOUNT_UPDATE", """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return 0
        end
        if #KEYS == 3 then
          local holder = redis.call('GET', KEYS[2])
          if holder and holder ~= ARGV[3] then
            return -1
          end
          if KEYS[3] ~= KEYS[2] and redis.call('GET', KEYS[3]) == ARGV[3] then
            redis.call('DEL', KEYS[3])
          end
          redis.call('SET', KEYS[2], ARGV[3])
        elseif #KEYS == 2 and redis.call('GET', KEYS[2]) == ARGV[3] then
          redis.call('DEL', KEYS[2])
        end
        redis.call('SET', KEYS[1], ARGV[2])
        return 1
        """);

    // Username and email have been validated by the caller; email is null for none.
    public async Task<Registration> RegisterAsync(string username, string? email, string password, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        ArgumentNullException.ThrowIfNull(password);
        // Ids are never reused; a registration that loses a race simply burns one.
        var id = await Db.StringIncrementAsync(keys.UserNextId).WaitAsync(ct);
        var hash = Hasher.HashPassword(null!, password);
        var account = new AccountRecord(id, username, email, hash);
        RedisKey[] scriptKeys = email is null
            ? [keys.User(id), keys.UserByName(username)]
            : [keys.User(id), keys.UserByName(username), keys.UserByEmail(email)];
        var result = (long)await Db.EvaluateAsync(RegisterScript, scriptKeys,
            [id.ToString(CultureInfo.InvariantCulture), Serialize(account)], ct);
        return result switch
        {
            1 => new Registration(account, null),
            -1 => new Registration(null, "username"),
            _ => new Registration(null, "email"),
        };
    }

    // An account with a Discord link and no password or email (OTT's social-only account); the
    // username has been validated by the caller.
    public async Task<Registration> RegisterSocialAsync(string username, string discordId, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        ArgumentException.ThrowIfNullOrEmpty(discordId);
        var id = await Db.StringIncrementAsync(keys.UserNextId).WaitAsync(ct);
        var account = new AccountRecord(id, username, null, null) { DiscordId = discordId };
        var result = (long)await Db.EvaluateAsync(RegisterScript, [keys.User(id), keys.UserByName(username), keys.UserByDiscord(discordId)],
            [id.ToString(CultureInfo.InvariantCulture), Serialize(account)], ct);
        return result switch
        {
            1 => new Registration(account, null),
            -1 => new Registration(null, "username"),
            _ => new Registration(null, "discordId"),
        };
    }

    // Links the account to a Discord user (replacing any earlier link), or clears the link with
    // null. A Discord user linked to another account → Taken.
    public Task<AccountChange> SetDiscordIdAsync(long id, string? discordId, CancellationToken ct) =>
        ChangeAsync(id, a => a with { DiscordId = discordId },
            (before, after) => (before.DiscordId, after.DiscordId) switch
            {
                (_, { } linked) => (keys.UserByDiscord(linked), before.DiscordId is { } old ? keys.UserByDiscord(old) : keys.UserByDiscord(linked)),
                ({ } old, null) => ((RedisKey?)null, keys.UserByDiscord(old)),
                _ => null,
            },
            ct);

    public Task<AccountChange> RenameAsync(long id, string username, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        return ChangeAsync(id, a => a with { Username = username },
            (before, _) => (keys.UserByName(username), keys.UserByName(before.Username)), ct);
    }

    // PATCH /api/user/account: the email and the password change together or not at all.
    public async Task<AccountChange> UpdateAsync(long id, string? email, string? newPassword, CancellationToken ct)
    {
        var hash = newPassword is null ? null : Hasher.HashPassword(null!, newPassword);
        return await ChangeAsync(id,
            a => a with { Email = email ?? a.Email, PasswordHash = hash ?? a.PasswordHash },
            (before, after) => after.Email is { } newEmail && newEmail != before.Email
                ? (keys.UserByEmail(newEmail), before.Email is { } old ? keys.UserByEmail(old) : keys.UserByEmail(newEmail))
                : null,
            ct);
    }

    // The index pair: an index to claim and one to release; a null claim only releases.
    private async Task<AccountChange> ChangeAsync(long id, Func<AccountRecord, AccountRecord> change,
        Func<AccountRecord, AccountRecord, (RedisKey? Claim, RedisKey Release)?> index, CancellationToken ct)
    {
        var idText = id.ToString(CultureInfo.InvariantCulture);
        for (var attempt = 0; attempt < MaxUpdateAttempts; attempt++)
        {
            var raw = await Db.StringGetAsync(keys.User(id)).WaitAsync(ct);
            if (Parse(raw) is not { } before)
            {
                return AccountChange.NotFound;
            }
            var after = change(before);
            RedisKey[] scriptKeys = index(before, after) switch
            {
                { Claim: { } claim } pair => [keys.User(id), claim, pair.Release],
                { } releaseOnly => [keys.User(id), releaseOnly.Release],
                null => [keys.User(id)],
            };
            var result = (long)await Db.EvaluateAsync(UpdateScript, scriptKeys, [raw, Serialize(after), idText], ct);
            if (result == 1)
            {
                return AccountChange.Done;
            }
            if (result == -1)
            {
                return AccountChange.Taken;
            }
        }
        throw new InvalidOperationException($"Account {id} kept changing during an update.");
    }

    // ----- owned rooms (docs/architecture.md §6.3) -----

    // Added before the create or claim that makes the account owner, removed after a permanent
    // delete; the listing drops stale names, so a crash in between never lists a wrong room.
    public Task AddOwnedRoomAsync(long id, string room, CancellationToken ct) =>
        Db.SetAddAsync(keys.UserRooms(id), RedisKeys.Canonical(room)).WaitAsync(ct);

    public Task RemoveOwnedRoomAsync(long id, string room, CancellationToken ct) =>
        Db.SetRemoveAsync(keys.UserRooms(id), RedisKeys.Canonical(room)).WaitAsync(ct);

    // Protocol §3.3: each permanent room the account owns, loaded or not, as a list item with
    // users 0 and no current source.
    public async Task<List<RoomListItem>> OwnedRoomsAsync(long id, CancellationToken ct)
    {
        var names = (await Db.SetMembersAsync(keys.UserRooms(id)).WaitAsync(ct)).ToStringArray();
        var items = new List<RoomListItem>(names.Length);
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            var state = await ReadRoomAsync(name!, ct);
            if (state is null || state.IsTemporary || state.Owner?.Id != id)
            {
                await RemoveOwnedRoomAsync(id, name!, ct);
                continue;
            }
            items.Add(state.FromStorable().ToListItem(users: 0) with { CurrentSource = null });
        }
        return items;
    }

    private async Task<StorableRoom?> ReadRoomAsync(string room, CancellationToken ct)
    {
        var json = await rooms.ReadStateAsync(room, ct);
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(json, StateJsonContext.Default.StorableRoom);
        }
        catch (JsonException)
        {
            // An unreadable record is an operator's problem; it is not listed, but kept in the set.
            return null;
        }
    }

    private static string Serialize(AccountRecord account) =>
        JsonSerializer.Serialize(account, AuthJsonContext.Default.AccountRecord);

    private static AccountRecord? Parse(RedisValue value)
    {
        if (value.IsNullOrEmpty)
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize((string)value!, AuthJsonContext.Default.AccountRecord);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
