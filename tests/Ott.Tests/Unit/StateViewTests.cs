using System.Buffers;
using System.Text;
using System.Text.Json;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

// The views RoomStateMapper derives besides the stored and synced records: the list item, the REST room
// response and the cross-node snapshot, each as the hand-written code built it before.
public class StateViewTests
{
    private static TestRoom BusyRoom()
    {
        var room = new TestRoom(isTemporary: false).WithMedia("v1", "v2");
        room.State = room.State with { Owner = new RoomOwner(77, "owner"), Title = "T", Description = "D", Visibility = Visibility.Public };
        var a = room.Join("a", 77);
        room.Join("b");
        room.Play(a);
        return room;
    }

    [Fact]
    public void AListItemCarriesTheListedFieldsAndTheGivenUserCount()
    {
        var s = BusyRoom().State;

        Assert.Equal(new RoomListItem(s.Name, s.Title, s.Description, s.IsTemporary, s.Visibility, s.QueueMode, s.CurrentSource, 5),
            s.ToListItem(5));
    }

    [Fact]
    public void TheRestResponseGivesEachUserTheRoleTheRoomGivesThem()
    {
        var s = BusyRoom().State;

        var response = s.ToRoomResponse();

        Assert.Equal([Role.Owner, Role.Unregistered], response.Users.Select(u => u.Role));
        Assert.Equal(
            new RoomResponse(s.Name, s.Title, s.Description, s.IsTemporary, s.Visibility, s.QueueMode, response.Users, s.Grants,
                s.AutoSkipSegmentCategories, s.RestoreQueueBehavior, s.EnableVoteSkip, s.Queue, s.HasOwner),
            response);
    }

    [Fact]
    public void ASnapshotReplyIsTheStoredRecordAndTheUsersBesideItsStatus()
    {
        var s = BusyRoom().State;
        var expected = "{\"status\":\"ok\",\"state\":" + JsonSerializer.Serialize(s.ToStorable(), StateJsonContext.Default.StorableRoom)
            + ",\"users\":" + JsonSerializer.Serialize([.. s.Users], StateJsonContext.Default.ListRoomUser) + "}";

        var reply = Write(w => CommandCodec.Snapshot(w, s));

        Assert.Equal(expected, reply);
    }

    [Fact]
    public void ASnapshotReadsBackAsTheStoredStateWithItsUsers()
    {
        var s = BusyRoom().State;
        using var reply = JsonDocument.Parse(Write(w => CommandCodec.Snapshot(w, s)));

        var back = CommandCodec.ReadSnapshot(reply.RootElement);

        Assert.Equal(s.Users, back.Users);
        Assert.Equal(JsonSerializer.Serialize(s.ToStorable(), StateJsonContext.Default.StorableRoom),
            JsonSerializer.Serialize(back.ToStorable(), StateJsonContext.Default.StorableRoom));
    }

    private static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
