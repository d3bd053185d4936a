using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;

namespace Ott.Sync.Auth;

// Stored at {p}auth:<sha256(token)> exactly as OTT shapes it (protocol §3.1):
// {"isLoggedIn":false,"username":"<name>"} or {"isLoggedIn":true,"user_id":<id>}.
internal sealed record Session(
    bool IsLoggedIn,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Username,
    [property: JsonPropertyName("user_id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? UserId)
{
    public static Session Anonymous(string username) => new(false, username, null);

    public static Session LoggedIn(long userId) => new(true, null, userId);

    [JsonIgnore]
    [MemberNotNullWhen(true, nameof(Username))]
    public bool IsAnonymous => !IsLoggedIn && Username is not null;

    // A record that is neither shape (hand-edited, or written by a future version) is ignored.
    [JsonIgnore]
    public bool IsWellFormed => IsLoggedIn ? UserId is not null : Username is not null;
}
