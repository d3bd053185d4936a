using Ott.Sync.Cluster;
using Ott.Sync.Rooms;

namespace Ott.Sync.Connections;

/// <summary>
/// Where an owner's outputs go (docs/architecture.md §5.2): to this node's clients in-process, and on the room channel
/// to every other node with clients in the room.
/// </summary>
internal sealed class RoomFanout(GatewayRooms gateways, NodeBus bus) : IRoomFanout
{
    public void Deliver(RoomDelivery delivery, bool publish)
    {
        gateways.Deliver(delivery);
        if (publish)
        {
            bus.PublishRoom(delivery.Room, new BusHeader(BusType.Event) { Epoch = delivery.Epoch, Seq = delivery.Seq }, delivery.WritePayload);
        }
    }

    public void OwnerChanged(string room, long epoch) =>
        bus.PublishRoom(room, new BusHeader(BusType.OwnerChanged) { Epoch = epoch }, null);

    public void OwnerLost(string room, long epoch)
    {
        bus.PublishRoom(room, new BusHeader(BusType.OwnerLost) { Epoch = epoch }, null);
        gateways.OwnerLost(room);
    }

    public void Unloaded(string room, long epoch, int code, string reason)
    {
        bus.PublishRoom(room, new BusHeader(BusType.RoomUnloaded) { Epoch = epoch }, w => GatewayRooms.WriteUnloaded(w, code, reason));
        gateways.CloseRoom(room, code, reason);
    }
}
