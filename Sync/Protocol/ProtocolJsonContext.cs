using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Ott.Sync.Protocol;

// Protocol's own source-generated context: only the wire shapes this folder defines. Each folder
// serializes its own types with its own context, and the HTTP JSON options chain them all
// (AddOttEndpoints). Every context carries these same options, so a type reads and writes the same
// bytes whichever context serves it. Null handling is decided per type with
// [JsonIgnore(Condition = WhenWritingNull)], never globally: several OTT shapes send an explicit
// null (for example `email: null`).
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(QueueItem))]
[JsonSerializable(typeof(List<QueueItem>))]
[JsonSerializable(typeof(Segment))]
[JsonSerializable(typeof(Grants))]
[JsonSerializable(typeof(RoomUserInfo))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(OttFailure))]
internal sealed partial class ProtocolJsonContext : JsonSerializerContext;
