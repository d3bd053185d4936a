using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>Who did an audited action: the name shown, the account's username when logged in, the room role then.</summary>
public sealed record AuditActor(
    string Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? User,
    int Role);

public sealed record AuditTarget(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? User);

/// <summary>
/// One entry of a room's audit log (docs/protocol.md §10). Stored without its id, which is the entry's sequence
/// number in the room's log (docs/architecture.md §6.3) and is added when the log is read.
/// </summary>
public sealed record AuditEntry(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Id,
    long At,
    AuditActor Actor,
    string Action,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] AuditTarget? Target,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonObject? Details);

/// <summary>The audit actions (docs/protocol.md §10).</summary>
public static class AuditActions
{
    public const string Kick = "kick";
    public const string Ban = "ban";
    public const string Unban = "unban";
    public const string Promote = "promote";
    public const string Demote = "demote";
    public const string Settings = "settings";
    public const string Permissions = "permissions";
    public const string Claim = "claim";
    public const string ClearQueue = "clear-queue";
}

/// <summary>
/// An audit entry of a transition. Not released to sockets: the actor takes it out of the batch and writes it in the
/// same fenced script as the batch's state (docs/architecture.md §7.5), so an acknowledged action has its entry.
/// </summary>
public sealed record Audited(AuditEntry Entry) : RoomOutput;
