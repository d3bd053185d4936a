using System.Text.Json.Serialization;

namespace Ott.Sync.Rooms;

// What only the rooms' own cross-node commands carry; the same options as every other context
// (see ProtocolJsonContext).
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(Actor))]
[JsonSerializable(typeof(AuditEntry))]
internal sealed partial class RoomsJsonContext : JsonSerializerContext;
