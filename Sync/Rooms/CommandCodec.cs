using System.Collections.Immutable;
using System.Text.Json;
using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>Asks the owner for the room's current state (REST reads on a gateway).</summary>
public sealed record SnapshotCommand : RoomCommand;

/// <summary>Asks the owner to unload the room (admin unload, permanent delete).</summary>
internal sealed record UnloadRoomCommand(UnloadReason Reason) : RoomCommand;

/// <summary>
/// Room commands as they travel to a remote owner in a <c>cmd</c> envelope (docs/architecture.md §9.2). A room request
/// travels as the client sent it and is parsed again by the owner, with the media the entry node looked up (§5.4).
/// </summary>
internal static class CommandCodec
{
    public static void Write(Utf8JsonWriter w, RoomCommand command)
    {
        w.WriteStartObject();
        switch (command)
        {
            case RequestCommand r:
                w.WriteString("k", "req");
                WriteActor(w, r.Actor);
                w.WriteNumber("type", (int)r.Request.Type);
                w.WritePropertyName("raw");
                JsonSerializer.Serialize(w, r.Request.Raw, ProtocolJsonContext.Default.JsonObject);
                if (r.Media is { } media)
                {
                    w.WritePropertyName("media");
                    WriteMedia(w, media);
                }
                if (r.Request is BanRequest ban)
                {
                    // What the entry node added to a ban (its id, the looked-up account); never from the client's raw request.
                    if (ban.BanId is { } banId) w.WriteString("banId", banId);
                    if (ban.TargetAccountId is { } account) w.WriteNumber("banAccount", account);
                    if (ban.User is { } user) w.WriteString("banUser", user);
                }
                break;
            case ClaimCommand c:
                w.WriteString("k", "claim");
                WriteActor(w, c.Actor);
                break;
            case JoinCommand j:
                w.WriteString("k", "join");
                w.WritePropertyName("user");
                JsonSerializer.Serialize(w, j.User, StateJsonContext.Default.RoomUser);
                break;
            case RejoinCommand r:
                w.WriteString("k", "rejoin");
                w.WriteString("gateway", r.GatewayNodeId);
                w.WritePropertyName("users");
                JsonSerializer.Serialize(w, [.. r.Users], StateJsonContext.Default.ListRoomUser);
                break;
            case LeaveCommand l:
                w.WriteString("k", "leave");
                w.WriteString("client", l.ClientId);
                break;
            case StatusCommand s:
                w.WriteString("k", "status");
                w.WriteString("client", s.ClientId);
                w.WriteString("status", s.Status);
                break;
            case UpdateUserCommand u:
                w.WriteString("k", "update_user");
                w.WriteString("client", u.ClientId);
                w.WriteString("name", u.Name);
                w.WriteBoolean("isLoggedIn", u.IsLoggedIn);
                if (u.AccountId is { } id) w.WriteNumber("accountId", id);
                break;
            case SnapshotCommand:
                w.WriteString("k", "snapshot");
                break;
            case UnloadRoomCommand u:
                w.WriteString("k", "unload");
                w.WriteString("reason", u.Reason.ToString());
                break;
            case SeedPrevQueueCommand seed:
                w.WriteString("k", "seed_prev_queue");
                w.WritePropertyName("items");
                JsonSerializer.Serialize(w, [.. seed.Items], ProtocolJsonContext.Default.ListQueueItem);
                break;
            case DisconnectSessionCommand d:
                w.WriteString("k", "disconnect_session");
                w.WriteString("sessionKey", d.SessionKey);
                w.WriteNumber("code", d.Code);
                w.WriteString("reason", d.Reason);
                break;
            default:
                throw new InvalidOperationException($"{command.GetType().Name} is never forwarded");
        }
        w.WriteEndObject();
    }

    /// <summary>Reads a forwarded command; throws <see cref="OttException"/> or <see cref="JsonException"/> on a bad payload.</summary>
    public static RoomCommand Read(JsonElement p, RequestId? requestId)
    {
        RoomCommand command = p.GetProperty("k").GetString() switch
        {
            "req" => new RequestCommand(ReadActor(p),
                WithEntryFields(ClientMessageParser.ParseRequest((RequestType)p.GetProperty("type").GetInt32(),
                    JsonSerializer.Deserialize(p.GetProperty("raw"), ProtocolJsonContext.Default.JsonObject) ?? []), p),
                p.TryGetProperty("media", out var media) ? ReadMedia(media) : null),
            "claim" => new ClaimCommand(ReadActor(p)),
            "join" => new JoinCommand(p.GetProperty("user").Deserialize(StateJsonContext.Default.RoomUser)!),
            "rejoin" => new RejoinCommand(p.GetProperty("gateway").GetString()!,
                [.. p.GetProperty("users").Deserialize(StateJsonContext.Default.ListRoomUser)!]),
            "leave" => new LeaveCommand(p.GetProperty("client").GetString()!),
            "status" => new StatusCommand(p.GetProperty("client").GetString()!, p.GetProperty("status").GetString()!),
            "update_user" => new UpdateUserCommand(p.GetProperty("client").GetString()!, p.GetProperty("name").GetString()!,
                p.GetProperty("isLoggedIn").GetBoolean(), p.TryGetProperty("accountId", out var id) ? id.GetInt64() : null),
            "snapshot" => new SnapshotCommand(),
            "unload" => new UnloadRoomCommand(Enum.Parse<UnloadReason>(p.GetProperty("reason").GetString()!)),
            "seed_prev_queue" => new SeedPrevQueueCommand([.. p.GetProperty("items").Deserialize(ProtocolJsonContext.Default.ListQueueItem)!]),
            "disconnect_session" => new DisconnectSessionCommand(p.GetProperty("sessionKey").GetString()!, p.GetProperty("code").GetInt32(),
                p.GetProperty("reason").GetString()!),
            var k => throw new JsonException($"unknown command kind {k}"),
        };
        return command with { Id = requestId };
    }

    private static RoomRequest WithEntryFields(RoomRequest request, JsonElement p) => request is BanRequest ban
        ? ban with
        {
            BanId = p.TryGetProperty("banId", out var id) ? id.GetString() : null,
            TargetAccountId = p.TryGetProperty("banAccount", out var account) ? account.GetInt64() : null,
            User = p.TryGetProperty("banUser", out var user) ? user.GetString() : ban.User,
        }
        : request;

    // The entry node's media lookup travels with the request, so the owner never looks media up (§5.4).
    private static void WriteMedia(Utf8JsonWriter w, MediaLookup media)
    {
        w.WriteStartObject();
        if (media.FromUrl is { } fromUrl)
        {
            w.WritePropertyName("fromUrl");
            WriteId(w, fromUrl);
        }
        if (media.UrlFailure is { } urlFailure)
        {
            w.WritePropertyName("urlFailure");
            JsonSerializer.Serialize(w, urlFailure, ProtocolJsonContext.Default.OttFailure);
        }
        w.WriteStartArray("items");
        foreach (var (id, item) in media.Items)
        {
            w.WriteStartObject();
            w.WritePropertyName("id");
            WriteId(w, id);
            w.WritePropertyName("item");
            JsonSerializer.Serialize(w, item, ProtocolJsonContext.Default.QueueItem);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("failures");
        foreach (var (id, failure) in media.Failures)
        {
            w.WriteStartObject();
            w.WritePropertyName("id");
            WriteId(w, id);
            w.WritePropertyName("error");
            JsonSerializer.Serialize(w, failure, ProtocolJsonContext.Default.OttFailure);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static MediaLookup ReadMedia(JsonElement m)
    {
        var items = ImmutableDictionary.CreateBuilder<VideoId, QueueItem>();
        foreach (var e in m.GetProperty("items").EnumerateArray())
        {
            items[ReadId(e.GetProperty("id"))] = e.GetProperty("item").Deserialize(ProtocolJsonContext.Default.QueueItem)!;
        }
        var failures = ImmutableDictionary.CreateBuilder<VideoId, OttFailure>();
        foreach (var e in m.GetProperty("failures").EnumerateArray())
        {
            failures[ReadId(e.GetProperty("id"))] = e.GetProperty("error").Deserialize(ProtocolJsonContext.Default.OttFailure)!;
        }
        return new MediaLookup
        {
            FromUrl = m.TryGetProperty("fromUrl", out var u) ? ReadId(u) : null,
            UrlFailure = m.TryGetProperty("urlFailure", out var f) ? f.Deserialize(ProtocolJsonContext.Default.OttFailure) : null,
            Items = items.ToImmutable(),
            Failures = failures.ToImmutable(),
        };
    }

    private static void WriteId(Utf8JsonWriter w, VideoId id)
    {
        w.WriteStartObject();
        w.WriteString("service", id.Service);
        w.WriteString("id", id.Id);
        w.WriteEndObject();
    }

    private static VideoId ReadId(JsonElement e) => new(e.GetProperty("service").GetString()!, e.GetProperty("id").GetString()!);

    private static void WriteActor(Utf8JsonWriter w, Actor actor)
    {
        w.WritePropertyName("actor");
        JsonSerializer.Serialize(w, actor, RoomsJsonContext.Default.Actor);
    }

    private static Actor ReadActor(JsonElement p) => p.GetProperty("actor").Deserialize(RoomsJsonContext.Default.Actor)!;

    // ----- replies -----

    /// <summary>Every reply is <c>{"status": …}</c> plus the fields its status carries.</summary>
    private static void Reply(Utf8JsonWriter w, string status, Action<Utf8JsonWriter>? fields = null)
    {
        w.WriteStartObject();
        w.WriteString("status", status);
        fields?.Invoke(w);
        w.WriteEndObject();
    }

    public static void Ok(Utf8JsonWriter w) => Reply(w, "ok");

    public static void Error(Utf8JsonWriter w, OttFailure failure) => Reply(w, "error", x =>
    {
        x.WritePropertyName("error");
        JsonSerializer.Serialize(x, failure, ProtocolJsonContext.Default.OttFailure);
    });

    public static void NotOwner(Utf8JsonWriter w, string? holder) => Reply(w, "not_owner", x =>
    {
        if (holder is not null) x.WriteString("holder", holder);
    });

    public static void NotFound(Utf8JsonWriter w) => Reply(w, "not_found");

    public static void Activated(Utf8JsonWriter w, long epoch) => Reply(w, "ok", x => x.WriteNumber("epoch", epoch));

    // The snapshot's members sit beside "status" in the reply: {"status":"ok","state":{…},"users":[…]}.
    public static void Snapshot(Utf8JsonWriter w, RoomState state) => Reply(w, "ok", x =>
    {
        var snapshot = state.ToSnapshot();
        foreach (var p in StateJsonContext.Default.RoomSnapshot.Properties)
        {
            x.WritePropertyName(p.Name);
            JsonSerializer.Serialize(x, p.Get!(snapshot), StateJsonContext.Default.GetTypeInfo(p.PropertyType)!);
        }
    });

    public static string Status(JsonElement reply) =>
        reply.ValueKind == JsonValueKind.Object && reply.TryGetProperty("status", out var s) ? s.GetString() ?? "" : "";

    public static OttFailure ReadError(JsonElement reply) =>
        reply.GetProperty("error").Deserialize(ProtocolJsonContext.Default.OttFailure) ?? OttFailure.Unknown();

    public static RoomState ReadSnapshot(JsonElement reply)
    {
        var snapshot = reply.Deserialize(StateJsonContext.Default.RoomSnapshot);
        if (snapshot?.State is null)
        {
            throw new JsonException("A snapshot reply without its state.");
        }
        // A null user list reads as an empty room.
        return (snapshot with { Users = snapshot.Users ?? [] }).FromSnapshot();
    }
}
