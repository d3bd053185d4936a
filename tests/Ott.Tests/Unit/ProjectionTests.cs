using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

public class ProjectionTests
{
    private static readonly string[] SyncableKeys =
    [
        "name", "title", "description", "isTemporary", "visibility", "queueMode", "currentSource", "queue",
        "isPlaying", "playbackPosition", "playbackSpeed", "grants", "hasOwner", "voteCounts", "videoSegments",
        "autoSkipSegmentCategories", "prevQueue", "restoreQueueBehavior", "enableVoteSkip", "votesToSkip",
    ];

    /// <summary>A state with every private member set, so a leak would show.</summary>
    private static TestRoom BusyRoom()
    {
        var room = new TestRoom(isTemporary: false).WithMedia("v1", "v2", "v3");
        room.State = room.State with
        {
            Owner = new RoomOwner(77, "owner"),
            UserRoles = UserRoles.Empty.Assign(5, Role.Moderator),
            PrevQueue = [TestRoom.Item("old")],
            EnableVoteSkip = true,
            Version = 9,
            AppliedRequests = ImmutableDictionary<string, RequestMark>.Empty.Add("client-1", new RequestMark { Seq = 3, At = 1000, Gaps = [new RequestGap(2, 900)] }),
            VideoSegments = [new Segment { Uuid = "seg", StartTime = 1, EndTime = 2, Category = "intro", VideoDuration = 100 }],
        };
        var a = room.Join("a", 77);
        var b = room.Join("b");
        room.Join("c");
        room.Play(a);
        room.Vote(a, "v2");
        room.Skip(b);
        return room;
    }

    [Fact]
    public void AFullSyncHasExactlyTheTwentyKeysInOrder()
    {
        var room = BusyRoom();

        var sync = room.Json(new FullSyncFrame(room.State));

        Assert.Equal(["action", .. SyncableKeys], sync.Select(kv => kv.Key));
        Assert.Equal("sync", sync["action"]!.GetValue<string>());
    }

    [Fact]
    public void AFullSyncNeverContainsPrivateMembers()
    {
        var room = BusyRoom();

        var text = System.Text.Encoding.UTF8.GetString(SyncFrameWriter.Write(new FullSyncFrame(room.State), room.Now));

        foreach (var name in new[] { "owner", "userRoles", "votes", "version", "appliedRequests", "playbackStart", "users", "v", "recentEvents", "lastActiveAt", "sessionKey", "playbackAnchor" })
        {
            Assert.DoesNotContain($"\"{name}\":", text, StringComparison.OrdinalIgnoreCase);
        }
        Assert.DoesNotContain("\"username\"", text, StringComparison.Ordinal); // not even the owner's name
        Assert.Equal(SyncableKeys, StateJsonContext.Default.SyncableRoom.Properties.Select(p => p.Name));
    }

    [Fact]
    public void AFullSyncCarriesTheLivePositionAndTheDerivedFields()
    {
        var room = new TestRoom();
        room.State = room.State with { IsPlaying = true, PlaybackPosition = 20, PlaybackAnchor = TestRoom.T0, Owner = new RoomOwner(1, "o") };
        room.Elapse(10);

        var sync = room.Json(new FullSyncFrame(room.State));

        Assert.Equal(30, sync["playbackPosition"]!.GetValue<double>(), 2);
        Assert.True(sync["hasOwner"]!.GetValue<bool>());
        Assert.Null(sync["currentSource"]);
        Assert.Null(sync["prevQueue"]);
        Assert.Equal("unlisted", sync["visibility"]!.GetValue<string>());
        Assert.Equal("manual", sync["queueMode"]!.GetValue<string>());
        Assert.Equal(1, sync["restoreQueueBehavior"]!.GetValue<int>());
        Assert.Equal("[]", sync["voteCounts"]!.ToJsonString());
    }

    [Fact]
    public void AFullSyncShowsVotesAsPairsAndSkipVotesAsIds()
    {
        var room = BusyRoom();

        var sync = room.Json(new FullSyncFrame(room.State));

        Assert.Equal("""[["directv2",1]]""", sync["voteCounts"]!.ToJsonString());
        Assert.Single(sync["votesToSkip"]!.AsArray());
    }

    private static string StoredJson(RoomState state) => JsonSerializer.Serialize(state.ToStorable(), StateJsonContext.Default.StorableRoom);

    private static RoomState Reload(string json) => JsonSerializer.Deserialize(json, StateJsonContext.Default.StorableRoom)!.FromStorable();

    [Fact]
    public void AStorageRoundTripKeepsEveryStoredField()
    {
        var start = TestRoom.T0.AddSeconds(-10);
        var state = RoomState.Create("MyRoom", false, start) with
        {
            Title = "T",
            Description = "",
            Visibility = Visibility.Public,
            QueueMode = QueueMode.Vote,
            Owner = new RoomOwner(42, "owner"),
            UserRoles = UserRoles.Empty.Assign(1, Role.Trusted).Assign(2, Role.Moderator).Assign(3, Role.Administrator),
            Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = 1234 }),
            CurrentSource = TestRoom.Item("v1", length: 300) with { SubtitleUrl = "https://s.example/a.vtt", StartAt = 1 },
            Queue = [TestRoom.Item("v2"), TestRoom.Item("v3")],
            PrevQueue = [],
            IsPlaying = true,
            PlaybackPosition = 10,
            PlaybackSpeed = 1.5,
            PlaybackAnchor = start,
            AutoSkipSegmentCategories = [],
            RestoreQueueBehavior = RestoreQueueBehavior.Never,
            EnableVoteSkip = false,
            VideoSegments = [new Segment { Uuid = "s", StartTime = 5, EndTime = 6, Category = "sponsor", VideoDuration = 300 }],
            Version = 12,
            AppliedRequests = ImmutableDictionary<string, RequestMark>.Empty.Add("a", new RequestMark { Seq = 7, At = 5 }),
        };

        var json = StoredJson(state);
        var back = Reload(json);

        Assert.Equal(json, StoredJson(back));
        Assert.Equal("MyRoom", back.Name);
        Assert.Equal(new RoomOwner(42, "owner"), back.Owner);
        Assert.True(back.HasOwner);
        Assert.Equal(state.UserRoles, back.UserRoles);
        Assert.Equal(1234, back.Grants[Role.Unregistered]);
        Assert.Equal(state.Grants, back.Grants);
        Assert.Equal(state.CurrentSource, back.CurrentSource);
        Assert.Equal(state.Queue, back.Queue);
        Assert.Equal(state.PlaybackAnchor, back.PlaybackAnchor);
        Assert.Equal(RestoreQueueBehavior.Never, back.RestoreQueueBehavior);
        Assert.Empty(back.AutoSkipSegmentCategories);
        Assert.NotNull(back.PrevQueue);
        Assert.Equal(state.VideoSegments, back.VideoSegments);
        Assert.Equal(25, back.LivePosition(TestRoom.T0), 3); // 10 + 10 s × 1.5
        Assert.Equal(20, (back with { PlaybackSpeed = 1 }).LivePosition(TestRoom.T0), 3);
    }

    [Fact]
    public void TheStoredRecordHasExactlyTheStorableKeysAndTheOwnerOnlyIdAndUsername()
    {
        var room = BusyRoom();

        var stored = JsonNode.Parse(StoredJson(room.State))!.AsObject();

        Assert.Equal(
            ["v", "name", "title", "description", "isTemporary", "visibility", "queueMode", "currentSource", "queue", "isPlaying",
             "playbackPosition", "playbackSpeed", "grants", "userRoles", "owner", "playbackStart", "videoSegments",
             "autoSkipSegmentCategories", "prevQueue", "restoreQueueBehavior", "enableVoteSkip", "version", "appliedRequests", "bans",
             "waitForBuffering"],
            stored.Select(kv => kv.Key));
        Assert.Equal("""{"id":77,"username":"owner"}""", stored["owner"]!.ToJsonString());
        Assert.Equal("""[[2,[]],[3,[5]],[4,[]]]""", stored["userRoles"]!.ToJsonString());
        Assert.Equal(RoomStateMapper.SchemaVersion, stored["v"]!.GetValue<int>());
        Assert.Equal(9, stored["version"]!.GetValue<long>());
    }

    [Fact]
    public void AStoredCustomMaskIsValidatedOnLoad()
    {
        var json = JsonNode.Parse(StoredJson(RoomState.Create("r", false, TestRoom.T0)))!.AsObject();
        json["grants"] = JsonNode.Parse($"[[0,{1234 | (1 << 12) | (1 << 16)}]]");

        var back = Reload(json.ToJsonString());

        Assert.Equal(1234, back.Grants[Role.Unregistered]);
        Assert.Equal(Permissions.AllBits, back.Grants[Role.Owner]);
    }

    [Fact]
    public void FalsyValuesAreStoredLikeAnyOther()
    {
        var state = RoomState.Create("r", false, TestRoom.T0) with { RestoreQueueBehavior = RestoreQueueBehavior.Never, AutoSkipSegmentCategories = [] };

        var stored = JsonNode.Parse(StoredJson(state))!.AsObject();

        Assert.Equal("", stored["description"]!.GetValue<string>());
        Assert.False(stored["enableVoteSkip"]!.GetValue<bool>());
        Assert.Equal(0, stored["restoreQueueBehavior"]!.GetValue<int>());
        Assert.Equal("[]", stored["autoSkipSegmentCategories"]!.ToJsonString());
        Assert.Equal(RestoreQueueBehavior.Never, Reload(stored.ToJsonString()).RestoreQueueBehavior);
    }

    [Fact]
    public void UnknownStoredPropertiesAreIgnored()
    {
        var json = JsonNode.Parse(StoredJson(RoomState.Create("r", false, TestRoom.T0)))!.AsObject();
        json["futureField"] = 1;

        Assert.Equal("r", Reload(json.ToJsonString()).Name);
    }

    [Fact]
    public void ADeltaSyncHoldsOnlyChangedFieldsAndANullWhenAFieldBecameNull()
    {
        var room = new TestRoom().WithMedia("v1");
        var a = room.Join("a");

        room.Skip(a);
        var delta = room.Delta();

        Assert.True(delta.ContainsKey("currentSource"));
        Assert.Null(delta["currentSource"]);
        Assert.False(delta.ContainsKey("name"));
        Assert.False(delta.ContainsKey("grants"));

        room.Chat(a, "hi");
        Assert.False(SyncFrameWriter.HasDelta(room.Before, room.State));
    }

    [Fact]
    public void ASeekToTheSameBaseIsStillSyncedWithThePosition()
    {
        var room = new TestRoom().WithMedia("v1");
        var a = room.Join("a");
        room.Seek(a, 5);
        room.Elapse(1);

        room.Seek(a, 5);

        Assert.True(SyncFrameWriter.HasDelta(room.Before, room.State));
        Assert.Equal(5, room.Delta()["playbackPosition"]!.GetValue<double>());
    }

    [Fact]
    public void OtherFramesHaveTheirDocumentedShapes()
    {
        var room = new TestRoom();
        var info = new RoomUserInfo("c1", "alice", false, "none", Role.Unregistered);

        Assert.Equal("""{"action":"sync","playbackPosition":3.5}""", room.Json(new PositionSyncFrame(3.5)).ToJsonString());
        Assert.Equal("""{"action":"chat","from":{"id":"c1","name":"alice","isLoggedIn":false,"status":"none","role":0},"text":"hi"}""",
            room.Json(new ChatFrame(info, "hi")).ToJsonString());
        Assert.Equal("""{"action":"user","update":{"kind":"remove","value":"c1"}}""", room.Json(new UserRemoveFrame("c1")).ToJsonString());
        Assert.Equal("""{"action":"you","info":{"id":"c1"}}""", room.Json(new YouFrame("c1")).ToJsonString());
        Assert.Equal("""{"action":"eventcustom","text":"Skipped sponsor"}""", room.Json(new EventCustomFrame("Skipped sponsor")).ToJsonString());
        Assert.Equal("""{"action":"error","error":"Video not found.","name":"VideoNotFoundException"}""",
            room.Json(new ErrorFrame(OttFailure.VideoNotFound())).ToJsonString());
        Assert.Equal("""{"action":"user","update":{"kind":"init","value":[{"id":"c1","name":"alice","isLoggedIn":false,"status":"none","role":0}]}}""",
            room.Json(new UserInitFrame([info])).ToJsonString());
    }

    [Fact]
    public void QueueItemsOmitAbsentFields()
    {
        var json = JsonSerializer.Serialize(new QueueItem { Service = "direct", Id = "x" }, ProtocolJsonContext.Default.QueueItem);

        Assert.Equal("""{"service":"direct","id":"x"}""", json);
    }
}
