using System.Collections.Immutable;
using System.Text;
using System.Text.Json.Nodes;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

/// <summary>
/// Drives the pure room logic the way the actor does: one command at a time, with a clock the test moves,
/// counter-based event ids and a seeded Random, so every test reads as a sequence of user actions.
/// </summary>
internal sealed class TestRoom
{
    public static readonly DateTimeOffset T0 = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private int _eventIds;
    private int _clients;

    public TestRoom(bool isTemporary = true, bool sponsorBlock = true)
    {
        Ctx = new RoomContext(() => $"ev-{++_eventIds}", new Random(42), sponsorBlock);
        Now = T0;
        State = RoomState.Create("Room1", isTemporary, T0);
    }

    public RoomContext Ctx { get; }
    public DateTimeOffset Now { get; set; }
    public RoomState State { get; set; }
    public RoomState Before { get; private set; } = null!;
    public RoomOutcome Last { get; private set; } = null!;

    /// <summary>Metadata the "resolvers" know; any other video resolves to a plain direct item.</summary>
    public Dictionary<VideoId, QueueItem> Catalog { get; } = [];

    public static QueueItem Item(string id, double? length = null) =>
        new() { Service = "direct", Id = id, Title = "Title " + id, Mime = "video/mp4", Length = length };

    public QueueItem Known(string id) => Catalog.TryGetValue(new VideoId("direct", id), out var item) ? item : Item(id);

    public TestRoom Elapse(double seconds)
    {
        Now = Now.AddSeconds(seconds);
        return this;
    }

    // ----- users -----

    public RoomUser NewUser(string name, long? accountId = null) =>
        new($"client-{++_clients}", $"session-{_clients}", name, accountId is not null, accountId, "none", "node-1");

    public string Join(string name = "user", long? accountId = null)
    {
        var user = NewUser(name, accountId);
        Run(new JoinCommand(user));
        return user.ClientId;
    }

    public RoomUser User(string clientId) => State.Users.Single(u => u.ClientId == clientId);

    public Role RoleOf(string clientId)
    {
        var u = User(clientId);
        return RoomRoles.RoleOf(State, u.IsLoggedIn, u.AccountId);
    }

    public static Actor ActorOf(RoomUser u) => new(u.ClientId, u.SessionKey, u.Name, u.IsLoggedIn, u.AccountId);

    /// <summary>A REST caller whose session has no connection in the room.</summary>
    public static Actor Unconnected(long? accountId = null) =>
        new(null, "session-elsewhere", "rest", accountId is not null, accountId);

    // ----- commands -----

    public RoomOutcome Run(RoomCommand command)
    {
        Before = State;
        Last = RoomTransitions.Apply(State, command, Now, Ctx);
        State = Last.State;
        return Last;
    }

    /// <summary>Parses the request as the socket does (so the event echoes it), then runs it for the client.</summary>
    public RoomOutcome Send(string clientId, string requestJson, MediaLookup? media = null) =>
        Send(ActorOf(User(clientId)), requestJson, media);

    public RoomOutcome Send(Actor actor, string requestJson, MediaLookup? media = null)
    {
        var request = Parse(requestJson);
        return Run(new RequestCommand(actor, request, media ?? LookupFor(request)));
    }

    public static RoomRequest Parse(string requestJson)
    {
        var node = JsonNode.Parse(requestJson)!.AsObject();
        return ClientMessageParser.ParseRequest((RequestType)node["type"]!.GetValue<int>(), node);
    }

    /// <summary>The media lookup the gateway would have done before posting the request.</summary>
    public MediaLookup LookupFor(RoomRequest request)
    {
        IEnumerable<VideoAdd> adds = request switch
        {
            AddRequest { Video: { } v } => [v],
            AddRequest { Videos: { } vs } => vs,
            PlayNowRequest p => [p.Video],
            _ => [],
        };
        var items = adds.Select(a => a.VideoId).Distinct()
            .ToImmutableDictionary(id => id, id => Catalog.TryGetValue(id, out var item) ? item : Item(id.Id) with { Service = id.Service });
        return new MediaLookup { Items = items };
    }

    public RoomOutcome Tick() => Run(new TickCommand());

    // ----- request shorthands -----

    public RoomOutcome Play(string c) => Send(c, """{"type":2,"state":true}""");
    public RoomOutcome Pause(string c) => Send(c, """{"type":2,"state":false}""");
    public RoomOutcome Skip(string c) => Send(c, """{"type":3}""");
    public RoomOutcome Seek(string c, double value) => Send(c, $$"""{"type":4,"value":{{value}}}""");
    public RoomOutcome Speed(string c, double speed) => Send(c, $$"""{"type":16,"speed":{{speed}}}""");
    public static JsonObject Vid(string id) => new() { ["service"] = "direct", ["id"] = id };

    public RoomOutcome Add(string c, string id, string? subtitleUrl = null)
    {
        var video = Vid(id);
        if (subtitleUrl is not null)
        {
            video["subtitleUrl"] = subtitleUrl;
        }
        return Send(c, new JsonObject { ["type"] = 5, ["video"] = video }.ToJsonString());
    }

    public RoomOutcome AddList(string c, params string[] ids) =>
        Send(c, new JsonObject { ["type"] = 5, ["videos"] = new JsonArray([.. ids.Select(id => (JsonNode)Vid(id))]) }.ToJsonString());

    public RoomOutcome Remove(string c, string id) => Send(c, new JsonObject { ["type"] = 6, ["video"] = Vid(id) }.ToJsonString());
    public RoomOutcome Order(string c, int from, int to) => Send(c, $$"""{"type":7,"fromIdx":{{from}},"toIdx":{{to}}}""");
    public RoomOutcome Vote(string c, string id, bool add = true) =>
        Send(c, new JsonObject { ["type"] = 8, ["video"] = Vid(id), ["add"] = add }.ToJsonString());
    public RoomOutcome Promote(string c, string target, int role) => Send(c, $$"""{"type":9,"targetClientId":"{{target}}","role":{{role}}}""");
    public RoomOutcome Chat(string c, string text) => Send(c, $$"""{"type":11,"text":"{{text}}"}""");
    public RoomOutcome Undo(string c, JsonObject ev) => Send(c, new JsonObject { ["type"] = 12, ["event"] = ev.DeepClone() }.ToJsonString());
    public RoomOutcome Settings(string c, string settingsJson) => Send(c, $$"""{"type":13,"settings":{{settingsJson}}}""");
    public RoomOutcome PlayNow(string c, string id, JsonObject? extra = null)
    {
        var video = Vid(id);
        foreach (var (k, v) in extra ?? [])
        {
            video[k] = v?.DeepClone();
        }
        return Send(c, new JsonObject { ["type"] = 14, ["video"] = video }.ToJsonString());
    }

    public RoomOutcome Shuffle(string c) => Send(c, """{"type":15}""");
    public RoomOutcome RestoreQueue(string c, bool? discard = null) =>
        Send(c, discard is null ? """{"type":17}""" : $$"""{"type":17,"discard":{{(discard.Value ? "true" : "false")}}}""");
    public RoomOutcome Kick(string c, string target) => Send(c, $$"""{"type":18,"clientId":"{{target}}"}""");
    public RoomOutcome Edit(string c, string id, string updateJson) =>
        Send(c, new JsonObject { ["type"] = 19, ["video"] = Vid(id), ["update"] = JsonNode.Parse(updateJson) }.ToJsonString());

    // ----- reading the outcome -----

    public IEnumerable<ServerFrame> Broadcasts(RoomOutcome? outcome = null) =>
        (outcome ?? Last).Outputs.OfType<Broadcast>().Select(b => b.Frame);

    public IReadOnlyList<JsonObject> Events(RoomOutcome? outcome = null) =>
        [.. Broadcasts(outcome).OfType<EventFrame>().Select(e => Json(e))];

    public JsonObject SingleEvent(RoomOutcome? outcome = null) => Assert.Single(Events(outcome));

    public JsonObject Json(ServerFrame frame) =>
        JsonNode.Parse(Encoding.UTF8.GetString(SyncFrameWriter.Write(frame, Now)))!.AsObject();

    /// <summary>The delta sync the actor would broadcast for the last command.</summary>
    public JsonObject Delta() => Json(new DeltaSyncFrame(Before, State));

    public string[] QueueIds => [.. State.Queue.Select(i => i.Id)];

    public double Position => State.LivePosition(Now);

    /// <summary>Makes the room's current item <paramref name="id"/> with the given queue after it, directly.</summary>
    public TestRoom WithMedia(string? current, params string[] queue)
    {
        State = State with
        {
            CurrentSource = current is null ? null : Known(current),
            Queue = [.. queue.Select(Known)],
        };
        return this;
    }
}

internal static class OutcomeAssertions
{
    public static void Fails(this RoomOutcome outcome, string name, string? message = null)
    {
        Assert.NotNull(outcome.Error);
        Assert.Equal(name, outcome.Error!.Name);
        if (message is not null)
        {
            Assert.Equal(message, outcome.Error.Message);
        }
        Assert.Empty(outcome.Outputs);
    }

    public static void Succeeds(this RoomOutcome outcome) => Assert.Null(outcome.Error?.Message);
}
