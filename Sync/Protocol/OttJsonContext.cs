using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Ott.Sync.Protocol;

/// <summary>Every type that crosses a wire (house style #5). Registered first in the resolver chain.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(StorableRoom))]
[JsonSerializable(typeof(SyncableRoom))]
[JsonSerializable(typeof(RoomUserInfo))]
[JsonSerializable(typeof(QueueItem))]
[JsonSerializable(typeof(List<QueueItem>))]
[JsonSerializable(typeof(Segment))]
[JsonSerializable(typeof(Ott.Sync.Rooms.RoomListItem))]
[JsonSerializable(typeof(List<Ott.Sync.Rooms.RoomListItem>))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonNode))]
internal sealed partial class OttJsonContext : JsonSerializerContext;
