using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ott.Sync.Protocol;

// Wire shapes shared by the room state, the stored record and client frames (docs/protocol.md §2).

[JsonConverter(typeof(JsonStringEnumConverter<Visibility>))]
public enum Visibility
{
    [JsonStringEnumMemberName("public")] Public,
    [JsonStringEnumMemberName("unlisted")] Unlisted,
    [JsonStringEnumMemberName("private")] Private,
}

[JsonConverter(typeof(JsonStringEnumConverter<QueueMode>))]
public enum QueueMode
{
    [JsonStringEnumMemberName("manual")] Manual,
    [JsonStringEnumMemberName("vote")] Vote,
    [JsonStringEnumMemberName("loop")] Loop,
    [JsonStringEnumMemberName("dj")] Dj,
}

public enum RestoreQueueBehavior
{
    Never = 0,
    Prompt = 1,
    Always = 2,
}

public enum Role
{
    Owner = -1,
    Unregistered = 0,
    Registered = 1,
    Trusted = 2,
    Moderator = 3,
    Administrator = 4,
}

/// <summary>A queue item or preview video. Identity is (Service, Id).</summary>
public sealed record QueueItem
{
    [JsonPropertyName("service")] public required string Service { get; init; }
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("title"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Title { get; init; }
    [JsonPropertyName("description"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Description { get; init; }
    [JsonPropertyName("thumbnail"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Thumbnail { get; init; }
    [JsonPropertyName("length"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? Length { get; init; }
    [JsonPropertyName("mime"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Mime { get; init; }
    [JsonPropertyName("highlight"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public bool? Highlight { get; init; }
    [JsonPropertyName("hls_url"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? HlsUrl { get; init; }
    [JsonPropertyName("dash_url"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? DashUrl { get; init; }
    [JsonPropertyName("src_url"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SrcUrl { get; init; }
    [JsonPropertyName("subtitleUrl"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SubtitleUrl { get; init; }
    [JsonPropertyName("startAt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? StartAt { get; init; }
    [JsonPropertyName("endAt"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? EndAt { get; init; }

    [JsonIgnore] public string Key => Service + Id;

    public bool Is(VideoId id) => Service == id.Service && Id == id.Id;
}

public readonly record struct VideoId(string Service, string Id)
{
    public string Key => Service + Id;
}

public sealed record Segment
{
    [JsonPropertyName("UUID")] public required string Uuid { get; init; }
    [JsonPropertyName("startTime")] public double StartTime { get; init; }
    [JsonPropertyName("endTime")] public double EndTime { get; init; }
    [JsonPropertyName("category")] public required string Category { get; init; }
    [JsonPropertyName("videoDuration")] public double VideoDuration { get; init; }
}

public sealed record RoomUserInfo(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("isLoggedIn")] bool IsLoggedIn,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("role")] Role Role);

public sealed record RoomOwner(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("username")] string Username);

/// <summary>SponsorBlock categories in canonical order (docs/protocol.md §2).</summary>
public static class SegmentCategories
{
    public static readonly ImmutableList<string> All =
        ["sponsor", "intro", "outro", "interaction", "selfpromo", "music_offtopic", "preview"];

    public static bool IsValid(string category) => All.Contains(category);

    /// <summary>Deduplicated, canonical order (docs/protocol.md §6.6).</summary>
    public static ImmutableList<string> Normalize(IEnumerable<string> categories)
    {
        var set = categories.ToHashSet(StringComparer.Ordinal);
        return All.Where(set.Contains).ToImmutableList();
    }
}

/// <summary>Role masks, always held cumulatively (docs/protocol.md §7.2). Serialised as [[role, mask], …].</summary>
[JsonConverter(typeof(GrantsConverter))]
public sealed class Grants : IEquatable<Grants>
{
    public static readonly Role[] WireOrder =
        [Role.Unregistered, Role.Registered, Role.Trusted, Role.Moderator, Role.Administrator, Role.Owner];

    private readonly int[] _masks; // index: role + 1 (Owner -1 → 0)

    private Grants(int[] masks) => _masks = masks;

    public int this[Role role] => _masks[(int)role + 1];

    public static Grants Default { get; } = FromOwnMasks(new Dictionary<Role, int>
    {
        [Role.Unregistered] = Permissions.Mask(
            "playback", "manage-queue", "chat", "configure-room.set-title", "configure-room.set-description",
            "configure-room.set-visibility", "configure-room.set-queue-mode", "configure-room.other"),
        [Role.Registered] = 0,
        [Role.Trusted] = 0,
        [Role.Moderator] = Permissions.Mask(
            "manage-users.promote-trusted-user", "manage-users.demote-trusted-user", "manage-users.kick",
            "manage-users.ban"),
    });

    /// <summary>Builds grants from per-role masks: validated, inherited, admin and owner all bits.</summary>
    public static Grants FromOwnMasks(IReadOnlyDictionary<Role, int> own)
    {
        var masks = new int[6];
        var running = 0;
        for (var r = Role.Unregistered; r <= Role.Moderator; r++)
        {
            var mask = own.TryGetValue(r, out var m) ? m & Permissions.ValidationMask(r) : 0;
            running |= mask;
            masks[(int)r + 1] = running;
        }
        masks[(int)Role.Administrator + 1] = Permissions.AllBits;
        masks[(int)Role.Owner + 1] = Permissions.AllBits;
        return new Grants(masks);
    }

    /// <summary>Sets the masks of some roles (already filtered), keeping the others' cumulative masks.</summary>
    public Grants With(IReadOnlyDictionary<Role, int> changes)
    {
        var own = new Dictionary<Role, int>();
        for (var r = Role.Unregistered; r <= Role.Moderator; r++)
        {
            own[r] = changes.TryGetValue(r, out var m) ? m : this[r];
        }
        return FromOwnMasks(own);
    }

    public IEnumerable<(Role Role, int Mask)> Pairs() => WireOrder.Select(r => (r, this[r]));

    public bool Equals(Grants? other) => other is not null && _masks.AsSpan().SequenceEqual(other._masks);
    public override bool Equals(object? obj) => Equals(obj as Grants);
    public override int GetHashCode() => HashCode.Combine(_masks[1], _masks[2], _masks[3], _masks[4]);
}

internal sealed class GrantsConverter : JsonConverter<Grants>
{
    public override Grants Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var own = new Dictionary<Role, int>();
        foreach (var (role, mask) in PairReader.ReadIntPairs(ref reader))
        {
            if (role is >= 0 and <= 3)
            {
                own[(Role)role] = mask;
            }
        }
        return Grants.FromOwnMasks(own);
    }

    public override void Write(Utf8JsonWriter writer, Grants value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var (role, mask) in value.Pairs())
        {
            writer.WriteStartArray();
            writer.WriteNumberValue((int)role);
            writer.WriteNumberValue(mask);
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
    }
}

/// <summary>Trusted, Moderator and Administrator account sets (docs/protocol.md §7.4). Serialised as [[2,[…]],[3,[…]],[4,[…]]].</summary>
[JsonConverter(typeof(UserRolesConverter))]
public sealed class UserRoles : IEquatable<UserRoles>
{
    public static UserRoles Empty { get; } = new([], [], []);

    public UserRoles(ImmutableSortedSet<long> trusted, ImmutableSortedSet<long> moderator, ImmutableSortedSet<long> administrator)
    {
        Trusted = trusted;
        Moderator = moderator;
        Administrator = administrator;
    }

    public ImmutableSortedSet<long> Trusted { get; }
    public ImmutableSortedSet<long> Moderator { get; }
    public ImmutableSortedSet<long> Administrator { get; }

    public ImmutableSortedSet<long> this[Role role] => role switch
    {
        Role.Trusted => Trusted,
        Role.Moderator => Moderator,
        Role.Administrator => Administrator,
        _ => [],
    };

    /// <summary>Removes the account from all three sets, then adds it to <paramref name="role"/>'s if Trusted or higher.</summary>
    public UserRoles Assign(long accountId, Role role) => new(
        role == Role.Trusted ? Trusted.Add(accountId) : Trusted.Remove(accountId),
        role == Role.Moderator ? Moderator.Add(accountId) : Moderator.Remove(accountId),
        role == Role.Administrator ? Administrator.Add(accountId) : Administrator.Remove(accountId));

    public bool Equals(UserRoles? other) =>
        other is not null && Trusted.SetEquals(other.Trusted) && Moderator.SetEquals(other.Moderator)
        && Administrator.SetEquals(other.Administrator);

    public override bool Equals(object? obj) => Equals(obj as UserRoles);
    public override int GetHashCode() => HashCode.Combine(Trusted.Count, Moderator.Count, Administrator.Count);
}

internal sealed class UserRolesConverter : JsonConverter<UserRoles>
{
    public override UserRoles Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var sets = new Dictionary<int, ImmutableSortedSet<long>>();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("userRoles must be an array of pairs");
        }
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("userRoles pair expected");
            reader.Read();
            var role = reader.GetInt32();
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("userRoles ids expected");
            var ids = ImmutableSortedSet.CreateBuilder<long>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                ids.Add(reader.GetInt64());
            }
            sets[role] = ids.ToImmutable();
            reader.Read(); // end of pair
        }
        return new UserRoles(
            sets.GetValueOrDefault(2, []), sets.GetValueOrDefault(3, []), sets.GetValueOrDefault(4, []));
    }

    public override void Write(Utf8JsonWriter writer, UserRoles value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var role in new[] { Role.Trusted, Role.Moderator, Role.Administrator })
        {
            writer.WriteStartArray();
            writer.WriteNumberValue((int)role);
            writer.WriteStartArray();
            foreach (var id in value[role])
            {
                writer.WriteNumberValue(id);
            }
            writer.WriteEndArray();
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
    }
}

/// <summary>Queue vote counts keyed by service+id, serialised as [[key, count], …] (docs/protocol.md §2, §6.6).</summary>
[JsonConverter(typeof(VoteCountsConverter))]
public sealed class VoteCounts : IEquatable<VoteCounts>
{
    public static VoteCounts Empty { get; } = new(ImmutableSortedDictionary<string, int>.Empty.WithComparers(StringComparer.Ordinal));

    public VoteCounts(ImmutableSortedDictionary<string, int> counts) => Counts = counts;

    public ImmutableSortedDictionary<string, int> Counts { get; }

    public int this[string key] => Counts.GetValueOrDefault(key);

    public static VoteCounts From(ImmutableDictionary<string, ImmutableHashSet<string>> votes) =>
        votes.IsEmpty ? Empty : new(votes.Where(v => v.Value.Count > 0)
            .ToImmutableSortedDictionary(v => v.Key, v => v.Value.Count, StringComparer.Ordinal));

    public bool Equals(VoteCounts? other) =>
        other is not null && Counts.Count == other.Counts.Count
        && Counts.All(kv => other.Counts.TryGetValue(kv.Key, out var c) && c == kv.Value);

    public override bool Equals(object? obj) => Equals(obj as VoteCounts);
    public override int GetHashCode() => Counts.Count;
}

internal sealed class VoteCountsConverter : JsonConverter<VoteCounts>
{
    public override VoteCounts Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var builder = ImmutableSortedDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("voteCounts must be pairs");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            reader.Read();
            var key = reader.GetString() ?? "";
            reader.Read();
            builder[key] = reader.GetInt32();
            reader.Read();
        }
        return new VoteCounts(builder.ToImmutable());
    }

    public override void Write(Utf8JsonWriter writer, VoteCounts value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var (key, count) in value.Counts)
        {
            writer.WriteStartArray();
            writer.WriteStringValue(key);
            writer.WriteNumberValue(count);
            writer.WriteEndArray();
        }
        writer.WriteEndArray();
    }
}

internal static class PairReader
{
    public static List<(int, int)> ReadIntPairs(ref Utf8JsonReader reader)
    {
        var pairs = new List<(int, int)>();
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("pairs expected");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("pair expected");
            reader.Read();
            var a = reader.GetInt32();
            reader.Read();
            var b = reader.GetInt32();
            reader.Read();
            if (reader.TokenType != JsonTokenType.EndArray) throw new JsonException("pair of two expected");
            pairs.Add((a, b));
        }
        return pairs;
    }
}
