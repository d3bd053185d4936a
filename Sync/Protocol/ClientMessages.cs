using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ott.Sync.Protocol;

/// <summary>A client frame (docs/protocol.md §1.3), or the input error it produced.</summary>
public abstract record ClientMessage;

public sealed record AuthMessage(string? Token) : ClientMessage;
public sealed record RequestMessage(RoomRequest Request) : ClientMessage;
public sealed record StatusMessage(string Status) : ClientMessage;
public sealed record NotifyMessage(bool UsernameChanged) : ClientMessage;
public sealed record KickMeMessage(int Code) : ClientMessage;

/// <summary>Ott extension (docs/protocol.md §10): a clock-sync probe; <see cref="T0"/> is the client's send time in its own ms.</summary>
public sealed record TimeSyncMessage(double T0) : ClientMessage;

/// <summary>Ott extension (docs/protocol.md §10): where the client's player is at cluster time <see cref="At"/> (Unix ms).</summary>
public sealed record DriftReportMessage(double Position, double At, bool Buffering, double UncertaintyMs) : ClientMessage;
/// <summary>An input error; <see cref="Action"/> is the frame's action when it had a string one.</summary>
public sealed record InvalidClientMessage(OttFailure Failure, string? Action = null) : ClientMessage;

/// <summary>
/// Parses client frames by hand rather than through polymorphic deserialization, so every input error
/// names its field and unknown fields never fail (docs/protocol.md §1.3, §1.7).
/// </summary>
public static class ClientMessageParser
{
    private static readonly JsonNodeOptions NodeParseOptions = new() { PropertyNameCaseInsensitive = false };
    // Duplicate keys are rejected while parsing: JsonObject would otherwise throw ArgumentException on
    // first access, which is a fault (Unknown) instead of the InvalidMessage a malformed frame gets.
    private static readonly JsonDocumentOptions DocOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };
    public static readonly string[] Statuses = ["none", "ready", "buffering", "error"];

    public static ClientMessage Parse(ReadOnlySpan<byte> utf8)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(utf8, NodeParseOptions, DocOptions);
        }
        catch (JsonException)
        {
            return Invalid("The message is not valid JSON");
        }
        if (node is not JsonObject obj)
        {
            return Invalid("The message must be a JSON object");
        }
        if (!obj.TryGetPropertyValue("action", out var actionNode) || !Zod.IsString(actionNode))
        {
            return Invalid("The message has no string field 'action'");
        }
        var action = actionNode!.GetValue<string>();
        try
        {
            var message = action switch
            {
                "auth" => new AuthMessage(obj["token"] is { } t && Zod.IsString(t) ? t.GetValue<string>() : null),
                "req" => ParseReq(obj),
                "status" => ParseStatus(obj),
                "notify" => new NotifyMessage(obj["message"] is { } m && Zod.IsString(m) && m.GetValue<string>() == "usernameChanged"),
                "kickme" => new KickMeMessage(KickCode(obj["reason"])),
                "ott-time" => ParseTimeSync(obj),
                "ott-report" => ParseDriftReport(obj),
                _ => new InvalidClientMessage(OttFailure.UnknownAction(action)),
            };
            // Keep the action on a malformed req or status: before auth it closes with 4004 (docs/protocol.md §1.2).
            return message is InvalidClientMessage { Action: null } invalid && action is "req" or "status"
                ? invalid with { Action = action }
                : message;
        }
        catch (OttException e)
        {
            return new InvalidClientMessage(e.Failure, action);
        }
    }

    private static int KickCode(JsonNode? reason) =>
        Zod.TryGetInt(reason, out var code) && (code == 1000 || code is >= 3000 and <= 4999) ? code : 4000;

    private static InvalidClientMessage Invalid(string detail) => new(OttFailure.InvalidMessage(detail));

    private static ClientMessage ParseTimeSync(JsonObject obj) =>
        Zod.TryGetDouble(obj["t0"], out var t0) && double.IsFinite(t0)
            ? new TimeSyncMessage(t0)
            : Invalid("Field 't0' must be a number");

    private static ClientMessage ParseDriftReport(JsonObject obj)
    {
        if (!Zod.TryGetDouble(obj["position"], out var position) || !double.IsFinite(position) || position < 0)
        {
            return Invalid("Field 'position' must be a number of seconds, at least 0");
        }
        if (!Zod.TryGetDouble(obj["at"], out var at) || !double.IsFinite(at) || at <= 0)
        {
            return Invalid("Field 'at' must be a cluster time in Unix milliseconds");
        }
        if (!Zod.IsBool(obj["buffering"]))
        {
            return Invalid("Field 'buffering' must be a boolean");
        }
        if (!Zod.TryGetDouble(obj["uncertainty"], out var uncertainty) || !double.IsFinite(uncertainty) || uncertainty < 0)
        {
            return Invalid("Field 'uncertainty' must be a number of milliseconds, at least 0");
        }
        return new DriftReportMessage(position, at, obj["buffering"]!.GetValue<bool>(), uncertainty);
    }

    private static ClientMessage ParseStatus(JsonObject obj)
    {
        var status = obj["status"];
        return Zod.IsString(status) && Statuses.Contains(status!.GetValue<string>())
            ? new StatusMessage(status.GetValue<string>())
            : Invalid("Field 'status' must be one of none, ready, buffering, error");
    }

    private static ClientMessage ParseReq(JsonObject obj)
    {
        if (obj["request"] is not JsonObject request)
        {
            return Invalid("Field 'request' must be an object");
        }
        if (!Zod.TryGetInt(request["type"], out var type) || type is < 0 or > 21)
        {
            return new InvalidClientMessage(OttFailure.UnknownRequestType());
        }
        if (type is 0 or 1 or 10)
        {
            return new InvalidClientMessage(OttFailure.RequestNotAllowed(type));
        }
        return new RequestMessage(ParseRequest((RequestType)type, request));
    }

    /// <summary>Parses the fields of a room request; throws <see cref="OttException"/> with InvalidMessage.</summary>
    public static RoomRequest ParseRequest(RequestType type, JsonObject r)
    {
        RoomRequest request = type switch
        {
            RequestType.Playback => new PlaybackRequest(Bool(r, "state")),
            RequestType.Skip => new SkipRequest(),
            RequestType.Seek => new SeekRequest(Number(r, "value")),
            RequestType.Add => ParseAdd(r),
            RequestType.Remove => new RemoveRequest(VideoIdOf(r, "video")),
            RequestType.Order => new OrderRequest(Int(r, "fromIdx"), Int(r, "toIdx")),
            RequestType.Vote => new VoteRequest(VideoIdOf(r, "video"), Bool(r, "add")),
            RequestType.Promote => new PromoteRequest(String(r, "targetClientId"), RoleOf(r)),
            RequestType.Chat => new ChatRequest(String(r, "text")),
            RequestType.Undo => new UndoRequest(r["event"] as JsonObject ?? throw Field("event", "an object")),
            RequestType.ApplySettings => ParseSettings(r),
            RequestType.PlayNow => new PlayNowRequest(VideoAddOf(r["video"], "video")),
            RequestType.Shuffle => new ShuffleRequest(),
            RequestType.PlaybackSpeed => new PlaybackSpeedRequest(Speed(r)),
            RequestType.RestoreQueue => new RestoreQueueRequest(OptionalBool(r, "discard") ?? false),
            RequestType.Kick => new KickRequest(String(r, "clientId")),
            RequestType.UpdateQueueItem => new UpdateQueueItemRequest(VideoIdOf(r, "video"), UpdateOf(r)),
            RequestType.Ban => ParseBan(r),
            RequestType.Unban => new UnbanRequest(String(r, "banId")),
            _ => throw new OttException(OttFailure.RequestNotAllowed((int)type)),
        };
        return request with { Raw = r };
    }

    private static OttException Field(string name, string expected) =>
        new(OttFailure.InvalidMessage($"Field '{name}' must be {expected}"));

    private static bool Bool(JsonObject r, string name) =>
        Zod.IsBool(r[name]) ? r[name]!.GetValue<bool>() : throw Field(name, "a boolean");

    private static bool? OptionalBool(JsonObject r, string name) =>
        r[name] is null ? null : Zod.IsBool(r[name]) ? r[name]!.GetValue<bool>() : throw Field(name, "a boolean");

    private static double Number(JsonObject r, string name) =>
        Zod.TryGetDouble(r[name], out var d) ? d : throw Field(name, "a finite number");

    private static int Int(JsonObject r, string name) =>
        Zod.TryGetInt(r[name], out var i) ? i : throw Field(name, "an integer");

    private static string String(JsonObject r, string name) =>
        Zod.IsString(r[name]) ? r[name]!.GetValue<string>() : throw Field(name, "a string");

    private static Role RoleOf(JsonObject r) =>
        Zod.TryGetInt(r["role"], out var role) && role is >= 0 and <= 4 ? (Role)role : throw Field("role", "a role from 0 to 4");

    private static double Speed(JsonObject r)
    {
        var speed = Number(r, "speed");
        return speed > 0 ? speed : throw Field("speed", "a number above 0");
    }

    public static VideoId VideoIdOf(JsonObject r, string name)
    {
        if (r[name] is not JsonObject v)
        {
            throw Field(name, "an object {service, id}");
        }
        return new VideoId(StringIn(v, "service", name), StringIn(v, "id", name));
    }

    private static string StringIn(JsonObject v, string field, string parent) =>
        Zod.IsString(v[field]) ? v[field]!.GetValue<string>() : throw Field($"{parent}.{field}", "a string");

    public static VideoAdd VideoAddOf(JsonNode? node, string name)
    {
        if (node is not JsonObject v)
        {
            throw Field(name, "an object {service, id}");
        }
        var service = StringIn(v, "service", name);
        var id = StringIn(v, "id", name);
        return new VideoAdd(service, id, OptionalNumber(v, "startAt", name), OptionalNumber(v, "endAt", name), OptionalString(v, "subtitleUrl", name));
    }

    private static double? OptionalNumber(JsonObject v, string field, string parent) =>
        v[field] is null ? null : Zod.TryGetDouble(v[field], out var d) ? d : throw Field($"{parent}.{field}", "a number");

    private static string? OptionalString(JsonObject v, string field, string parent) =>
        v[field] is null ? null : Zod.IsString(v[field]) ? v[field]!.GetValue<string>() : throw Field($"{parent}.{field}", "a string");

    private static AddRequest ParseAdd(JsonObject r)
    {
        if (r["video"] is not null)
        {
            return new AddRequest(VideoAddOf(r["video"], "video"), null, null);
        }
        if (r["videos"] is not null)
        {
            if (r["videos"] is not JsonArray array)
            {
                throw Field("videos", "an array");
            }
            var list = ImmutableList.CreateBuilder<VideoAdd>();
            for (var i = 0; i < array.Count; i++)
            {
                list.Add(VideoAddOf(array[i], $"videos.{i}"));
            }
            return new AddRequest(null, list.ToImmutable(), null);
        }
        if (r["url"] is not null)
        {
            return new AddRequest(null, null, String(r, "url"));
        }
        throw new OttException(OttFailure.InvalidMessage("An Add needs one of 'video', 'videos' or 'url'"));
    }

    private static BanRequest ParseBan(JsonObject r)
    {
        var clientId = OptionalTopString(r, "clientId");
        var user = OptionalTopString(r, "user");
        if ((clientId is null) == (user is null))
        {
            throw new OttException(OttFailure.InvalidMessage("A Ban needs exactly one of 'clientId' and 'user'"));
        }
        var duration = r["duration"] is null ? 0 : Zod.TryGetDouble(r["duration"], out var d) ? d : throw Field("duration", "a number");
        if (duration is < 0 or > 315_576_000) // at most ten years
        {
            throw Field("duration", "a number of seconds from 0 (until unbanned) to 315576000");
        }
        var reason = OptionalTopString(r, "reason");
        if (reason is { Length: > BanRequest.MaxReasonLength })
        {
            throw Field("reason", $"a string of at most {BanRequest.MaxReasonLength} characters");
        }
        return new BanRequest(clientId, user, OptionalBool(r, "byIp") ?? false, duration, string.IsNullOrEmpty(reason) ? null : reason);
    }

    private static string? OptionalTopString(JsonObject r, string name) =>
        r[name] is null ? null : Zod.IsString(r[name]) ? r[name]!.GetValue<string>() : throw Field(name, "a string");

    private static QueueItemUpdate UpdateOf(JsonObject r)
    {
        if (r["update"] is not JsonObject u)
        {
            throw Field("update", "an object");
        }
        return new QueueItemUpdate(
            u.ContainsKey("startAt"), OptionalNumber(u, "startAt", "update"),
            u.ContainsKey("endAt"), OptionalNumber(u, "endAt", "update"),
            u.ContainsKey("subtitleUrl"), OptionalString(u, "subtitleUrl", "update"));
    }

    private static ApplySettingsRequest ParseSettings(JsonObject r)
    {
        if (r["settings"] is not JsonObject settings)
        {
            throw Field("settings", "an object");
        }
        // Unknown fields are never an InvalidMessage on the socket (docs/protocol.md §1.3), so drop them here.
        var (patch, issues) = SettingsSchema.Parse(settings, strict: false);
        if (patch is null)
        {
            var first = issues[0];
            throw new OttException(OttFailure.InvalidMessage(
                first.Path.IsEmpty ? first.Message : $"Field 'settings.{first.FieldName}': {first.Message}"));
        }
        return new ApplySettingsRequest(patch);
    }
}
