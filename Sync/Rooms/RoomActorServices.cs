using Ott.Sync.Cluster;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Rooms;

// What every room actor on a node shares, made once per node by the room manager: the store, the
// clocks and options, logging and metrics, the fan-out, this node's id, and the manager's callbacks
// (fetch a new item's segments; forget an actor that stopped).
internal sealed record RoomActorServices(
    RoomStore Store,
    ClusterClock Clock,
    RoomsOptions Rooms,
    LeaseOptions Lease,
    RoomContext Context,
    ILogger Logger,
    OttMetrics Metrics,
    IRoomFanout Fanout,
    string NodeId,
    Func<FetchSegments, RoomActor, Task>? FetchSegments,
    Action<RoomActor> OnStopped);
